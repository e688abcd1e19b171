"""The executor for Redis Cluster: a slot map, one batching connection per master.

The slot map comes from CLUSTER SLOTS. A MOVED reply updates the slot, schedules a full refresh
and retries at the new owner; ASK sends ASKING and the command back to back to the importing
node; TRYAGAIN (a multi-key command during a slot migration) and CLUSTERDOWN wait a little and
retry. Scripts are called per node by SHA and re-sent with EVAL on NOSCRIPT (each node has its
own script cache).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ocs.balance.client import Address, NodeConnection, ReplyError
from ocs.balance.errors import BalanceUnavailable
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.balance")

SLOTS = 16384
MAX_REDIRECTS = 16
RETRY_WINDOW = 10.0
"""How long a call keeps retrying TRYAGAIN / CLUSTERDOWN (a slot migration, a failover)."""


class ClusterNodes:
    def __init__(self, seeds: Sequence[tuple[str, int]], password: str = "") -> None:
        self.password = password
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
            node = NodeConnection(Address(host=host, port=int(port), password=self.password))
            self._nodes[name] = node
        return node

    async def start(self) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        """Read the slot map from the first node that answers."""
        errors = []
        for name in [*self._nodes, *self.seeds]:
            try:
                reply = await self._node(name).execute("CLUSTER", "SLOTS")
            except (ReplyError, BalanceUnavailable) as exc:
                errors.append(f"{name}: {exc}")
                continue
            slots = [""] * SLOTS
            for first, last, master, *_ in reply:
                host = master[0].decode() or name.rpartition(":")[0]
                owner = f"{host}:{master[1]}"
                slots[first : last + 1] = [owner] * (last - first + 1)
            self._slots = slots
            return
        raise BalanceUnavailable("no cluster node answered CLUSTER SLOTS: " + "; ".join(errors))

    def _refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh()
        except BalanceUnavailable as exc:
            log.warning("cluster slot map refresh failed error=%s", exc)

    async def execute(self, slot: int, *args: Any) -> Any:
        node = self._node(self._slots[slot] or self.seeds[0])
        asking = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_WINDOW
        redirects = 0
        while True:
            try:
                if asking:
                    ask = node.send(("ASKING",))
                    reply = node.send(args)
                    try:
                        await ask
                    except ReplyError:
                        pass
                    return await reply
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
                        self._refresh_soon()
                    node, asking = self._node(where), kind == "ASK"
                    continue
                if kind in ("TRYAGAIN", "CLUSTERDOWN") and loop.time() < deadline:
                    await asyncio.sleep(0.02)
                    asking = False
                    node = self._node(self._slots[slot] or self.seeds[0])
                    continue
                raise
            except BalanceUnavailable:
                self._refresh_soon()
                raise

    def nodes(self) -> list[NodeConnection]:
        return [self._node(name) for name in sorted(set(self._slots))]

    def node_for_slot(self, slot: int) -> NodeConnection:
        return self._node(self._slots[slot])

    async def close(self) -> None:
        try:
            await cancel_and_wait([self._refreshing])
        finally:  # also when this close is cancelled: no node's socket outlives it
            for node in self._nodes.values():
                await node.close()
