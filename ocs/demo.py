"""Demo subscribers: provisioned at start so a gateway can charge against ``make run`` at once.

Subscriber ``n`` (from 0) has MSISDN ``first_msisdn + n`` and IMSI
``first_imsi + n``, its own customer and prepaid account ``demo-<msisdn>``
with ``money`` in the main wallet, and the configured offers: their allowances
for the current bill period free, their recurring fees charged from the next
period on (``ocs.charging.renewals``). Every step has a fixed operation id, so
starting again changes nothing that exists.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ocs.balance.model import Identity, Outcome
from ocs.balance.store import BalanceStore
from ocs.charging.core import wall_clock_ms
from ocs.charging.renewals import account_period, epoch_ms
from ocs.config import DemoConfig
from ocs.errors import StartupError
from ocs.policy.catalog import Catalog
from ocs.policy.offers import allowance_buckets

log = logging.getLogger("ocs.demo")

CONCURRENCY = 64
_DONE = (Outcome.OK, Outcome.ALREADY_EXISTS)


@dataclass(frozen=True, slots=True)
class DemoSubscriber:
    msisdn: str
    imsi: str

    @property
    def id(self) -> str:
        return f"demo-{self.msisdn}"


def demo_subscribers(config: DemoConfig) -> list[DemoSubscriber]:
    msisdn, imsi = int(config.first_msisdn), int(config.first_imsi)
    width = len(config.first_imsi)
    return [
        DemoSubscriber(str(msisdn + n), str(imsi + n).zfill(width))
        for n in range(config.subscribers)
    ]


class DemoProvisioner:
    """Subsystem: make sure the demo subscribers exist, then step aside."""

    name = "demo"

    def __init__(self, config: DemoConfig, catalog: Catalog, store: BalanceStore) -> None:
        self.config = config
        self.catalog = catalog
        self.store = store

    async def start(self) -> None:
        unknown = [offer for offer in self.config.offers if self.catalog.offer(offer) is None]
        if unknown:
            raise StartupError(f"demo.offers: unknown offer {unknown[0]!r} in the catalog")
        subscribers = demo_subscribers(self.config)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(subscriber: DemoSubscriber) -> None:
            async with gate:
                await self.provision(subscriber)

        await asyncio.gather(*(one(subscriber) for subscriber in subscribers))
        if subscribers:
            log.info(
                "demo subscribers ready count=%d msisdn=%s..%s offers=%s money=%d",
                len(subscribers),
                subscribers[0].msisdn,
                subscribers[-1].msisdn,
                ",".join(self.config.offers),
                self.config.money,
            )

    async def stop(self) -> None:
        return None

    async def provision(self, subscriber: DemoSubscriber) -> None:
        ident = subscriber.id
        now_ms = wall_clock_ms()
        _check(await self.store.create_customer(f"demo:c:{ident}", ident, now_ms=now_ms), ident)
        _check(
            await self.store.create_account(
                f"demo:a:{ident}",
                ident,
                ident,
                currency=self.catalog.currency,
                now_ms=now_ms,
                opening_balance=self.config.money,
                timezone=self.config.timezone,
            ),
            ident,
        )
        _check(
            await self.store.create_subscriber(
                f"demo:s:{ident}",
                ident,
                ident,
                identities=[Identity("e164", subscriber.msisdn), Identity("imsi", subscriber.imsi)],
                now_ms=now_ms,
                offers=self.config.offers,
            ),
            ident,
        )
        account = await self.store.get_account(ident)
        assert account is not None
        for offer_id in self.config.offers:
            offer = self.catalog.offer(offer_id)
            assert offer is not None
            buckets = allowance_buckets(self.catalog, offer_id, now_ms, "demo")
            if not buckets and not offer.recurring_fee:
                continue
            # the first period is a gift (no charges); the recurring fee falls due when the
            # next bill period starts
            renew_at = (
                epoch_ms(account_period(account, now_ms).end) if offer.recurring_fee else None
            )
            _check(
                await self.store.purchase(
                    f"demo:b:{ident}:{offer_id}",
                    ident,
                    offer_id,
                    kind="purchase",
                    charges=[],
                    buckets=buckets,
                    now_ms=now_ms,
                    renew_at=renew_at,
                    actor="demo",
                ),
                ident,
            )


def _check(result: object, ident: str) -> None:
    outcome = getattr(result, "outcome", None)
    if outcome not in _DONE:
        raise StartupError(f"demo subscriber {ident}: provisioning answered {outcome}: {result}")
