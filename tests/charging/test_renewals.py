"""Offer purchases and recurring fees: one script charges, grants and schedules; renewals at
bill period starts charge each period once, retry while the wallet is short, skip an unpaid
period when it ends, catch up after downtime, and stop with the offer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ocs.api.orders import purchase_charges
from ocs.balance.events import read_partition
from ocs.balance.model import Charge, Identity, Outcome
from ocs.balance.store import BalanceStore
from ocs.charging.renewals import Renewals, account_period, epoch_ms
from ocs.policy.catalog import Catalog
from ocs.policy.offers import allowance_buckets
from tests.charging.conftest import catalog_with

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000


def at(day: str, time: str = "12:00") -> int:
    return epoch_ms(datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=BERLIN))


async def subscriber(store: BalanceStore, name: str, money: int) -> str:
    """Customer, prepaid account (Berlin, cycle day 1) and subscriber ``name`` with payg."""
    now = at("2026-11-01")
    assert (await store.create_customer(f"c-{name}", name, now_ms=now)).ok
    assert (
        await store.create_account(
            f"a-{name}",
            name,
            name,
            currency="EUR",
            now_ms=now,
            opening_balance=money,
            timezone="Europe/Berlin",
        )
    ).ok
    assert (
        await store.create_subscriber(
            f"s-{name}",
            name,
            name,
            identities=[Identity("e164", name)],
            now_ms=now,
            offers=("payg",),
        )
    ).ok
    return name


async def buy(store: BalanceStore, catalog: Catalog, name: str, offer_id: str, now: int) -> str:
    """What orders.py does: the price (and this period's fee if the price does not cover
    it), the allowances, the next renewal at the next period start."""
    account = await store.get_account(name)
    assert account is not None
    charges, renew_at = purchase_charges(catalog, offer_id, account, now)
    result = await store.purchase(
        f"order:{name}:{offer_id}",
        name,
        offer_id,
        kind="purchase",
        charges=charges,
        buckets=allowance_buckets(catalog, offer_id, now, f"o-{name}"),
        now_ms=now,
        renew_at=renew_at,
    )
    assert result.ok, result
    return name


async def money(store: BalanceStore, name: str) -> int:
    account = await store.get_account(name)
    assert account is not None
    return account.money


async def fees(store: BalanceStore, name: str) -> list[tuple[str, str, int, str]]:
    """(kind, offer, amount, period) of every charge of the account's purchase events."""
    account = await store.get_account(name)
    assert account is not None
    events = await read_partition(store, account.partition)
    return [
        (e.data["kind"], e.data["offer"], c["amount"], c["what"] + ":" + c["period"])
        for e in events
        if e.type.value == "purchase" and e.data["acct"] == name
        for c in e.data["charges"]
    ]


async def test_a_bundle_is_charged_once_per_period_from_the_next_period_on(
    store: BalanceStore, catalog: Catalog
) -> None:
    name = await subscriber(store, "4960000001", money=2000)
    await buy(store, catalog, name, "bundle_s", at("2026-11-18"))
    assert await money(store, name) == 1501  # the price pays for November
    renewals = Renewals(store, catalog, clock=lambda: 0)
    assert (await renewals.run_once(at("2026-11-30", "23:59"))).renewed == 0
    report = await renewals.run_once(at("2026-12-01", "00:01"))
    assert (report.renewed, report.refused, report.skipped) == (1, 0, 0)
    assert await money(store, name) == 1002
    assert (await renewals.run_once(at("2026-12-20"))).renewed == 0  # December is paid
    account = await store.get_account(name)
    assert account is not None
    assert account.bucket("bundle_s.data.r2026-12-01") is not None
    assert await fees(store, name) == [
        ("purchase", "bundle_s", 499, "price:"),
        ("renewal", "bundle_s", 499, "fee:2026-12-01"),
    ]
    assert (await renewals.run_once(at("2027-01-01", "08:00"))).renewed == 1
    assert await money(store, name) == 503


async def test_an_offer_whose_price_does_not_cover_the_first_period_charges_its_fee_too(
    store: BalanceStore,
) -> None:
    def separate_fee(data: dict) -> None:  # type: ignore[type-arg]
        data["offers"]["voice_pack"]["price_covers_first_period"] = False

    catalog = catalog_with(separate_fee)
    name = await subscriber(store, "4960000002", money=1000)
    await buy(store, catalog, name, "voice_pack", at("2026-11-18"))
    assert await money(store, name) == 1000 - 399 - 399
    assert await fees(store, name) == [
        ("purchase", "voice_pack", 399, "price:"),
        ("purchase", "voice_pack", 399, "fee:2026-11-01"),
    ]
    renewals = Renewals(store, catalog, clock=lambda: 0)
    assert (await renewals.run_once(at("2026-11-30"))).renewed == 0  # November paid at purchase


async def test_a_renewal_waits_for_credit_and_skips_a_period_left_unpaid(
    store: BalanceStore, catalog: Catalog
) -> None:
    name = await subscriber(store, "4960000003", money=499)
    await buy(store, catalog, name, "bundle_s", at("2026-11-18"))
    assert await money(store, name) == 0
    renewals = Renewals(store, catalog, clock=lambda: 0, retry_ms=HOUR)
    refused = await renewals.run_once(at("2026-12-01", "00:30"))
    assert (refused.renewed, refused.refused) == (0, 1)
    assert await money(store, name) == 0
    assert (await renewals.run_once(at("2026-12-01", "01:00"))).refused == 0  # not yet again
    topped = await store.topup("p1", name, 600, "EUR", now_ms=at("2026-12-01", "02:00"))
    assert topped.outcome is Outcome.OK
    assert (await renewals.run_once(at("2026-12-01", "02:00"))).renewed == 1
    assert await money(store, name) == 101
    # January: nothing until the period is over, then the fee is skipped, not owed
    assert (await renewals.run_once(at("2027-01-01", "00:10"))).refused == 1
    skipped = await renewals.run_once(at("2027-02-01", "00:10"))
    assert (skipped.skipped, skipped.refused) == (1, 1)  # January skipped, February waits
    assert await money(store, name) == 101
    periods = [f[3] for f in await fees(store, name)]
    assert periods == ["price:", "fee:2026-12-01"]


async def test_renewals_catch_up_period_by_period_and_end_with_the_offer(
    store: BalanceStore, catalog: Catalog
) -> None:
    name = await subscriber(store, "4960000004", money=5000)
    await buy(store, catalog, name, "bundle_s", at("2026-11-18"))
    renewals = Renewals(store, catalog, clock=lambda: 0)
    # down from November to February: December, January and February are due
    assert (await renewals.run_once(at("2027-02-10"))).renewed == 3
    assert (await renewals.run_once(at("2027-02-10"))).renewed == 0  # each period once
    assert await money(store, name) == 5000 - 4 * 499
    # a second process renewing at the same time charges nothing more
    other = Renewals(store, catalog, clock=lambda: 0)
    assert (await other.run_once(at("2027-02-10"))).renewed == 0
    subscriber_now = await store.get_subscriber(name)
    assert subscriber_now is not None
    assert (
        await store.change_offers("cancel", name, now_ms=at("2027-02-11"), remove=["bundle_s"])
    ).ok
    assert (await renewals.run_once(at("2027-03-01", "06:00"))).renewed == 0
    assert await money(store, name) == 5000 - 4 * 499
    account = await store.get_account(name)
    assert account is not None
    found = await store.execute(
        store.keys[account.partition].slot, "ZSCORE", store.keys[account.partition].renewals, name
    )
    assert found is None  # nothing left to renew: out of the index


async def test_a_purchase_the_wallet_cannot_pay_changes_nothing(
    store: BalanceStore, catalog: Catalog
) -> None:
    name = await subscriber(store, "4960000005", money=100)
    account = await store.get_account(name)
    assert account is not None
    result = await store.purchase(
        "order:poor",
        name,
        "bundle_s",
        kind="purchase",
        charges=[],
        buckets=allowance_buckets(catalog, "bundle_s", at("2026-11-18"), "poor"),
        now_ms=at("2026-11-18"),
        renew_at=epoch_ms(account_period(account, at("2026-11-18")).end),
    )
    assert result.ok  # no charges: a gift (the demo's first period)
    poor = await store.purchase(
        "order:poor-2",
        name,
        "bundle_m",
        kind="purchase",
        charges=[Charge("price", 999)],
        buckets=allowance_buckets(catalog, "bundle_m", at("2026-11-18"), "poor-2"),
        now_ms=at("2026-11-18"),
    )
    assert poor.outcome is Outcome.NO_CREDIT
    after = await store.get_account(name)
    sub = await store.get_subscriber(name)
    assert after is not None and sub is not None
    assert after.money == 100 and "bundle_m" not in sub.offers
    assert not [b for b in after.buckets if b.id.startswith("bundle_m.")]
