"""The executor for Redis Cluster: a slot map, one batching connection per master.

The slot map comes from CLUSTER SLOTS. A MOVED reply updates the slot, schedules a full refresh
and retries at the new owner; ASK sends ASKING and the command back to back to the importing
node; TRYAGAIN (a multi-key command during a slot migration) and CLUSTERDOWN wait a little and
retry. Scripts are called per node by SHA and re-sent with EVAL on NOSCRIPT (each node has its
own script cache).

A refresh asks every known node at once and takes the map most of the answering nodes give
(within a second): a paused or dead node cannot hold it up, and one node with a stale view is
outvoted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ocs.balance.client import (
    Address,
    NodeConnection,
    Replication,
    ReplyError,
    Tls,
    replicated,
)
from ocs.balance.errors import BalanceUnavailable
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.balance")

SLOTS = 16384
MAX_REDIRECTS = 16
RETRY_WINDOW = 10.0
"""How long a call keeps retrying TRYAGAIN / CLUSTERDOWN (a slot migration, a failover)."""
REFRESH_TIMEOUT = 1.0
"""How long a slot map refresh waits for the nodes' answers."""


class ClusterNodes:
    def __init__(
        self,
        seeds: Sequence[tuple[str, int]],
        password: str = "",
        tls: Tls | None = None,
        replication: Replication | None = None,
    ) -> None:
        self.password = password
        self.tls = tls
        self.replication = replication
        self.seeds = [f"{host}:{port}" for host, port in seeds]
        self._slots: list[str] = [""] * SLOTS
        self._nodes: dict[str, NodeConnection] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self.redirections: Counter[str] = Counter()
        """MOVED / ASK / TRYAGAIN / CLUSTERDOWN replies seen (tests, diagnostics)."""

    def _node(self, name: str) -> NodeConnection:
        node = self._nodes.get(name)
        if node is None:
            host, _, port = name.rpartition(":")
            address = Address(host=host, port=int(port), password=self.password, tls=self.tls)
            node = NodeConnection(address, self.replication)
            self._nodes[name] = node
        return node

    async def start(self) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        """Ask every known node for the slot map; keep the one most answering nodes give."""
        names = list(dict.fromkeys([*self._nodes, *self.seeds]))
        asks = {
            asyncio.ensure_future(self._node(name).execute("CLUSTER", "SLOTS")): name
            for name in names
        }
        done, pending = await asyncio.wait(asks, timeout=REFRESH_TIMEOUT)
        for task in pending:
            task.cancel()
        votes: Counter[tuple[str, ...]] = Counter()
        errors = [f"{asks[task]}: no answer" for task in pending]
        for task in done:
            name = asks[task]
            try:
                reply = task.result()
            except (ReplyError, BalanceUnavailable) as exc:
                errors.append(f"{name}: {exc}")
                continue
            slots = [""] * SLOTS
            for first, last, master, *_ in reply:
                host = master[0].decode() or name.rpartition(":")[0]
                owner = f"{host}:{master[1]}"
                slots[first : last + 1] = [owner] * (last - first + 1)
            votes[tuple(slots)] += 1
        if not votes:
            raise BalanceUnavailable(
                "no cluster node answered CLUSTER SLOTS: " + "; ".join(sorted(errors))
            )
        self._slots = list(votes.most_common(1)[0][0])

    def refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh()
        except BalanceUnavailable as exc:
            log.warning("cluster slot map refresh failed error=%s", exc)

    def execute_durable(self, slot: int, fence_key: str, *args: Any) -> Any:
        return self.execute(slot, *args, fence_key=fence_key)

    async def execute(self, slot: int, *args: Any, fence_key: str = "") -> Any:
        """One command at the slot's owner; with ``fence_key`` (durable), its reply only once
        the batch it went out in reached enough replicas."""
        node = self._node(self._slots[slot] or self.seeds[0])
        asking = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_WINDOW
        redirects = 0
        while True:
            try:
                if asking:
                    ask = node.send(("ASKING",))
                    durable = fence_key and self.replication is not None
                    reply, barrier = (
                        node.send_durable(args, fence_key)
                        if durable
                        else (
                            node.send(args),
                            None,
                        )
                    )
                    try:
                        await ask
                    except ReplyError:
                        pass
                    if barrier is not None and self.replication is not None:
                        return await replicated(reply, barrier, self.replication)
                    return await reply
                if fence_key and self.replication is not None:
                    sent, barrier = node.send_durable(args, fence_key)
                    return await replicated(sent, barrier, self.replication)
                return await node.send(args)
            except ReplyError as exc:
                message = str(exc)
                kind = message.split(" ", 1)[0]
                self.redirections[kind] += 1
                if kind in ("MOVED", "ASK"):
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise
                    _, moved_slot, where = message.split(" ")
                    if kind == "MOVED":
                        self._slots[int(moved_slot)] = where
                        self.refresh_soon()
                    node, asking = self._node(where), kind == "ASK"
                    continue
                if kind in ("TRYAGAIN", "CLUSTERDOWN") and loop.time() < deadline:
                    await asyncio.sleep(0.02)
                    asking = False
                    node = self._node(self._slots[slot] or self.seeds[0])
                    continue
                raise
            except BalanceUnavailable:
                self.refresh_soon()
                raise

    def nodes(self) -> list[NodeConnection]:
        """The masters of the slot map."""
        return [self._node(name) for name in sorted(set(self._slots))]

    def connections(self) -> list[NodeConnection]:
        """Every connection made so far (masters, seeds, former masters)."""
        return list(self._nodes.values())

    def node_for_slot(self, slot: int) -> NodeConnection:
        return self._node(self._slots[slot] or self.seeds[0])

    async def close(self) -> None:
        try:
            await cancel_and_wait([self._refreshing])
        finally:  # also when this close is cancelled: no node's socket outlives it
            for node in self._nodes.values():
                await node.close()
