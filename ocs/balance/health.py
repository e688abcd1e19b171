"""Is the balance store reachable? A monitor that pings every Redis master several times a second.

Every ``health_interval_ms`` the monitor

1. drops the connections that owe replies and have been silent for ``command_timeout_ms`` (a
   paused or cut-off node: TCP alone would keep them open for ever), so the calls waiting on
   them fail over instead of hanging;
2. PINGs every master of the slot map (or the one server) on a connection of its own (a PING
   must not queue behind the calls and WAITs of the data connection), each within
   ``health_timeout_ms``: a dead, paused or cut-off Redis is noticed within a second.

The store is *up* when every master answered. A change is logged once (``balance store
unavailable ... error=...``, ``balance store available again ... down_for=...``), shown by the
gauge ``ocs_balance_up`` and told to the listeners (gRPC health turns NOT_SERVING). While a
master does not answer, the cluster's slot map is refreshed at every round, so a promoted replica
is found without waiting for traffic. Redis coming back needs nothing else: every connection
reconnects on its next call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from prometheus_client import Gauge

from ocs.balance.client import NodeConnection, ReplyError
from ocs.balance.errors import BalanceUnavailable
from ocs.tasks import cancel_and_wait

if TYPE_CHECKING:
    from ocs.balance.engine import Executor

log = logging.getLogger("ocs.balance")

UP = Gauge(
    "ocs_balance_up",
    "1 while every Redis master of the balance store answers, else 0 (lowest of the processes).",
    multiprocess_mode="livemin",
)

Listener = Callable[[bool], Awaitable[None]]


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
        while True:
            await asyncio.sleep(self.interval)
            await self.check()

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
        pings = [self._ping(self._probe(node).execute("PING")) for node in nodes]
        failed = [
            (node.address.name, error)
            for node, error in zip(nodes, await asyncio.gather(*pings), strict=True)
            if error
        ]
        errors = [f"{name}: {error}" for name, error in failed]
        self.down = frozenset(name for name, _ in failed)
        if errors:
            executor.refresh_soon()
        await self._report(not errors, "; ".join(errors))
        self.checked.set()
        self.checked.clear()
        return not errors

    async def _ping(self, reply: Awaitable[object]) -> str:
        try:
            async with asyncio.timeout(self.ping_timeout):
                await reply
        except TimeoutError:
            return f"no answer within {self.ping_timeout:.1f}s"
        except (BalanceUnavailable, ReplyError) as exc:
            return str(exc)
        return ""

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
