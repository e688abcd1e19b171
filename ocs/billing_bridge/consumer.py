"""Subsystem: the bridge from the partition event streams to the ledger.

Every pass reads each partition stream through the consumer group ``billing`` (one command
per partition, so each touches one slot and runs on Redis Cluster; all of a pass's commands
leave in one write per node), commits everything read in **one** ledger transaction, and only
then acknowledges (XACK). A crash before the commit leaves the entries pending; a crash after
the commit but before the ack redelivers entries the ledger already holds, and the event-id
primary key stores them once. On start a bridge first re-reads its own pending entries (same
consumer name); entries another consumer left pending for ``claim_idle_ms`` are claimed with
XAUTOCLAIM. Several bridges may run at once: the group gives each entry to one of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ocs.balance.engine import BILLING_GROUP, Engine
from ocs.balance.errors import BalanceError
from ocs.billing_bridge import metrics
from ocs.billing_bridge.ingest import Entry, IngestResult, to_rows, write
from ocs.billing_bridge.ledger import Ledger, LedgerError, split_stream_id
from ocs.config import BillingConfig
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.billing")

ERROR_BACKOFF_S = 1.0


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class PassReport:
    read: int
    claimed: int
    result: IngestResult


@dataclass(slots=True)
class _Partition:
    partition: int
    slot: int
    stream: str
    backlog: bool = True
    """This consumer's own pending entries (from before a restart) are still to be re-read."""
    claim_cursor: str = "0-0"
    next_claim: float = 0.0


def _fields_raw(fields: Any) -> bytes | None:
    """Field ``e`` of an entry's flat field list (None: the entry was deleted)."""
    if not fields:
        return None
    pairs = dict(zip(fields[::2], fields[1::2], strict=True))
    raw = pairs.get(b"e")
    return bytes(raw) if raw is not None else b""


class Bridge:
    name = "billing-bridge"

    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        config: BillingConfig,
        consumer: str = "",
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.config = config
        self.consumer = consumer or config.consumer or default_consumer_name()
        self._parts = [
            _Partition(p.partition, p.slot, p.stream) for p in engine.keys[: engine.partitions]
        ]
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.passes = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="billing-ledger")
        loop = asyncio.get_running_loop()
        for coro in (self._run(), self._watch_lag()):
            task = loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        log.info(
            "billing bridge started consumer=%s ledger=%s partitions=%d",
            self.consumer,
            self.ledger.where,
            len(self._parts),
        )

    async def stop(self) -> None:
        await cancel_and_wait(list(self._tasks))
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    async def _run(self) -> None:
        while True:
            try:
                report = await self.run_once()
            except (BalanceError, LedgerError) as exc:
                log.warning("billing pass failed consumer=%s error=%s", self.consumer, exc)
                for part in self._parts:
                    part.backlog = True  # what was read stays pending: read it again
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            if report.read == 0:
                await asyncio.sleep(self.config.poll_interval_ms / 1000)

    # -- one pass ---------------------------------------------------------------------------

    async def run_once(self) -> PassReport:
        """Read every partition once, commit what was read, then acknowledge it."""
        now = time.monotonic()
        batches = await asyncio.gather(*(self._read(part, now) for part in self._parts))
        entries = [entry for batch, _ in batches for entry in batch]
        claimed = sum(n for _, n in batches)
        if not entries:
            self.passes += 1
            return PassReport(0, 0, IngestResult(0, 0, 0, 0))
        result = await self._commit(entries)
        await self._ack(entries)
        metrics.INGESTED.inc(result.inserted)
        metrics.SKIPPED.labels("redelivered").inc(result.redelivered)
        metrics.SKIPPED.labels("stream_duplicate").inc(result.duplicates)
        metrics.REJECTED.inc(result.rejected)
        metrics.CLAIMED.inc(claimed)
        if result.duplicates or result.rejected:
            log.warning(
                "billing stream anomalies consumer=%s duplicates=%d rejected=%d",
                self.consumer,
                result.duplicates,
                result.rejected,
            )
        self.passes += 1
        return PassReport(len(entries), claimed, result)

    async def _read(self, part: _Partition, now: float) -> tuple[list[Entry], int]:
        count = self.config.batch_size
        if part.backlog:
            # this consumer's own pending entries (a restart after a crash): id 0 = history
            reply = await self._group_read(part, "0", count)
            entries = self._entries(part, reply)
            if not entries:
                part.backlog = False
            return entries, 0
        entries, claimed = [], 0
        if now >= part.next_claim:
            reply = await self.engine.execute(
                part.slot,
                "XAUTOCLAIM",
                part.stream,
                BILLING_GROUP,
                self.consumer,
                self.config.claim_idle_ms,
                part.claim_cursor,
                "COUNT",
                count,
            )
            cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            found = [(e[0], e[1] if len(e) > 1 else None) for e in reply[1] if e]
            if len(found) < len(reply[1]):
                # Redis 6.2 claims a deleted entry as a bare nil, without its id: it is ours
                # now, and reading our own pending entries names it (id with nil fields)
                part.backlog = True
            deleted = reply[2] if len(reply) > 2 else []  # Redis >= 7 lists deleted ids apart
            found += [(stream_id, None) for stream_id in deleted]
            entries = [Entry(part.partition, _text(i), _fields_raw(f)) for i, f in found]
            claimed = len(entries)
            part.claim_cursor = cursor
            if cursor == "0-0":
                part.next_claim = now + self.config.claim_interval_ms / 1000
        reply = await self._group_read(part, ">", count)
        entries += self._entries(part, reply)
        return entries, claimed

    async def _group_read(self, part: _Partition, start: str, count: int) -> Any:
        return await self.engine.execute(
            part.slot,
            "XREADGROUP",
            "GROUP",
            BILLING_GROUP,
            self.consumer,
            "COUNT",
            count,
            "STREAMS",
            part.stream,
            start,
        )

    @staticmethod
    def _entries(part: _Partition, reply: Any) -> list[Entry]:
        if not reply:
            return []
        return [
            Entry(part.partition, _text(stream_id), _fields_raw(fields))
            for _, entries in reply
            for stream_id, fields in entries
        ]

    async def _commit(self, entries: list[Entry]) -> IngestResult:
        """Decode and write in the ledger's thread (the event loop keeps serving)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="billing-ledger")
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        result = await loop.run_in_executor(self._pool, _decode_and_write, self.ledger, entries)
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        return result

    async def _ack(self, entries: list[Entry]) -> None:
        by_partition: dict[int, list[str]] = defaultdict(list)
        for entry in entries:
            by_partition[entry.partition].append(entry.stream_id)
        await asyncio.gather(
            *(
                self.engine.execute(
                    self._parts[p].slot, "XACK", self._parts[p].stream, BILLING_GROUP, *ids
                )
                for p, ids in by_partition.items()
            )
        )

    async def drain(self, max_passes: int = 100_000) -> int:
        """Run passes until a pass reads nothing (tests, ``ocs billing ... --drain``)."""
        total = 0
        for _ in range(max_passes):
            backlog = any(p.backlog for p in self._parts)
            report = await self.run_once()
            if report.read == 0 and not backlog:
                return total
            total += report.read
        return total

    # -- lag --------------------------------------------------------------------------------

    async def _watch_lag(self) -> None:
        while True:
            try:
                await self.refresh_lag()
            except BalanceError as exc:
                log.warning("billing lag check failed error=%s", exc)
            await asyncio.sleep(self.config.lag_interval_ms / 1000)

    async def refresh_lag(self) -> dict[int, tuple[float, int]]:
        """Per partition: (lag in seconds, pending entries); also set as metrics."""
        found = await asyncio.gather(*(group_lag(self.engine, p.partition) for p in self._parts))
        out = {}
        for part, (lag_s, pending) in zip(self._parts, found, strict=True):
            metrics.LAG_SECONDS.labels(str(part.partition)).set(lag_s)
            metrics.PENDING.labels(str(part.partition)).set(pending)
            out[part.partition] = (lag_s, pending)
        return out


def _decode_and_write(ledger: Ledger, entries: list[Entry]) -> IngestResult:
    return write(ledger, to_rows(entries))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return {_text(k): v for k, v in zip(flat[::2], flat[1::2], strict=True)}


async def group_state(engine: Engine, partition: int) -> tuple[str, str, int, str]:
    """(last generated id, last delivered id, pending count, oldest pending id) of the
    ``billing`` group on a partition stream."""
    p = engine.keys[partition]
    stream, groups, pending = await asyncio.gather(
        engine.execute(p.slot, "XINFO", "STREAM", p.stream),
        engine.execute(p.slot, "XINFO", "GROUPS", p.stream),
        engine.execute(p.slot, "XPENDING", p.stream, BILLING_GROUP),
    )
    last_generated = _text(_pairs(stream)["last-generated-id"])
    group = next(g for g in (_pairs(g) for g in groups) if _text(g["name"]) == BILLING_GROUP)
    oldest = _text(pending[1]) if pending and pending[0] else ""
    return last_generated, _text(group["last-delivered-id"]), int(pending[0] or 0), oldest


async def caught_up(engine: Engine, partition: int) -> bool:
    """Whether the group has acknowledged every entry of the partition stream."""
    last, delivered, pending, _ = await group_state(engine, partition)
    if pending:
        return False
    if split_stream_id(delivered) >= split_stream_id(last):
        return True
    p = engine.keys[partition]
    return not await engine.execute(p.slot, "XRANGE", p.stream, f"({delivered}", "+", "COUNT", 1)


async def group_lag(engine: Engine, partition: int) -> tuple[float, int]:
    """(seconds between the oldest unacknowledged entry and the newest one, pending count)."""
    last, delivered, pending, oldest = await group_state(engine, partition)
    if not oldest and split_stream_id(delivered) < split_stream_id(last):
        p = engine.keys[partition]
        nxt = await engine.execute(p.slot, "XRANGE", p.stream, f"({delivered}", "+", "COUNT", 1)
        oldest = _text(nxt[0][0]) if nxt else ""
    if not oldest:
        return 0.0, pending
    return max(0, split_stream_id(last)[0] - split_stream_id(oldest)[0]) / 1000, pending
