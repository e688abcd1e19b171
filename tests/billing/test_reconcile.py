"""Reconciliation catches planted missing, duplicated and late events; anomalies are flagged."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from ocs.balance.model import RequestType
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.anomalies import find_anomalies
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.reconcile import reconcile
from ocs.billing_bridge.run import run_period
from ocs.config import BillingConfig
from ocs.policy.catalog import load_catalog
from tests.balance.helpers import ccr, item, ok
from tests.billing.accounts import AFTER_NOV, NOV, ingest, ms, november_usage, postpaid

CATALOG = load_catalog(Path("config/catalog.toml"))
CONFIG = BillingConfig()


def kinds(report: object) -> list[str]:
    return sorted(d.kind for d in report.discrepancies)  # type: ignore[attr-defined]


async def billed(
    store: BalanceStore, ledger: Ledger, tmp_path: Path, name: str
) -> tuple[str, str, str]:
    ids = await postpaid(store, name, offers=["payg", "voice_pack"])
    await november_usage(store, ids, name)
    await ingest(store, ledger)
    await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path)
    return ids


async def test_balances_events_ledger_and_invoices_agree(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    await billed(store, ledger, tmp_path, "4934001")
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert report.ok, report.discrepancies
    assert report.counts["stream_entries"] == report.counts["ledger_events"] > 10
    assert report.counts["accounts"] == 1 and report.counts["documents"] == 1
    written = report.write(tmp_path)
    assert '"ok": true' in written.read_text()


async def test_a_planted_missing_event_is_caught(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await billed(store, ledger, tmp_path, "4934002")
    p = store.keys[store.partition_of(ids[0])]
    await store.topup("lost", ids[1], 777, "EUR", now_ms=NOV)  # its event never reaches billing
    (last,) = await store.execute(p.slot, "XREVRANGE", p.stream, "+", "-", "COUNT", 1)
    await store.execute(p.slot, "XDEL", p.stream, last[0])
    await ingest(store, ledger)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    (found,) = report.discrepancies
    assert (found.kind, found.account) == ("balance_mismatch", ids[1])
    assert "bucket money" in found.detail
    redis_side = (await store.get_account(ids[1])).money  # type: ignore[union-attr]
    assert f"redis {redis_side}, ledger {redis_side - 777}" in found.detail

    # and an event that left the ledger (deleted by hand) while the stream still has it
    ledger_id = "topup:" + "lost"
    assert ledger.query("SELECT COUNT(*) FROM events WHERE event_id = ?", (ledger_id,)) == [(0,)]
    gone = ledger.query("SELECT event_id FROM events WHERE type = 'adjust'")[0][0]
    with ledger.transaction() as cur:
        cur.execute("DELETE FROM events WHERE event_id = ?", (gone,))
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert "missing_from_ledger" in kinds(report) and "document_mismatch" in kinds(report)
    assert any(d.event_id == gone for d in report.discrepancies)


async def test_a_planted_duplicate_event_is_caught_and_counted_once(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await billed(store, ledger, tmp_path, "4934003")
    p = store.keys[store.partition_of(ids[0])]
    (entry,) = await store.execute(p.slot, "XRANGE", p.stream, "-", "+", "COUNT", 1)
    copy = dict(zip(entry[1][::2], entry[1][1::2], strict=True))[b"e"]
    await store.execute(p.slot, "XADD", p.stream, "*", "e", copy)
    await ingest(store, ledger)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert kinds(report) == ["duplicated"]
    assert report.discrepancies[0].event_id.startswith("provision:")
    assert report.counts["stream_entries"] == report.counts["ledger_events"] + 1


async def test_a_late_event_in_an_issued_period_and_an_unread_stream_are_reported(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await billed(store, ledger, tmp_path, "4934004")
    await store.adjust("late", ids[1], "money", -300, reason="late", actor="care", now_ms=NOV)
    behind = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert kinds(behind) == ["balance_mismatch", "ledger_behind", "missing_from_ledger"]
    await ingest(store, ledger)
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert kinds(report) == ["document_mismatch", "document_movement_mismatch"]
    moved = next(d for d in report.discrepancies if d.kind == "document_movement_mismatch")
    assert "adjustment lines add up to -150" in moved.detail and "to 150" in moved.detail
    await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path, correct_changed=True)
    assert (await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)).ok


def test_a_day_far_above_the_subscribers_usual_day_is_an_anomaly() -> None:
    day = 86_400_000
    start = ms(2026, 11, 1)
    rows = [("S", 100, "octets", start - n * day, 1000 + n) for n in range(1, 6)]
    rows += [
        ("S", 100, "octets", start + 2 * day, 4000),
        ("S", 100, "octets", start + 3 * day, 6000),
    ]
    rows += [("NEW", 100, "octets", start + day, 10**9)]  # no history: never flagged
    found = find_anomalies(
        rows, start, ms(2026, 12, 1), factor=5, history_days=14, min_history_days=3
    )
    assert [(a.subscriber, a.day, a.used, a.usual) for a in found] == [
        ("S", "2026-11-04", 6000, 1003)  # median_low of 1001..1005 and 4000
    ]


async def test_reconcile_flags_a_usage_spike_in_the_report_and_the_metric(
    store: BalanceStore, ledger: Ledger
) -> None:
    ids = await postpaid(store, "4934005", offers=["payg"])
    for n, used in enumerate([1000, 1200, 900, 1100, 50_000]):
        when = ms(2026, 11, 3 + n, 12)
        sid = f"spike-{n}"
        ok(
            await ccr(
                store, ids, sid, 0, RequestType.INITIAL, [item(100, requested=used)], now=when
            )
        )
        ok(await ccr(store, ids, sid, 1, RequestType.TERMINATE, [item(100, used=used)], now=when))
    await ingest(store, ledger)
    before = REGISTRY.get_sample_value("ocs_billing_anomalies_flagged_total") or 0
    report = await reconcile(store, ledger, CATALOG, "2026-11", CONFIG)
    assert report.ok
    assert [(a.subscriber, a.day, a.used) for a in report.anomalies] == [
        (ids[2], "2026-11-07", 50_000)
    ]
    assert (REGISTRY.get_sample_value("ocs_billing_anomalies_flagged_total") or 0) - before == 1
