"""The event feed: the balance engine's partition streams, read for the BSS (directory,
balance-threshold notifications), at least once, from positions kept in the BSS database.

It reads with plain ``XREAD`` (no consumer group: a group would hold back the streams' trimming
whenever the portal is switched off) from the last position it stored for each partition, hands
the decoded events to each handler, and stores the new position only after every handler is
done. Handlers are idempotent (a restart may hand them an event again). Several ocs processes
may run it at once: what a handler writes is keyed by the event id (directory rows by record id,
outbox rows by event id), so a second reader changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from ocs.balance.errors import BalanceError
from ocs.balance.events import Event, UnsupportedEvent, decode
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.ledger import LedgerError
from ocs.bss.database import BssDatabase
from ocs.tasks import raise_if_cancelling

log = logging.getLogger("ocs.bss")

COUNT = 500
Handler = Callable[[Sequence[Event], int], Awaitable[None]]


class Feed:
    def __init__(
        self,
        store: BalanceStore,
        db: BssDatabase,
        handlers: Sequence[Handler],
        clock: Callable[[], int],
    ) -> None:
        self.store = store
        self.db = db
        self.handlers = list(handlers)
        self.clock = clock
        self.positions: dict[int, str] = {}
        self.read = 0
        """Events handed to the handlers so far (tests wait on it)."""

    async def load(self) -> None:
        rows = await self.db.run(self.db.rows, "SELECT partition, stream_id FROM feed_positions")
        self.positions = {int(p): str(s) for p, s in rows}

    async def poll(self) -> int:
        """Read every partition once (one batch each); how many events were handled."""
        partitions = range(self.store.partitions)
        replies = await asyncio.gather(*(self._read(p) for p in partitions))
        handled = 0
        for partition, entries in zip(partitions, replies, strict=True):
            if not entries:
                continue
            events: list[Event] = []
            last = self.positions.get(partition, "0-0")
            for raw_id, fields in entries:
                last = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                try:
                    events.append(decode(raw_id, fields))
                except UnsupportedEvent as exc:
                    log.warning("feed skipped an event partition=%d error=%s", partition, exc)
            now = self.clock()
            for handler in self.handlers:
                await handler(events, now)
            await self.db.run(self._save, partition, last)
            self.positions[partition] = last
            handled += len(events)
        self.read += handled
        return handled

    async def _read(self, partition: int) -> list[tuple[bytes, list[bytes]]]:
        p = self.store.partition(partition)
        reply = await self.store.execute(
            p.slot,
            "XREAD",
            "COUNT",
            COUNT,
            "STREAMS",
            p.stream,
            self.positions.get(partition, "0-0"),
        )
        if not reply:
            return []
        return list(reply[0][1])

    def _save(self, partition: int, stream_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM feed_positions WHERE partition = ?", (partition,))
            cur.execute(
                "INSERT INTO feed_positions (partition, stream_id) VALUES (?, ?)",
                (partition, stream_id),
            )

    async def run(self, interval_s: float) -> None:
        await self.load()
        while True:
            raise_if_cancelling()
            try:
                handled = await self.poll()
            except (BalanceError, LedgerError, OSError) as exc:
                log.warning("feed read failed error=%s", exc)
                handled = 0
            if handled < COUNT:
                await asyncio.sleep(interval_s)
