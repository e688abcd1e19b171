"""Is the balance store reachable? A monitor that pings every Redis master several times a second.

Every ``health_interval_ms`` the monitor

1. drops the connections that owe replies and have been silent for ``command_timeout_ms`` (a
   paused or cut-off node: TCP alone would keep them open for ever), so the calls waiting on
   them fail over instead of hanging;
2. PINGs every master of the slot map (or the one server) on a connection of its own (a PING
   must not queue behind the calls and WAITs of the data connection), each within
   ``health_timeout_ms``. A refused connection counts at once (a dead Redis is noticed within
   ``health_interval_ms``); silence counts after two rounds in a row (a paused or cut-off one
   within about 1.5 s with the defaults), since one slow round may be this process's own event
   loop lagging under load.

The store is *up* when every master answered. A change is logged once (``balance store
unavailable ... error=...``, ``balance store available again ... down_for=...``), shown by the
gauge ``ocs_balance_up`` and told to the listeners (gRPC health turns NOT_SERVING). While a
master does not answer, the cluster's slot map is refreshed at every round, so a promoted replica
is found without waiting for traffic. While a master is away the rounds (and so the reconnect
attempts of the health connection) back off from ``health_interval_ms`` to 1 s; calls for its
slots fail at once meanwhile. Redis coming back needs nothing else: every data connection
reconnects on its next call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import Gauge

from ocs.balance.client import NodeConnection, ReplyError
from ocs.balance.errors import BalanceUnavailable
from ocs.tasks import cancel_and_wait

if TYPE_CHECKING:
    from ocs.balance.target import Executor

log = logging.getLogger("ocs.balance")

UP = Gauge(
    "ocs_balance_up",
    "1 while every Redis master of the balance store answers, else 0 (lowest of the processes).",
    multiprocess_mode="livemin",
)

Listener = Callable[[bool], Awaitable[None]]
MAX_BACKOFF = 1.0
"""Longest pause between rounds while a master is unreachable (seconds)."""
SILENT_ROUNDS = 2
"""Rounds in a row a master must leave its PING unanswered to count as unreachable."""


class BalanceHealth:
    """The monitor; ``up`` is its latest verdict, listeners hear every change."""

    def __init__(
        self,
        executor: Callable[[], Executor],
        interval: float,
        ping_timeout: float,
        stuck_after: float,
    ) -> None:
        self._executor = executor
        self.interval = interval
        self.ping_timeout = ping_timeout
        self.stuck_after = stuck_after
        self._probes: dict[str, NodeConnection] = {}
        self._silent: dict[str, int] = {}
        self.up = True
        self.error = ""
        self.down: frozenset[str] = frozenset()
        """Names of the masters that did not answer the last round: calls for their slots are
        answered UNAVAILABLE at once instead of waiting on them."""
        self._down_since = 0.0
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self.checked = asyncio.Event()
        """Set after every round (tests wait on it instead of sleeping)."""

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        UP.set(1)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="balance-health")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None
        probes, self._probes = self._probes, {}
        for probe in probes.values():
            await probe.close()

    def _probe(self, node: NodeConnection) -> NodeConnection:
        """The health connection to ``node``'s server."""
        name = node.address.name
        probe = self._probes.get(name)
        if probe is None:
            probe = self._probes[name] = NodeConnection(node.address)
        return probe

    async def _run(self) -> None:
        delay = self.interval
        while True:
            await asyncio.sleep(delay)
            up = await self.check()
            # while a master is away, reconnect attempts back off (up to MAX_BACKOFF)
            delay = self.interval if up else min(delay * 2, max(self.interval, MAX_BACKOFF))

    async def check(self) -> bool:
        """One round: drop silent connections, ping every master, report a change."""
        loop = asyncio.get_running_loop()
        executor = self._executor()
        now = loop.time()
        for connection in executor.connections():
            connection.check_stuck(now, self.stuck_after)
        for probe in self._probes.values():
            probe.check_stuck(now, self.ping_timeout, quiet=True)
        nodes = executor.nodes()
        pings = [self._ping(node.address.name, self._probe(node)) for node in nodes]
        failed = []
        for node, (error, silent) in zip(nodes, await asyncio.gather(*pings), strict=True):
            name = node.address.name
            misses = self._silent.get(name, 0) + 1 if silent else 0
            self._silent[name] = misses
            # a refused connection counts at once; silence twice in a row (one slow round may
            # be this process's own event loop lagging under load)
            if error and (not silent or misses >= SILENT_ROUNDS):
                failed.append((name, error))
        errors = [f"{name}: {error}" for name, error in failed]
        self.down = frozenset(name for name, _ in failed)
        if errors:
            executor.refresh_soon()
        await self._report(not errors, "; ".join(errors))
        self.checked.set()
        self.checked.clear()
        return not errors

    async def _ping(self, name: str, probe: NodeConnection) -> tuple[str, bool]:
        """(what went wrong or "", whether it was silence)."""
        reply = probe.send(("PING",))
        # asyncio.wait does not cancel: a PONG read in the very iteration the timer fires (a
        # lagging loop runs I/O callbacks before timers) still counts
        await asyncio.wait([reply], timeout=self.ping_timeout)
        if not reply.done():
            reply.add_done_callback(partial(self._late_answer, name))
            return f"no answer within {self.ping_timeout:.1f}s", True
        error = reply.exception()
        if isinstance(error, BalanceUnavailable | ReplyError):
            return str(error), False
        if error is not None:
            raise error
        return "", False

    def _late_answer(self, name: str, reply: asyncio.Future[object]) -> None:
        """A PONG after its round: the node answers again, so calls need not wait for the next
        round to stop failing fast (the gauge and health follow at that round)."""
        if not reply.cancelled() and reply.exception() is None:
            self._silent[name] = 0
            self.down = self.down - {name}

    async def _report(self, up: bool, error: str) -> None:
        now = asyncio.get_running_loop().time()
        if up == self.up:
            if not up and error != self.error:
                self.error = error
            return
        self.up, self.error = up, error
        UP.set(1 if up else 0)
        if up:
            log.info("balance store available again down_for=%.1fs", now - self._down_since)
        else:
            self._down_since = now
            log.error("balance store unavailable: answering 3004/UNAVAILABLE error=%s", error)
        for listener in self._listeners:
            try:
                await listener(up)
            except Exception:
                log.exception("balance health listener failed")
