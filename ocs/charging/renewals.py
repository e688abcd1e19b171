"""Recurring fees: at the start of every bill period, each offer a subscriber holds with a
``recurring_fee`` is renewed: the fee charged from money and the offer's allowances granted
again, in one balance script per offer (``BalanceStore.purchase``, kind ``renewal``, op id
``renew:<subscriber>:<offer>:<period>``: a second pass, another process or a retry never
charges a period twice).

Which subscribers are due is an index per partition (``ocs:{p}:renew``, subscriber id by the
epoch ms its fees are next due), set by a purchase to the start of the account's next bill
period (its time zone and cycle day). A renewal the wallet cannot pay (NO_CREDIT) or that the
subscriber's status refuses (DENIED) changes nothing and is tried again every ``retry_ms``
until its period ends; then that period's fee is skipped (not charged, no allowances: the
offer stays on the subscriber's list and renews the next period), logged and counted.

A subsystem (``renewals``) of the primary process, like the sweeper; the clock is injected and
``run_once(now_ms)`` does one pass (tests and tools step it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prometheus_client import Counter

from ocs.balance.errors import BalanceError
from ocs.balance.keys import PartitionKeys
from ocs.balance.model import Account, Charge, Outcome, Status
from ocs.balance.store import BalanceStore
from ocs.policy.catalog import Catalog
from ocs.policy.offers import allowance_buckets
from ocs.policy.periods import BillPeriod, bill_period
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.charging.renewals")

RENEWALS = Counter(
    "ocs_charging_renewals_total",
    "Offer renewals (recurring fees) by outcome: ok, no_credit, denied, skipped (the period "
    "ended unpaid), gone (the offer is no longer held)",
    ["outcome"],
)
_OUTCOMES = {
    Outcome.OK: "ok",
    Outcome.NO_CREDIT: "no_credit",
    Outcome.DENIED: "denied",
    Outcome.INVALID: "gone",
}


@dataclass(frozen=True, slots=True)
class RenewalReport:
    renewed: int
    """Offers renewed (fee charged, allowances granted) in this pass."""
    refused: int
    """Renewals refused for now (no credit, not active): tried again later in the period."""
    skipped: int
    """Periods that ended with their fee unpaid."""


def account_period(account: Account, now_ms: int) -> BillPeriod:
    """The account's bill period containing ``now_ms`` (its time zone and cycle day)."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    return bill_period(now, ZoneInfo(account.timezone or "UTC"), account.bill_cycle_day or 1)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Renewals:
    name = "renewals"

    def __init__(
        self,
        store: BalanceStore,
        catalog: Catalog,
        clock: Callable[[], int],
        *,
        interval_ms: int = 60_000,
        retry_ms: int = 3_600_000,
        batch: int = 500,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.interval = interval_ms / 1000
        self.retry_ms = retry_ms
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self.passed = asyncio.Event()
        """Set after every timer-driven pass (tests wait on it instead of sleeping)."""

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once(self.clock())
            except BalanceError as exc:
                log.warning("renewal pass failed error=%s", exc)
            self.passed.set()
            await asyncio.sleep(self.interval)

    async def run_once(self, now_ms: int) -> RenewalReport:
        """Renew everything due at ``now_ms``, in every partition."""
        reports = await asyncio.gather(
            *(
                self._partition(self.store.partition(p), now_ms)
                for p in range(self.store.partitions)
            )
        )
        return RenewalReport(
            sum(r.renewed for r in reports),
            sum(r.refused for r in reports),
            sum(r.skipped for r in reports),
        )

    async def _partition(self, p: PartitionKeys, now_ms: int) -> RenewalReport:
        due = await self.store.execute(
            p.slot, "ZRANGEBYSCORE", p.renewals, "-inf", now_ms, "LIMIT", 0, self.batch
        )
        renewed = refused = skipped = 0
        for raw in due:
            subscriber_id = raw.decode()
            r, f, s = await self.renew(p, subscriber_id, now_ms)
            renewed, refused, skipped = renewed + r, refused + f, skipped + s
        return RenewalReport(renewed, refused, skipped)

    async def renew(
        self, p: PartitionKeys, subscriber_id: str, now_ms: int
    ) -> tuple[int, int, int]:
        """Renew one subscriber's offers for every period due by ``now_ms`` (a process that
        was down catches up period by period); returns (renewed, refused, skipped)."""
        renewed = refused = skipped = 0
        while True:
            score = await self.store.execute(p.slot, "ZSCORE", p.renewals, subscriber_id)
            if score is None or int(float(score)) > now_ms:
                return renewed, refused, skipped
            due_ms = int(float(score))
            subscriber = await self.store.get_subscriber(subscriber_id)
            account = await self.store.get_account(subscriber.account_id) if subscriber else None
            offers = [
                offer_id
                for offer_id in (subscriber.offers if subscriber else ())
                if (offer := self.catalog.offer(offer_id)) is not None and offer.recurring_fee
            ]
            if (
                subscriber is None
                or account is None
                or not offers
                or (subscriber.status is Status.TERMINATED)
            ):
                await self.store.execute(p.slot, "ZREM", p.renewals, subscriber_id)
                return renewed, refused, skipped
            period = account_period(account, due_ms)
            outcomes = [
                await self._renew_offer(subscriber_id, offer_id, period, now_ms)
                for offer_id in offers
            ]
            renewed += outcomes.count(Outcome.OK)
            waiting = sum(o in (Outcome.NO_CREDIT, Outcome.DENIED) for o in outcomes)
            end_ms = epoch_ms(period.end)
            if waiting and now_ms < end_ms:
                refused += waiting
                next_ms = min(now_ms + self.retry_ms, end_ms)
            else:
                if waiting:
                    skipped += waiting
                    RENEWALS.labels("skipped").inc(waiting)
                    log.warning(
                        "renewal skipped subscriber=%s period=%s offers=%d reason=unpaid",
                        subscriber_id,
                        period.id,
                        waiting,
                    )
                next_ms = end_ms
            await self.store.execute(p.slot, "ZADD", p.renewals, next_ms, subscriber_id)
            if next_ms > now_ms:
                return renewed, refused, skipped

    async def _renew_offer(
        self, subscriber_id: str, offer_id: str, period: BillPeriod, now_ms: int
    ) -> Outcome:
        offer = self.catalog.offer(offer_id)
        assert offer is not None
        buckets = allowance_buckets(self.catalog, offer_id, now_ms, f"r{period.id}")
        result = await self.store.purchase(
            f"renew:{subscriber_id}:{offer_id}:{period.id}",
            subscriber_id,
            offer_id,
            kind="renewal",
            charges=[Charge("fee", offer.recurring_fee, period.id)],
            buckets=buckets,
            now_ms=now_ms,
            actor="renewals",
        )
        outcome = result.outcome
        if result.replayed:
            return outcome
        if outcome is Outcome.OK:
            log.info(
                "offer renewed subscriber=%s offer=%s period=%s fee=%d",
                subscriber_id,
                offer_id,
                period.id,
                offer.recurring_fee,
            )
        RENEWALS.labels(_OUTCOMES.get(outcome, outcome.value.lower())).inc()
        return outcome
