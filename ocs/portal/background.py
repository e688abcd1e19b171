"""The BSS's background work, run by the primary process: the event feed (directory,
balance-threshold notifications), new bills from the ledger, dunning, and the outbox
(webhooks, e-mails). Each is a loop in a kept task; stop cancels and waits for them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ocs.bss.context import Services
from ocs.bss.feed import Feed
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.portal")


class Background:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.feed = Feed(services.store, services.db, [self.s.directory.on_events], services.clock)
        self.tasks: set[asyncio.Task[None]] = set()
        self.ticks: dict[str, int] = {}
        self.people: Any = None
        """The portal's people (set by the page routes; the demo creates its users there)."""
        self.monotonic_ms: Callable[[], int] = lambda: time.monotonic_ns() // 1_000_000
        """Completed rounds per loop (tests wait on them)."""

    def add_handler(self, handler: Callable[..., Awaitable[None]]) -> None:
        self.feed.handlers.append(handler)

    async def start(self, demo: bool = False) -> None:
        interval = self.s.config.feed_interval_ms / 1000
        self._spawn("feed", lambda: self.feed.run(interval))

    def _spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            await factory()

        task = asyncio.get_running_loop().create_task(guarded(), name=f"portal-{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        await cancel_and_wait(list(self.tasks))
