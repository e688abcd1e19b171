"""Sample documents: one of each kind for customers whose names are in several scripts.

``python -m ocs.billing_bridge.samples [DIR]`` (``make bench-documents``) writes them as JSON
and PDF to DIR (default: a temporary directory) and prints, per document, the time to render
it (median of several renders, in this process) and the PDF's size. Nothing here touches Redis
or a ledger: the documents are built from lines directly, as the billing run would.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ocs.billing_bridge.documents import write_json
from ocs.billing_bridge.invoices import (
    Document,
    Letterhead,
    Line,
    Party,
    PaymentDetails,
    SubscriberSnapshot,
    credit_note,
    tax_summary,
)
from ocs.billing_bridge.pdf import render, write_pdf

NOV_START, DEC_START = 1793487600000, 1796079600000
"""2026-11-01 and 2026-12-01, 00:00 in Europe/Berlin (epoch ms)."""
ISSUED = 1796212800000
"""2026-12-02 12:00 UTC."""

LETTERHEAD = Letterhead(
    Party(
        "Demo Mobile GmbH",
        ("Friedrichstraße 100", "10117 Berlin", "Germany"),
        "DE123456789",
        "billing@demo-mobile.example",
    ),
    PaymentDetails(14, "DE89 3704 0044 0532 0130 00", "COBADEFFXXX", "Commerzbank", ""),
)

CUSTOMERS = {
    "pl": Party("Zażółć Gęślą Jaźń", ("ul. Świętokrzyska 12 m. 4", "00-916 Warszawa", "Polska")),
    "el": Party("Ελληνικά Όνομα", ("Οδός Ερμού 25", "105 63 Αθήνα", "Ελλάδα"), "EL094259216"),
    "ru": Party("Юрий Гагарин", ("ул. Тверская, д. 7", "125009 Москва", "Россия")),
    "ja": Party("山田太郎", ("千代田区丸の内1-1-1", "100-0005 東京都", "日本")),
    "ko": Party("김철수", ("세종대로 110", "04524 서울특별시", "대한민국")),
}


def sample_lines(subscriber: str, extra: int = 0) -> tuple[Line, ...]:
    lines = [
        Line("usage", "Mobile data", 1125, subscriber, 100, 1_123_457, "octets", 2),
        Line("usage", "Voice calls", 40, subscriber, 200, 185, "seconds", 1),
        Line("usage", "SMS", 9, subscriber, 300, 1, "units", 1),
        Line("fee", "Recurring fee: Voice Pack 300, period from 2026-11-01", 399, subscriber),
        Line("purchase", "Purchase: Prepaid Bundle S", 499, subscriber, events=1),
        Line("adjustment", "Adjustment: goodwill for the outage on 12 November", -150, events=1),
        Line("discount", "Discount: 10% off data with the Voice Pack", -113, subscriber),
    ]
    lines += [
        Line(
            "usage",
            f"Mobile data, roaming zone {n % 4 + 1}",
            37 * n,
            subscriber,
            100 + n,
            n * 9_871,
            "octets",
            n,
        )
        for n in range(1, extra + 1)
    ]
    return tuple(lines)


def invoice(customer: str = "pl", extra_lines: int = 0) -> Document:
    subscriber = f"S-{customer}-1"
    lines = sample_lines(subscriber, extra_lines)
    net = sum(line.amount for line in lines)
    taxes = tax_summary(lines, 19)
    tax = sum(rate.tax for rate in taxes)
    return Document(
        "invoice",
        f"A-{customer}",
        f"C-{customer}",
        "EUR",
        "2026-11-01",
        NOV_START,
        DEC_START,
        lines,
        net,
        19,
        tax,
        net + tax,
        (SubscriberSnapshot(subscriber, ("payg", "voice_pack")),),
        number="INV-000042",
        issued_at_ms=ISSUED,
        issuer=LETTERHEAD.issuer,
        bill_to=CUSTOMERS[customer],
        payment=LETTERHEAD.payment,
        timezone="Europe/Berlin",
        invoice_date="2026-12-02",
        due_date="2026-12-16",
        taxes=taxes,
    )


def statement(customer: str = "ru") -> Document:
    subscriber = f"S-{customer}-1"
    lines = (
        Line("usage", "Mobile data", -412, subscriber, 100, 412_000, "octets", 9),
        Line("usage", "Voice calls", -96, subscriber, 200, 431, "seconds", 4),
        Line("topup", "Top-ups", 2000, events=1),
        Line("purchase", "Purchase: Prepaid Bundle S", -499, subscriber, events=1),
    )
    net = sum(line.amount for line in lines)
    return Document(
        "statement",
        f"A-{customer}",
        f"C-{customer}",
        "EUR",
        "2026-11-01",
        NOV_START,
        DEC_START,
        lines,
        net,
        0,
        0,
        net,
        opening_balance=1000,
        closing_balance=1000 + net,
        number="STM-000007",
        issued_at_ms=ISSUED,
        issuer=LETTERHEAD.issuer,
        bill_to=CUSTOMERS[customer],
        timezone="Europe/Berlin",
        invoice_date="2026-12-02",
    )


def samples() -> dict[str, Document]:
    """One document of each kind, and a long invoice, named by file stem."""
    original = invoice("el")
    note = replace(
        credit_note(original), number="CN-000043", issued_at_ms=ISSUED, invoice_date="2026-12-03"
    )
    return {
        "invoice-pl": invoice("pl"),
        "invoice-ja": invoice("ja"),
        "invoice-ko-long": invoice("ko", extra_lines=60),
        "statement-ru": statement("ru"),
        "credit-note-el": note,
        "draft-pl": replace(
            invoice("pl"), number="", issued_at_ms=0, invoice_date="", due_date="", draft=True
        ),
    }


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="ocs-documents-"))
    print(f"{'document':<18} {'pages':>5} {'render ms':>10} {'PDF bytes':>10}")
    for name, document in samples().items():
        render(document, 2)  # warm: font coverage is read once per process
        times = []
        for _ in range(5):
            start = time.perf_counter()
            data = render(document, 2)
            times.append(time.perf_counter() - start)
        directory = out / name
        write_json(document, directory)
        path = write_pdf(document, directory, digits=2)
        pages = data.count(b"/Type /Page\n") or data.count(b"/Type /Page")
        print(f"{name:<18} {pages:>5} {statistics.median(times) * 1000:>10.1f} {len(data):>10}")
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
