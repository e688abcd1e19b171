"""Balance watchers: one reader per partition stream with watchers, fanned out by account.

A reader runs only while its partition has watchers: it finds the stream's last entry id, then
loops ``XREAD BLOCK`` from there on the redis-py client (its own pooled connection: a blocking
read must not hold up the balance engine's batching connection). One key per XREAD, so it runs
unchanged on Redis Cluster. Each watcher has a bounded queue; one that falls further behind is
ended (``overflowed``) rather than buffered without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import redis

from ocs.balance.errors import BalanceUnavailable
from ocs.balance.events import Event, UnsupportedEvent, decode
from ocs.balance.keys import PartitionKeys
from ocs.balance.store import BalanceStore
from ocs.redis_connection import RedisConnection
from ocs.tasks import raise_if_cancelling

log = logging.getLogger("ocs.api")

BLOCK_MS = 1000
READY_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 2.0
COUNT = 500
NOTIFIED = frozenset(
    {
        "session",
        "debit",
        "refund",
        "topup",
        "adjust",
        "expire",
        "session_expired",
        "threshold",
        "purchase",
    }
)


@dataclass(eq=False)
class Watcher:
    account_id: str
    queue: asyncio.Queue[Event | None]
    overflowed: bool = False


@dataclass(eq=False)
class _Reader:
    task: asyncio.Task[None]
    ready: asyncio.Event
    watchers: dict[str, set[Watcher]] = field(default_factory=lambda: defaultdict(set))


class WatchHub:
    def __init__(self, store: BalanceStore, redis_connection: RedisConnection, queue: int) -> None:
        self.store = store
        self.redis = redis_connection
        self.queue_size = queue
        self._readers: dict[int, _Reader] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        """Every reader task until it has ended, also those cancelled when their last watcher
        left: stop waits for them, so none outlives the Redis client it reads with."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            for watchers in reader.watchers.values():
                for watcher in watchers:
                    _close(watcher)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # bounded: a reader stuck in its client must not hold up the shutdown
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            if pending:
                log.warning("balance watch readers did not stop count=%d", len(pending))

    @contextlib.asynccontextmanager
    async def watch(self, account_id: str, partition: int) -> AsyncIterator[Watcher]:
        """Changes of ``account_id`` from the moment this returns (the reader is positioned)."""
        watcher = Watcher(account_id, asyncio.Queue(self.queue_size))
        reader = self._readers.get(partition)
        if reader is None:
            reader = self._readers[partition] = self._start_reader(partition)
        reader.watchers[account_id].add(watcher)
        try:
            try:
                async with asyncio.timeout(READY_TIMEOUT_S):
                    await reader.ready.wait()
            except TimeoutError:
                raise BalanceUnavailable("cannot read the balance event stream") from None
            yield watcher
        finally:
            watchers = reader.watchers.get(account_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del reader.watchers[account_id]
            if not reader.watchers and self._readers.get(partition) is reader:
                del self._readers[partition]
                reader.task.cancel()

    def _start_reader(self, partition: int) -> _Reader:
        ready = asyncio.Event()
        holder: list[_Reader] = []
        task = asyncio.get_running_loop().create_task(
            self._read(self.store.partition(partition), ready, holder)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        reader = _Reader(task, ready)
        holder.append(reader)
        return reader

    async def _read(self, p: PartitionKeys, ready: asyncio.Event, holder: list[_Reader]) -> None:
        backoff = 0.05
        last = ""
        while True:
            # Python 3.11's wait_for (inside redis-py) can swallow a cancel that lands as a
            # command completes: the task is still marked cancelling, so end here
            raise_if_cancelling()
            client: Any = self.redis.client  # redis-py's reply types are too loose to help
            try:
                if client is None:
                    raise OSError("redis connection is closed")
                if not last:
                    newest = await client.xrevrange(p.stream, "+", "-", count=1)
                    last = newest[0][0].decode() if newest else "0-0"
                    ready.set()
                reply = await client.xread({p.stream: last}, count=COUNT, block=BLOCK_MS)
            except (redis.RedisError, OSError) as exc:
                raise_if_cancelling()  # a client that turned our cancel into an error
                log.warning("balance watch read failed stream=%s error=%s", p.stream, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            for _, entries in reply or ():
                for raw_id, fields in entries:
                    last = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
                    self._dispatch(holder[0], raw_id, fields)

    def _dispatch(self, reader: _Reader, raw_id: bytes, fields: Any) -> None:
        try:
            event = decode(raw_id, fields)
        except UnsupportedEvent as exc:
            log.warning("balance watch skipped an event error=%s", exc)
            return
        data = event.data
        if data.get("type") not in NOTIFIED:
            return
        targets = set(reader.watchers.get(data.get("acct", ""), ()))
        parent = data.get("parent") or ""
        if parent and parent in reader.watchers:
            touched = data.get("delta") or data.get("balances") or {}
            if any(label.startswith(parent + "/") for label in touched):
                targets |= reader.watchers[parent]
        for watcher in targets:
            if watcher.overflowed:
                continue
            try:
                watcher.queue.put_nowait(event)
            except asyncio.QueueFull:
                watcher.overflowed = True
                _close(watcher)


def _close(watcher: Watcher) -> None:
    """Wake the watcher with the end marker, making room for it if need be."""
    while True:
        try:
            watcher.queue.put_nowait(None)
            return
        except asyncio.QueueFull:
            watcher.queue.get_nowait()
