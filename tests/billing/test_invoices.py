"""Invoices and statements from real events: totals, discounts, tax, numbering, immutability."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from ocs.balance.store import BalanceStore
from ocs.billing_bridge.invoices import (
    AccountSnapshot,
    SubscriberSnapshot,
    UsageRow,
    build_invoice,
    round_half_up,
)
from ocs.billing_bridge.issuing import current, stored
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.run import run_period
from ocs.policy.catalog import Catalog, load_catalog
from tests.billing.accounts import AFTER_NOV, NOV, ingest, ms, november_usage, postpaid, prepaid
from tests.billing.traffic import stream_events

CATALOG = load_catalog(Path("config/catalog.toml"))


def test_rounding_is_half_away_from_zero() -> None:
    assert [round_half_up(Fraction(n, 2)) for n in (-3, -1, 1, 3, 4)] == [-2, -1, 1, 2, 2]
    assert round_half_up(Fraction(1125 * 10, 100)) == 113


@given(
    usage=st.lists(
        st.tuples(st.sampled_from([100, 200, 300, 500]), st.integers(0, 10**9)), max_size=8
    ),
    offers=st.lists(st.sampled_from(["payg", "voice_pack", "bundle_s", "bundle_m"]), unique=True),
)
def test_an_invoice_total_is_its_lines_plus_tax_on_the_net(
    usage: list[tuple[int, int]], offers: list[str]
) -> None:
    account = AccountSnapshot(
        "A", "C", "EUR", 10, "UTC", 1, (SubscriberSnapshot("S", tuple(offers)),)
    )
    rows = [UsageRow("S", rg, "octets", 1, money, money) for rg, money in usage]
    doc = build_invoice(CATALOG, account, ("2026-11-01", 0, 1), rows, [])
    assert doc.net == sum(line.amount for line in doc.lines)
    assert doc.tax == round_half_up(Fraction(doc.net * CATALOG.data.tax_percent, 100))
    assert doc.total == doc.net + doc.tax
    internet = sum(money for rg, money in usage if rg == 100)
    discount = sum(line.amount for line in doc.lines if line.kind == "discount")
    expected = -round_half_up(Fraction(internet * 10, 100)) if "voice_pack" in offers else 0
    assert discount == expected
    # fees are what renewals charged (events), never the offers held at billing time
    assert not [line for line in doc.lines if line.kind in ("fee", "purchase")]


async def test_a_postpaid_invoice_adds_up_to_its_events_fees_discounts_and_tax(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await postpaid(store, "4932001", offers=["payg", "voice_pack"])
    await november_usage(store, ids, "p")
    await ingest(store, ledger)
    report = await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path / "out")
    (invoice,) = report.issued
    assert invoice.kind == "invoice" and invoice.number == "INV-000001"

    # the same sums, straight from the stream (not the ledger)
    start, end = ms(2026, 11, 1), ms(2026, 12, 1)
    events = [e for e in await stream_events(store) if start <= e.data["ts"] < end]
    usage: dict[int, int] = {}
    for e in events:
        for it in e.data.get("items") or ():
            usage[it["rg"]] = usage.get(it["rg"], 0) + it["money_charged"]
    refunds = sum(e.data["credited"].get("money", 0) for e in events if e.type == "refund")
    goodwill = sum(e.data["amount"] for e in events if e.type == "adjust")
    charges = [c for e in events if e.type == "purchase" for c in e.data["charges"]]
    fees = sum(c["amount"] for c in charges if c["what"] == "fee")
    purchase = sum(c["amount"] for c in charges if c["what"] == "price")
    discount = round_half_up(Fraction(usage[100] * 10, 100))
    net = sum(usage.values()) + fees + purchase - goodwill - refunds - discount
    # voice came out of the Voice Pack's allowance (renewed on 1 November with its fee)
    assert (usage[100], usage[200], usage[300], refunds, goodwill) == (1125, 0, 1, 1, 150)
    assert (fees, purchase) == (399, 499)
    assert invoice.net == net == 1760
    assert invoice.tax == round_half_up(Fraction(net * 19, 100)) == 334
    assert invoice.total == net + invoice.tax == 2094
    by_kind = {line.kind: line for line in invoice.lines if line.kind in ("fee", "purchase")}
    assert by_kind["fee"].description == ("Recurring fee: Voice Pack 300, period from 2026-11-01")
    assert by_kind["purchase"].description == "Purchase: Prepaid Bundle S"
    assert not [line for line in invoice.lines if line.rating_group == 0]  # never usage
    assert sum(line.amount for line in invoice.lines) == invoice.net
    data_line = next(line for line in invoice.lines if line.rating_group == 100)
    assert (data_line.quantity, data_line.events) == (123_456 + 1_000_001, 2)

    pdf = next(f for f in report.files if f.suffix == ".pdf")
    text = PdfReader(pdf).pages[0].extract_text()
    for needle in (
        "INVOICE",
        "INV-000001",
        "A-4932001",
        "EUR 20.94",
        "EUR 3.34",
        "Tax (19%)",
        "Discount: 10% off data with the Voice Pack",
        "2026-11-01 to 2026-11-30",
    ):
        assert needle in text, needle
    assert (tmp_path / "out/invoices/2026-11-01/INV-000001.json").exists()


async def test_rerunning_a_period_changes_nothing_and_a_correction_is_a_credit_note(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await postpaid(store, "4932002", offers=["payg"])
    await november_usage(store, ids, "q")
    await ingest(store, ledger)
    first = await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path)
    again = await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV + 1000, tmp_path)
    assert again.issued == [] and again.unchanged == first.issued
    original = first.issued[0]

    await store.adjust("late", ids[1], "money", -500, reason="late fee", actor="care", now_ms=NOV)
    await ingest(store, ledger)  # a late event in an issued period
    unchanged = await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path)
    assert unchanged.unchanged == [original] and unchanged.issued == []
    fixed = await run_period(
        store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path, correct_changed=True
    )
    note, replacement = fixed.issued
    assert (note.kind, note.number, note.corrects, note.total) == (
        "credit_note",
        "CN-000002",
        original.number,
        -original.total,
    )
    assert (replacement.number, replacement.revision, replacement.corrects) == (
        "INV-000003",
        1,
        original.number,
    )
    assert replacement.net == original.net + 500
    assert current(ledger, ids[1], "2026-11-01") == replacement
    assert [d.number for d in stored(ledger, ids[1], "2026-11-01")] == [
        "INV-000001",
        "CN-000002",
        "INV-000003",
    ]


async def test_a_prepaid_statement_runs_from_opening_to_closing_balance(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await prepaid(store, "4932003", opening=10_000)
    await store.topup("early", ids[1], 300, "EUR", now_ms=ms(2026, 10, 20))
    await november_usage(store, ids, "s")
    await store.topup("nov", ids[1], 2_000, "EUR", now_ms=NOV)
    await ingest(store, ledger)
    report = await run_period(store, ledger, CATALOG, "2026-11", AFTER_NOV, tmp_path)
    (statement,) = report.issued
    assert statement.kind == "statement" and statement.number == "STM-000001"
    october_data = 5  # 5000 octets on 31 October
    assert statement.opening_balance == 10_000 + 300 - october_data
    assert statement.closing_balance == statement.opening_balance + sum(
        line.amount for line in statement.lines
    )
    wallet = (await store.get_account(ids[1])).money  # type: ignore[union-attr]
    december_data = 7
    assert statement.closing_balance == wallet + december_data
    topups = [line for line in statement.lines if line.kind == "topup"]
    assert [(t.amount, t.events) for t in topups] == [(2000, 1)]


async def test_an_open_period_gets_a_draft_that_is_not_numbered_or_stored(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await postpaid(store, "4932004", offers=["payg", "bundle_s"])
    await november_usage(store, ids, "d")
    await ingest(store, ledger)
    report = await run_period(store, ledger, CATALOG, "2026-11", NOV, tmp_path)
    (draft,) = report.drafts
    assert draft.draft and draft.number == "" and report.issued == []
    assert ledger.query("SELECT COUNT(*) FROM invoices") == [(0,)]
    pdf = tmp_path / f"invoices/2026-11-01/DRAFT-{ids[1]}.pdf"
    assert "DRAFT - not issued" in PdfReader(pdf).pages[0].extract_text()


def test_catalog_is_the_demo_catalog() -> None:
    assert isinstance(CATALOG, Catalog) and CATALOG.data.tax_percent == 19
