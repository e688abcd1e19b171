"""Server-initiated session signals: re-authorize (RAR) or abort (ASR) live sessions.

A top-up, an offer purchase or a subscriber's termination can happen in any
ocs process, while the gateway's Diameter connection is held by one of them.
So the process that changed the balance publishes the signal on Redis
(``ocs:signals``) and every process whose Diameter server can reach the
session's gateway sends the request (RFC 8506 §5.5 for RAR, RFC 6733 §8.5 for
ASR). The publishing process hears its own message too: one path for all.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable
from typing import Protocol

import msgpack

from ocs.balance.keys import slot_of
from ocs.balance.model import LiveSession
from ocs.balance.store import BalanceStore
from ocs.charging.metrics import SIGNALS

log = logging.getLogger("ocs.charging")

CHANNEL = "ocs:signals"


class Signal(enum.StrEnum):
    REAUTHORIZE = "rar"
    ABORT = "asr"


class SessionSender(Protocol):
    """What can deliver a signal to a gateway (the Gy application over Diameter, the Nchf
    notifier over HTTP/2)."""

    def can_reach(self, origin_host: str, origin_realm: str) -> bool: ...

    async def send(
        self, signal: Signal, session_id: str, origin_host: str, origin_realm: str
    ) -> int | None:
        """Send the request and return the answer's result (Result-Code, HTTP status); None
        when another process delivers this signal and nothing was sent from here (every
        process can reach an HTTP consumer, where one holds a Diameter peer's connection)."""
        ...


class SessionSignals:
    def __init__(self, store: BalanceStore) -> None:
        self.store = store
        self.senders: list[SessionSender] = []
        self._tasks: set[asyncio.Task[None]] = set()
        store.pubsub.listen(CHANNEL, self._on_message, reset=lambda: None)

    def add_sender(self, sender: SessionSender) -> None:
        self.senders.append(sender)

    async def signal(self, kind: Signal, sessions: Iterable[LiveSession]) -> int:
        """Publish ``kind`` for every session; returns how many were published."""
        messages = [
            msgpack.packb([kind.value, s.session_id, s.origin_host, s.origin_realm])
            for s in sessions
            if s.origin_host
        ]
        slot = slot_of(CHANNEL)
        await asyncio.gather(
            *(self.store.execute(slot, "PUBLISH", CHANNEL, message) for message in messages)
        )
        return len(messages)

    def _on_message(self, data: bytes) -> None:
        try:
            kind, session_id, origin_host, origin_realm = msgpack.unpackb(data)
            signal = Signal(kind)
        except (ValueError, TypeError) as exc:
            log.warning("ignored malformed session signal error=%s", exc)
            return
        for sender in self.senders:
            if sender.can_reach(origin_host, origin_realm):
                task = asyncio.get_running_loop().create_task(
                    self._deliver(sender, signal, session_id, origin_host, origin_realm)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return

    async def _deliver(
        self,
        sender: SessionSender,
        signal: Signal,
        session_id: str,
        origin_host: str,
        origin_realm: str,
    ) -> None:
        try:
            code = await sender.send(signal, session_id, origin_host, origin_realm)
        except Exception as exc:  # one failed signal must not stop the others
            SIGNALS.labels(signal.value, "sent").inc()
            SIGNALS.labels(signal.value, "failed").inc()
            log.warning(
                "session signal failed kind=%s session=%s gateway=%s error=%s",
                signal.value,
                session_id,
                origin_host,
                exc,
            )
            return
        if code is None:
            return  # another process delivers it
        SIGNALS.labels(signal.value, "sent").inc()
        SIGNALS.labels(signal.value, "answered").inc()
        log.info(
            "session signal answered kind=%s session=%s gateway=%s result_code=%d",
            signal.value,
            session_id,
            origin_host,
            code,
        )

    async def stop(self) -> None:
        """Wait for signals being delivered (bounded by the sender's request timeout)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
