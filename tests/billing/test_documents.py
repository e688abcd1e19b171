"""The documents as a customer reads them: issuer, addressee, dates, tax per rate, totals, in
any script, with the fonts embedded; and the tax summary's arithmetic.

Rendered by the real renderer and read back with pypdf (text) and fontTools (the embedded
glyphs), as a PDF viewer would."""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from ocs.balance.engine import RedisTarget
from ocs.balance.model import Identity
from ocs.balance.store import BalanceStore
from ocs.bench.documents import CUSTOMERS, LETTERHEAD, invoice, samples
from ocs.billing_bridge.documents import money
from ocs.billing_bridge.invoices import Document, Line, TaxRate, round_half_up, tax_summary
from ocs.billing_bridge.issuing import bill_to
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.pdf import render
from ocs.billing_bridge.run import run_period
from ocs.config import BalanceConfig
from ocs.policy.catalog import load_catalog
from tests.billing.accounts import NOV, ingest, ms, november_usage

SAMPLES = samples()
CATALOG = load_catalog(Path("config/catalog.toml"))


@functools.cache
def rendered(name: str) -> bytes:
    """A sample's PDF, rendered once per test session."""
    return render(SAMPLES[name], 2)


def pages(document: Document | str) -> list[str]:
    data = rendered(document) if isinstance(document, str) else render(document, 2)
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text(document: Document | str) -> str:
    return "\n".join(pages(document))


def test_an_invoice_names_issuer_customer_dates_terms_tax_and_what_to_pay() -> None:
    printed = text("invoice-pl")
    for needle in (
        "INVOICE",
        "Demo Mobile GmbH",
        "Friedrichstraße 100",
        "VAT ID: DE123456789",
        "Zażółć Gęślą Jaźń",
        "ul. Świętokrzyska 12 m. 4",
        "00-916 Warszawa",
        "Invoice date 2026-12-02",
        "Due date 2026-12-16",
        "Payment terms 14 days net",
        "Billing period 2026-11-01 to 2026-11-30",
        "Net EUR 18.09",
        "Tax (19%) EUR 3.44",
        "Total due EUR 21.53",
        "Please pay EUR 21.53 by 2026-12-16, quoting the reference INV-000042.",
        "IBAN DE89 3704 0044 0532 0130 00",
        "Page 1 of 1",
    ):
        assert needle in printed, needle
    assert "minor units" not in printed  # no developer notes on a customer's document
    assert "?" not in printed


def test_every_kind_prints_its_customer_in_their_own_script() -> None:
    for name, customer in (
        ("invoice-pl", "pl"),
        ("credit-note-el", "el"),
        ("statement-ru", "ru"),
        ("invoice-ja", "ja"),
        ("invoice-ko-long", "ko"),
    ):
        printed = text(name)
        party = CUSTOMERS[customer]
        for needle in (party.name, *party.address):
            assert needle in printed, (name, needle)
        assert "Demo Mobile GmbH" in printed and "?" not in printed, name


def test_each_kind_says_what_it_is_and_what_is_due() -> None:
    note = text("credit-note-el")
    assert "CREDIT NOTE" in note and "Corrects INV-000042" in note
    assert "Total credited EUR -21.53" in note and "Tax (19%) EUR -3.44" in note
    assert "cancels invoice INV-000042 in full" in note and "Due date" not in note
    statement = text("statement-ru")
    assert "STATEMENT" in statement and "Closing balance EUR 19.93" in statement
    assert "nothing is due" in statement and "Tax" not in statement
    draft = text("draft-pl")
    assert "DRAFT - not issued" in draft and "not an invoice and nothing is due" in draft
    assert "IBAN" not in draft and "Invoice no. not issued" in draft


def test_a_line_after_a_cjk_line_keeps_the_body_font() -> None:
    # fpdf2 2.8.9 drew it with the page's previous font (bold): "NVVdVVVn 東京都"
    assert "100-0005 東京都" in text("invoice-ja")


def test_a_long_invoice_numbers_its_pages_and_repeats_the_table_headings() -> None:
    printed = pages("invoice-ko-long")
    assert len(printed) == 3
    for n, page in enumerate(printed, 1):
        assert f"Page {n} of 3" in page and "INV-000042" in page
        assert "Description" in page and "Amount" in page
    assert "Total due EUR 827.28" in printed[-1]


def embedded_glyphs(pdf: bytes) -> dict[str, bool]:
    """Every character some embedded font maps (ToUnicode), and whether its glyph in the
    embedded font file has an outline (not an empty .notdef stand-in)."""
    seen: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            program = descendant["/FontDescriptor"]["/FontFile2"].get_object().get_data()
            cid_to_gid = descendant["/CIDToGIDMap"].get_object().get_data()
            parsed = TTFont(io.BytesIO(program))
            order, glyf = parsed.getGlyphOrder(), parsed["glyf"]
            cmap = font["/ToUnicode"].get_object().get_data().decode()
            for cid, code in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,8})>", cmap):
                gid = int.from_bytes(cid_to_gid[2 * int(cid, 16) : 2 * int(cid, 16) + 2])
                char = chr(int(code, 16))
                outline = gid != 0 and glyf[order[gid]].numberOfContours != 0
                seen[char] = seen.get(char, False) or outline
    return seen


def test_the_pdf_embeds_a_glyph_for_every_character_of_every_name() -> None:
    for name, document in SAMPLES.items():
        glyphs = embedded_glyphs(rendered(name))
        party = document.bill_to
        for char in "".join((party.name, *party.address, LETTERHEAD.issuer.name)):
            if not char.isspace():
                assert glyphs.get(char), (document.bill_to.name, char)


def test_fonts_are_subset_so_a_cjk_invoice_stays_small() -> None:
    size = len(rendered("invoice-ja"))
    assert size < 80_000, size  # the CJK font alone is 5 MB: only used glyphs are embedded


def test_a_document_round_trips_through_json_and_older_documents_still_print() -> None:
    document = SAMPLES["invoice-ja"]
    assert Document.from_json(json.loads(json.dumps(document.to_json()))) == document
    old = document.to_json()
    for key in ("issuer", "bill_to", "payment", "timezone", "invoice_date", "due_date", "taxes"):
        del old[key]  # as stored before these existed
    printed = text(Document.from_json(old))
    assert "Invoice date 2026-12-02" in printed and "Tax (19%) EUR 3.44" in printed


def test_the_billing_address_comes_from_the_documented_profile_keys() -> None:
    party = bill_to(
        "Ελληνικά Όνομα",
        "C-1",
        {
            "address": "\n".join(("Οδός Ερμού 25", "Γραφείο 12")),
            "postcode": "105 63",
            "city": "Αθήνα",
            "country": "Ελλάδα",
            "vat_id": "EL094259216",
            "email": "onoma@example.gr",
            "phone": "+30 210 0000000",  # not part of the billing address
        },
    )
    assert party.name == "Ελληνικά Όνομα"
    assert party.address == ("Οδός Ερμού 25", "Γραφείο 12", "105 63 Αθήνα", "Ελλάδα")
    assert (party.vat_id, party.email) == ("EL094259216", "onoma@example.gr")
    unnamed = bill_to("", "C-2", {"city": "x" * 500})
    assert unnamed.name == "C-2" and len(unnamed.address[0]) == 200


def test_one_standard_rate_taxes_the_net_exactly_as_before() -> None:
    document = invoice("pl")
    assert document.taxes == (TaxRate(19, 1809, 344),)
    assert document.tax == round_half_up(Fraction(document.net * 19, 100))


@given(
    lines=st.lists(
        st.tuples(st.integers(-(10**9), 10**9), st.sampled_from([None, 0, 7, 19, 23])), max_size=12
    ),
    standard=st.sampled_from([0, 19, 20]),
)
def test_tax_is_rounded_once_per_rate_on_that_rates_net(
    lines: list[tuple[int, int | None]], standard: int
) -> None:
    items = [Line("usage", "x", amount, tax_percent=rate) for amount, rate in lines]
    summary = tax_summary(items, standard)
    assert sum(rate.net for rate in summary) == sum(amount for amount, _ in lines)
    assert [rate.percent for rate in summary] == sorted(
        {standard if rate is None else rate for _, rate in lines}, reverse=True
    )
    for rate in summary:
        net = sum(a for a, r in lines if (standard if r is None else r) == rate.percent)
        assert rate.net == net and rate.tax == round_half_up(Fraction(net * rate.percent, 100))
    if all(rate in (None, standard) for _, rate in lines) and lines:
        assert [r.tax for r in summary] == [
            round_half_up(Fraction(sum(a for a, _ in lines) * standard, 100))
        ]


def test_several_rates_get_a_row_each_and_a_tax_column() -> None:
    document = invoice("pl")
    lines = (*document.lines, Line("purchase", "Donation to the red cross", 500, tax_percent=0))
    taxes = tax_summary(lines, 19)
    net = sum(line.amount for line in lines)
    tax = sum(rate.tax for rate in taxes)
    printed = text(replace(document, lines=lines, net=net, tax=tax, total=net + tax, taxes=taxes))
    assert taxes == (TaxRate(19, 1809, 344), TaxRate(0, 500, 0))
    assert "Tax (19%) EUR 3.44" in printed and "Tax (0%) EUR 0.00" in printed
    assert "19% EUR 18.09 EUR 3.44" in printed and "0% EUR 5.00 EUR 0.00" in printed
    assert "Total due EUR 26.53" in printed


@pytest.fixture
async def one_store(single_target: RedisTarget) -> AsyncIterator[BalanceStore]:
    """Documents do not depend on the backends (the other billing tests run every pair)."""
    running = BalanceStore(single_target, BalanceConfig(), partitions=8)
    await running.start()
    yield running
    await running.stop()


async def test_an_issued_invoice_keeps_the_customer_issuer_and_dates_it_was_issued_with(
    one_store: BalanceStore, tmp_path: Path
) -> None:
    store, ledger = one_store, Ledger(path=tmp_path / "ledger.db").open()
    cust, acct, sub = "C-4936001", "A-4936001", "S-4936001"
    profile = {
        "address": "ул. Тверская, д. 7",
        "postcode": "125009",
        "city": "Москва",
        "country": "Россия",
        "vat_id": "RU7707083893",
    }
    assert (
        await store.create_customer(
            "c-4936001", cust, now_ms=NOV, name="Юрий Гагарин", profile=profile
        )
    ).ok
    created = await store.create_account(
        "a-4936001",
        acct,
        cust,
        currency="EUR",
        now_ms=NOV,
        credit_limit=10**6,
        timezone="Asia/Tokyo",
    )
    assert created.ok
    ids = (cust, acct, sub)
    identity = [Identity("e164", "4936001")]
    assert (
        await store.create_subscriber(
            "s-4936001", sub, acct, identities=identity, now_ms=NOV, offers=["payg"]
        )
    ).ok
    await november_usage(store, ids, "doc")
    await ingest(store, ledger)
    # 22:30 UTC on 1 December is the morning of 2 December in Tokyo: the dates are local
    as_of = ms(2026, 12, 1, 22, 30)
    report = await run_period(
        store, ledger, CATALOG, "2026-11", as_of, tmp_path, letterhead=LETTERHEAD
    )
    (issued,) = report.issued
    assert (issued.invoice_date, issued.due_date, issued.timezone) == (
        "2026-12-02",
        "2026-12-16",
        "Asia/Tokyo",
    )
    assert issued.bill_to.name == "Юрий Гагарин" and issued.issuer == LETTERHEAD.issuer
    assert issued.taxes == (TaxRate(19, issued.net, issued.tax),)
    pdf = tmp_path / "invoices/2026-11-01/INV-000001.pdf"
    printed = PdfReader(pdf).pages[0].extract_text()
    for needle in (
        "Юрий Гагарин",
        "ул. Тверская, д. 7",
        "125009 Москва",
        "VAT ID: RU7707083893",
        "Demo Mobile GmbH",
        "Due date 2026-12-16",
        f"Total due {money(issued.total, 'EUR', 2)}",
    ):
        assert needle in printed, needle

    # a new letterhead applies to documents issued from now on, never to issued ones
    renamed = replace(LETTERHEAD, issuer=replace(LETTERHEAD.issuer, name="Renamed AG"))
    again = await run_period(
        store, ledger, CATALOG, "2026-11", as_of + 86_400_000, tmp_path, letterhead=renamed
    )
    assert again.unchanged == [issued] and again.changed == []
    assert "Demo Mobile GmbH" in PdfReader(pdf).pages[0].extract_text()
    stored = json.loads((tmp_path / "invoices/2026-11-01/INV-000001.json").read_text())
    assert stored["issuer"]["name"] == "Demo Mobile GmbH" and stored["due_date"] == "2026-12-16"
    assert stored["bill_to"]["address"] == ["ул. Тверская, д. 7", "125009 Москва", "Россия"]
    ledger.close()
