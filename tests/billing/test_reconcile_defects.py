"""Reconciliation names each money defect an outsider once found, planted as it was:

1. an invoice listing a purchase twice (as rating-group-0 usage and as a purchase);
2. one payment id on two accounts writing one event id twice;
6. one Session-Id in two partitions writing one event id twice;
7. a top-up past 2^53 answered OK while the balance did not move, and a balance past 2^53.

Each is planted in the streams, the ledger or the documents the way the old code wrote it;
reconcile must fail naming it. A clean month reconciles with no discrepancy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack

from ocs.balance.events import decode
from ocs.balance.model import MAX_INT, DebitItem, RequestType
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.invoices import Line
from ocs.billing_bridge.issuing import account_snapshot, compute, issue
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.reconcile import reconcile
from ocs.billing_bridge.run import run_period
from tests.balance.helpers import ccr, item, ok
from tests.billing.accounts import AFTER_NOV, NOV, ingest, november_usage, postpaid, prepaid
from tests.billing.test_reconcile import CATALOG, CONFIG, kinds


async def rewrite_last_entry(
    store: BalanceStore, partition: int, change: Callable[[Any], Any], *, keep: bool = False
) -> None:
    """Replace the newest entry of a partition stream by ``change`` of its payload (what an
    engine that wrote it that way would have appended); ``keep``: append it, keep the old."""
    p = store.keys[partition]
    (last,) = await store.execute(p.slot, "XREVRANGE", p.stream, "+", "-", "COUNT", 1)
    payload = msgpack.unpackb(dict(zip(last[1][::2], last[1][1::2], strict=True))[b"e"])
    if not keep:
        await store.execute(p.slot, "XDEL", p.stream, last[0])
    await store.execute(p.slot, "XADD", p.stream, "*", "e", msgpack.packb(change(payload)))


async def test_a_clean_month_with_every_kind_of_movement_reconciles(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await postpaid(store, "4936001", offers=["payg", "voice_pack"])
    await november_usage(store, ids, "clean")
    pre = await prepaid(store, "4936002", opening=20_000)
    await november_usage(store, pre, "clean-pre")
    await store.topup("pay-9", pre[1], 1234, "EUR", now_ms=NOV)
    await ingest(store, ledger)
    report = await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path)
    assert {d.kind for d in report.issued} == {"invoice", "statement"}
    checked = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert checked.ok, checked.discrepancies
    assert checked.counts["documents"] == 2


async def test_1_a_purchase_billed_as_usage_and_as_a_purchase_is_named(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await postpaid(store, "4936003", offers=["payg"])
    # the old purchase: a money debit on rating group 0, and a bucket order naming the offer
    await store.debit(
        "order:o1",
        ids[1],
        [DebitItem(0, None, 499, None)],
        now_ms=NOV,
        subscriber_id=ids[2],
        service_info={"order": "o1", "offer": "bundle_s"},
    )
    await ingest(store, ledger)
    snapshot = await account_snapshot(store, ids[1])
    assert snapshot is not None
    fresh = compute(ledger, CATALOG, snapshot, "2026-11")
    # ... and the old invoice, which listed the debit as usage and the offer's price on top
    old = replace(
        fresh,
        lines=(*fresh.lines, Line("one_time", "Purchase: Prepaid Bundle S", 499, events=1)),
        net=fresh.net + 499,
        tax=0,
        tax_percent=0,
        total=fresh.net + 499,
    )
    issue(ledger, old, AFTER_NOV)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert not report.ok
    named = [d for d in report.discrepancies if d.kind == "document_movement_mismatch"]
    assert named and "one_time" in named[0].detail, report.discrepancies


async def test_2_one_payment_id_writing_one_event_id_on_two_accounts_is_named(
    store: BalanceStore, ledger: Ledger
) -> None:
    first = await prepaid(store, "4936004", opening=0)
    second = await prepaid(store, "4936005", opening=0)
    assert store.partition_of(first[0]) != store.partition_of(second[0])
    await store.topup("pay-1", first[1], 500, "EUR", now_ms=NOV)
    await store.topup("pay-1", second[1], 500, "EUR", now_ms=NOV)

    def old_id(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "id": "topup:pay-1"}

    for ids in (first, second):  # the old event id: the payment id alone
        await rewrite_last_entry(store, store.partition_of(ids[0]), old_id)
    await ingest(store, ledger)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert kinds(report) == ["id_reused"]
    assert report.discrepancies[0].event_id == "topup:pay-1"
    # the ledger dropped nothing: both top-ups replay into both balances
    ledgered = ledger.query("SELECT COUNT(*) FROM events WHERE type = 'topup'")
    assert ledgered == [(2,)]


async def test_6_one_session_id_in_two_partitions_is_named(
    store: BalanceStore, ledger: Ledger
) -> None:
    first = await prepaid(store, "4936006", opening=1000)
    second = await prepaid(store, "4936007", opening=1000)
    for ids, sid in ((first, "gw;1"), (second, "gw;2")):
        ok(await ccr(store, ids, sid, 0, RequestType.INITIAL, [item(requested=5000)], now=NOV))

    def same_session(payload: list[Any]) -> list[Any]:
        payload[2] = "session:gw;1:0"  # v2 session entry: position 2 is the event id
        payload[8] = "gw;1"
        return payload

    await rewrite_last_entry(store, store.partition_of(second[0]), same_session)
    await ingest(store, ledger)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert kinds(report) == ["id_reused"]
    assert report.discrepancies[0].event_id == "session:gw;1:0"


async def test_7_a_top_up_past_2_to_the_53_and_a_balance_beyond_it_are_named(
    store: BalanceStore, ledger: Ledger
) -> None:
    ids = await prepaid(store, "4936008", opening=0)
    await store.topup("big", ids[1], MAX_INT - 1, "EUR", now_ms=NOV)
    await store.topup("one-more", ids[1], 1, "EUR", now_ms=NOV)  # refused now: OUT_OF_RANGE

    def ok_but_unchanged(payload: dict[str, Any]) -> dict[str, Any]:
        """What the old engine wrote for a top-up at 2^53 - 1: +1 claimed, nothing moved."""
        return {**payload, "id": f"topup:{ids[1]}:one-more", "amount": 1, "delta": {}}

    await rewrite_last_entry(store, store.partition_of(ids[0]), ok_but_unchanged, keep=True)
    await ingest(store, ledger)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert kinds(report) == ["movement_mismatch"]
    assert "delta 0, its amounts say 1" in report.discrepancies[0].detail

    # a wallet Redis holds beyond 2^53 (a double that rounded): named, not just unequal
    p = store.keys[store.partition_of(ids[0])]
    raw = msgpack.unpackb(await store.execute(p.slot, "GET", p.account(ids[1])))
    raw["buckets"]["money"]["balance"] = MAX_INT + 2
    await store.execute(p.slot, "SET", p.account(ids[1]), msgpack.packb(raw))
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert "balance_out_of_bounds" in kinds(report) and "balance_mismatch" in kinds(report)
    events = [
        decode("1-0", {b"e": bytes(r[0])}) for r in ledger.query("SELECT payload FROM events")
    ]
    assert events  # the ledger kept every event it was given


async def test_an_operation_applied_again_after_a_failover_is_billed_once(
    store: BalanceStore, ledger: Ledger
) -> None:
    """Redis lost a top-up that billing had already read (a failover); the caller retried and
    the new primary applied it again, at another time, with the same effect: the ledger keeps
    it once, and reconcile counts it without a discrepancy."""
    ids = await prepaid(store, "4936009", opening=0)
    await store.topup("pay-f", ids[1], 500, "EUR", now_ms=NOV)
    await ingest(store, ledger)
    p = store.partition_of(ids[0])
    keys = store.keys[p]
    (last,) = await store.execute(keys.slot, "XREVRANGE", keys.stream, "+", "-", "COUNT", 1)
    await store.execute(keys.slot, "XDEL", keys.stream, last[0])  # lost with the old primary

    def applied_again(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "ts": payload["ts"] + 1500}

    original = msgpack.unpackb(dict(zip(last[1][::2], last[1][1::2], strict=True))[b"e"])
    await store.execute(
        keys.slot, "XADD", keys.stream, "*", "e", msgpack.packb(applied_again(original))
    )
    await ingest(store, ledger)
    assert ledger.query("SELECT COUNT(*) FROM events WHERE type = 'topup'") == [(1,)]
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert report.ok, report.discrepancies
    assert report.counts["reapplied"] == 1
