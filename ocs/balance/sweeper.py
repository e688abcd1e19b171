"""Subsystem: the expiry sweeper. On a timer, for every partition, releases the holdings of
sessions whose reservations expired, expires buckets, and trims the event streams.

The clock is injected (``clock()`` -> epoch ms) and ``run_once(now_ms)`` does one pass, so tests
step time instead of sleeping. Several OCS processes may sweep at once: each session is released
by one atomic script that re-checks its expiry, so it is released exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge

from ocs.balance import expiry
from ocs.balance.errors import BalanceError
from ocs.balance.expiry import SweepReport
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.balance")

RELEASED = Counter(
    "ocs_balance_sweeper_sessions_released", "Sessions released by the sweeper after expiry."
)
EXPIRED = Counter("ocs_balance_sweeper_buckets_expired", "Buckets expired by the sweeper.")
TRIMMED = Counter("ocs_balance_stream_trimmed_entries", "Event stream entries trimmed.")
LIVE_SESSIONS = Gauge(
    "ocs_balance_live_sessions",
    "Charging sessions holding reservations, across all instances (counted at every sweep).",
    multiprocess_mode="livemax",
)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Sweeper:
    name = "balance-sweeper"

    def __init__(
        self,
        store: BalanceStore,
        config: BalanceConfig,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.store = store
        self.interval = config.sweep_interval_ms / 1000
        self.trim_every_ms = config.trim_interval_s * 1000
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._last_trim = 0
        self.swept = asyncio.Event()
        """Set after every timer-driven pass (tests wait on it instead of sleeping)."""

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def run_once(self, now_ms: int) -> SweepReport:
        """One pass over every partition at ``now_ms``."""
        partitions = range(self.store.partitions)
        reports = await asyncio.gather(*(expiry.sweep(self.store, p, now_ms) for p in partitions))
        trimmed = 0
        if now_ms - self._last_trim >= self.trim_every_ms:
            self._last_trim = now_ms
            trimmed = sum(
                await asyncio.gather(*(expiry.trim(self.store, p, now_ms) for p in partitions))
            )
        report = SweepReport(
            sum(r.sessions_released for r in reports),
            sum(r.buckets_expired for r in reports),
            trimmed,
        )
        live = await asyncio.gather(*(self.store.live_session_count(p) for p in partitions))
        LIVE_SESSIONS.set(sum(live))
        RELEASED.inc(report.sessions_released)
        EXPIRED.inc(report.buckets_expired)
        TRIMMED.inc(report.trimmed)
        if report.sessions_released or report.buckets_expired:
            log.info(
                "swept sessions_released=%d buckets_expired=%d trimmed=%d",
                report.sessions_released,
                report.buckets_expired,
                report.trimmed,
            )
        return report

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once(self.clock())
            except BalanceError as exc:
                log.warning("sweep failed error=%s", exc)
            self.swept.set()
