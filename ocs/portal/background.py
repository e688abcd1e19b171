"""The BSS's background work, run by the primary process: the event feed (directory,
balance-threshold notices), new bills from the ledger, dunning, and the outbox delivery
(webhooks, e-mails). Each is a loop in a kept task; stop cancels and waits for them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ocs.balance.errors import BalanceError
from ocs.balance.events import Event
from ocs.billing_bridge.ledger import LedgerError
from ocs.bss import notices
from ocs.bss.context import Services
from ocs.bss.feed import Feed
from ocs.notify.outbox import Deliverer
from ocs.payments import dunning
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.portal")


class Background:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.feed = Feed(
            services.store,
            services.db,
            [services.directory.on_events, self._notices],
            services.clock,
        )
        self.deliverer = Deliverer(services.db, services.config, services.clock)
        self.tasks: set[asyncio.Task[None]] = set()
        self.rounds = 0
        self._round = asyncio.Lock()
        """Completed rounds of bills and dunning (tests wait on them)."""
        self.people: Any = None
        """The portal's people (set by the page routes; the demo creates its users there)."""
        self.monotonic_ms: Callable[[], int] = lambda: time.monotonic_ns() // 1_000_000

    async def _notices(self, events: Sequence[Event], now: int) -> None:
        await notices.on_events(self.s, events, now)

    async def start(self, demo: bool = False, first_msisdn: str = "") -> None:
        if demo:
            from ocs.portal.demo import provision

            await provision(self.s, self.people, first_msisdn)
        interval = self.s.config.feed_interval_ms / 1000
        self._spawn("feed", lambda: self.feed.run(interval))
        self._spawn("bills", lambda: self._bills(interval))
        self._spawn("outbox", lambda: self.deliverer.run(interval))

    async def bills_round(self) -> None:
        """One round: new bills announced, dunning steps applied (one round at a time in this
        process; across processes the bill's step counter decides who records a step)."""
        async with self._round:
            await notices.sync_bills(self.s)
            await dunning.run_once(self.s)
            self.rounds += 1

    async def _bills(self, interval: float) -> None:
        while True:
            try:
                await self.bills_round()
            except (LedgerError, BalanceError) as exc:
                log.warning("bills round failed error=%s", exc)
            await asyncio.sleep(interval)

    def _spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            while True:
                try:
                    await factory()
                    return
                except Exception:  # a bug in one loop must not stop the BSS for good
                    log.exception("background loop failed, restarting loop=%s", name)
                    await asyncio.sleep(1.0)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"portal-{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        await cancel_and_wait(list(self.tasks))
