"""A postpaid and a prepaid account with catalog offers, and November 2026 traffic on them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ocs.api.orders import purchase_charges
from ocs.balance.model import DebitItem, Identity, RequestType
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.consumer import Bridge
from ocs.billing_bridge.ledger import Ledger
from ocs.charging.renewals import Renewals
from ocs.config import BillingConfig
from ocs.policy.catalog import load_catalog
from ocs.policy.offers import allowance_buckets
from tests.balance.helpers import DATA, VOICE, ccr, item, ok


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


NOV = ms(2026, 11, 10, 12)
AFTER_NOV = ms(2026, 12, 2)


CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "config" / "catalog.toml")
OCT = ms(2026, 10, 5)


async def buy(
    store: BalanceStore, ids: tuple[str, str, str], offer_id: str, when: int, order: str
) -> None:
    """An order of ``offer_id`` at ``when`` (what ocs.api.orders does)."""
    account = await store.get_account(ids[1])
    assert account is not None
    charges, renew_at = purchase_charges(CATALOG, offer_id, account, when)
    result = await store.purchase(
        f"order:{order}",
        ids[2],
        offer_id,
        kind="purchase",
        charges=charges,
        buckets=allowance_buckets(CATALOG, offer_id, when, order),
        now_ms=when,
        renew_at=renew_at,
    )
    assert result.ok, result


async def renew(store: BalanceStore, when: int) -> None:
    """The recurring fees due at ``when``, as the renewals subsystem charges them."""
    await Renewals(store, CATALOG, clock=lambda: when).run_once(when)


async def postpaid(store: BalanceStore, name: str, offers: list[str]) -> tuple[str, str, str]:
    """A postpaid account opened in October, holding payg and ``offers`` (bought in October:
    their fees fall due on 1 November)."""
    cust, acct, sub = f"C-{name}", f"A-{name}", f"S-{name}"
    assert (await store.create_customer(f"c-{name}", cust, now_ms=OCT)).ok
    assert (
        await store.create_account(
            f"a-{name}", acct, cust, currency="EUR", now_ms=OCT, credit_limit=1_000_000
        )
    ).ok
    result = await store.create_subscriber(
        f"s-{name}", sub, acct, identities=[Identity("e164", name)], now_ms=OCT, offers=["payg"]
    )
    assert result.ok
    for offer in offers:
        if offer != "payg":
            await buy(store, (cust, acct, sub), offer, ms(2026, 10, 20), f"{name}-{offer}")
    return cust, acct, sub


async def prepaid(store: BalanceStore, name: str, opening: int) -> tuple[str, str, str]:
    cust, acct, sub = f"C-{name}", f"A-{name}", f"S-{name}"
    assert (await store.create_customer(f"c-{name}", cust, now_ms=OCT)).ok
    assert (
        await store.create_account(
            f"a-{name}", acct, cust, currency="EUR", now_ms=OCT, opening_balance=opening
        )
    ).ok
    result = await store.create_subscriber(
        f"s-{name}",
        sub,
        acct,
        identities=[Identity("e164", name)],
        now_ms=OCT,
        offers=["payg"],
    )
    assert result.ok
    return cust, acct, sub


async def november_usage(store: BalanceStore, ids: tuple[str, str, str], tag: str) -> None:
    """The recurring fees due on 1 November, data and voice sessions, an SMS debit, a bundle
    bought, an adjustment, a refund, and usage just outside November (October and December)
    that the November documents must leave out."""
    await renew(store, ms(2026, 11, 1, 0, 5))
    for n, (when, used) in enumerate(
        [
            (ms(2026, 11, 3), 123_456),
            (NOV, 1_000_001),
            (ms(2026, 10, 31, 23), 5000),
            (ms(2026, 12, 1, 0, 0), 7000),
        ]
    ):
        sid = f"{tag}-data-{n}"
        ok(
            await ccr(
                store, ids, sid, 0, RequestType.INITIAL, [item(100, requested=used)], now=when
            )
        )
        ok(await ccr(store, ids, sid, 1, RequestType.TERMINATE, [item(100, used=used)], now=when))
    sid = f"{tag}-voice"
    voice = item(200, requested=300, tariff=VOICE)
    ok(await ccr(store, ids, sid, 0, RequestType.INITIAL, [voice], now=NOV))
    used = item(200, used=185, tariff=VOICE)
    ok(await ccr(store, ids, sid, 1, RequestType.TERMINATE, [used], now=NOV))
    await store.debit(f"{tag}-sms", ids[1], [DebitItem(300, None, 1000, DATA)], now_ms=NOV)
    await buy(store, ids, "bundle_s", NOV, f"{tag}-order")
    await store.adjust(
        f"{tag}-goodwill", ids[1], "money", 150, reason="goodwill", actor="care", now_ms=NOV
    )
    await store.refund(
        f"{tag}-ref", ids[1], now_ms=NOV, refund_of=f"{tag}-sms", reason="sms not delivered"
    )


async def ingest(store: BalanceStore, ledger: Ledger) -> None:
    await Bridge(store, ledger, BillingConfig(), "test").drain()
