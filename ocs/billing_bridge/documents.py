"""Documents a machine and a person can read: JSON and PDF (fpdf2) of invoices, statements
and credit notes.

Layout under the output directory (default ``<state_dir>/billing``)::

    invoices/<period>/<number>.json|.pdf          issued documents
    invoices/<period>/DRAFT-<account>.json|.pdf   drafts of periods not yet ended
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ocs.billing_bridge.invoices import Document

TITLES = {"invoice": "INVOICE", "statement": "STATEMENT", "credit_note": "CREDIT NOTE"}


def money(amount: int, currency: str, digits: int) -> str:
    """``1234`` -> ``EUR 12.34`` (exact: Decimal of the integer minor units)."""
    value = Decimal(amount).scaleb(-digits)
    return f"{currency} {value:,.{digits}f}"


def quantity(amount: int, unit: str) -> str:
    if unit == "octets":
        return f"{Decimal(amount).scaleb(-6):,.2f} MB"
    if unit == "seconds":
        return f"{amount // 60}:{amount % 60:02d} min"
    if unit in ("units", "money"):
        return f"{amount:,}"
    return f"{amount:,} {unit}".strip() if amount else ""


def _local_day(ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).date().isoformat()


def period_text(document: Document, timezone: str) -> str:
    """Inclusive local dates: ``2026-11-01 to 2026-11-30``."""
    start = _local_day(document.period_start_ms, timezone)
    last = datetime.fromtimestamp(document.period_end_ms / 1000, ZoneInfo(timezone)) - timedelta(
        days=1
    )
    return f"{start} to {last.date().isoformat()}"


def file_stem(document: Document) -> str:
    return f"DRAFT-{document.account}" if document.draft else document.number


def write_json(document: Document, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file_stem(document)}.json"
    path.write_text(json.dumps(document.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1: anything else is shown as '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(
    document: Document, directory: Path, *, issuer: str, digits: int, timezone: str
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file_stem(document)}.pdf"
    cur = document.currency

    def fmt(amount: int) -> str:
        return money(amount, cur, digits)

    pdf = FPDF(format="A4")
    pdf.set_title(f"{TITLES[document.kind]} {document.number or 'DRAFT'}")
    pdf.set_creator("ocs billing")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    title = TITLES[document.kind] + (" (DRAFT - not issued)" if document.draft else "")
    pdf.cell(0, 10, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 10)
    issued = (
        datetime.fromtimestamp(document.issued_at_ms / 1000, UTC).date().isoformat()
        if document.issued_at_ms
        else "-"
    )
    facts = [
        ("From", issuer),
        ("Number", document.number or "DRAFT"),
        ("Issued", issued),
        ("Customer", document.customer),
        ("Account", document.account),
        ("Period", period_text(document, timezone)),
    ]
    if document.corrects:
        facts.append(("Corrects", document.corrects))
    for label, value in facts:
        pdf.cell(30, 6, f"{label}:")
        pdf.cell(0, 6, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    if document.opening_balance is not None:
        pdf.cell(0, 6, f"Opening balance: {fmt(document.opening_balance)}", new_x=XPos.LMARGIN)
        pdf.ln(8)
    with pdf.table(
        col_widths=(70, 35, 35, 15, 35),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        first_row_as_headings=True,
    ) as table:
        table.row(("Description", "Subscriber", "Quantity", "Events", "Amount"))
        for line in document.lines:
            table.row(
                (
                    _latin1(line.description),
                    _latin1(line.subscriber),
                    quantity(line.quantity, line.unit) if line.unit else "",
                    str(line.events or ""),
                    fmt(line.amount),
                )
            )
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 11)
    if document.kind == "statement":
        totals = [("Net change", document.net), ("Closing balance", document.closing_balance or 0)]
    else:
        totals = [
            ("Net", document.net),
            (f"Tax ({document.tax_percent}%)", document.tax),
            ("Total due" if document.total >= 0 else "Total credited", document.total),
        ]
    for label, amount in totals:
        pdf.cell(155, 7, label, align="R")
        pdf.cell(35, 7, fmt(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 8)
    pdf.ln(6)
    pdf.multi_cell(
        0,
        4,
        "Amounts in minor units are exact; discounts are rounded half away from zero per "
        "line, tax once on the net. Usage is listed per subscriber and service.",
    )
    pdf.output(str(path))
    return path
