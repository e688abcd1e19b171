"""The PDF of an invoice, statement or credit note (fpdf2), as a customer reads it.

Layout (A4): issuer (name, address, VAT id, contact) and the title with the number; the
addressee (name, billing address, VAT id) beside the facts (dates, payment terms, customer and
account, period, the invoice corrected); the lines; the totals with the tax per rate; the tax
summary; what to pay, by when and where (or why nothing is due); on every page a footer with
the issuer, the number and "Page n of m". The line table repeats its headings on each page.

Everything printed comes from the document (a snapshot taken when it was issued), so an issued
document prints the same whenever it is printed again. Fonts: :mod:`ocs.billing_bridge.fonts`.

``python -m ocs.billing_bridge.pdf`` renders sample documents and prints time and size per
document (see docs/billing.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos

from ocs.billing_bridge import fonts
from ocs.billing_bridge.documents import file_stem, money, period_text, quantity
from ocs.billing_bridge.invoices import Document, Party, TaxRate

log = logging.getLogger("ocs.billing")

TITLES = {"invoice": "INVOICE", "statement": "STATEMENT", "credit_note": "CREDIT NOTE"}
NUMBER_LABELS = {
    "invoice": "Invoice no.",
    "statement": "Statement no.",
    "credit_note": "Credit note no.",
}
DATE_LABELS = {"invoice": "Invoice date", "statement": "Statement date", "credit_note": "Date"}

MARGIN = 18.0
WIDTH = 210.0 - 2 * MARGIN
RIGHT_COLUMN = 112.0
"""x of the right-hand column (title, facts) in mm."""
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
SHADE = (241, 243, 245)


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text

    def _render_styled_text_line(self, *args: Any, **kwargs: Any) -> bool:
        # fpdf2 2.8.9 (py-pdf/fpdf2#1772): a line whose first character comes from a fallback
        # font selects the body font inside its own q/Q block, yet records it as selected for
        # the page; the next line is then drawn with whatever font the page had (a postcode
        # under a CJK address line came out as bold-font glyph numbers). Forgetting after each
        # line makes the next one select its font again (one more "Tf" per line).
        try:
            return bool(super()._render_styled_text_line(*args, **kwargs))
        finally:
            self.current_font_is_set_on_page = False

    def footer(self) -> None:
        self.set_y(-14)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), MARGIN + WIDTH, self.get_y())
        self.set_font(fonts.BODY, "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(WIDTH * 0.75, 6, self.footer_text)
        self.cell(WIDTH * 0.25, 6, f"Page {self.page_no()} of {{nb}}", align=Align.R)


def render(document: Document, digits: int) -> bytes:
    """The document as PDF bytes; ``digits``: decimals of the currency's minor unit."""
    reference = document.number or "DRAFT"
    footer = "  \u00b7  ".join(
        part
        for part in (
            document.issuer.name,
            f"VAT ID {document.issuer.vat_id}" if document.issuer.vat_id else "",
            f"{TITLES[document.kind].title()} {reference}",
        )
        if part
    )
    pdf = _Pdf(footer)
    missing = fonts.install(pdf, json.dumps(document.to_json(), ensure_ascii=False))
    if missing:
        log.warning(
            "document=%s account=%s no font has the characters %r: printed as boxes",
            reference,
            document.account,
            missing,
        )
    pdf.set_title(f"{TITLES[document.kind].title()} {reference}")
    pdf.set_author(document.issuer.name)
    pdf.set_creator("ocs billing")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    page = _Page(pdf, document, digits)
    page.heading()
    page.parties()
    page.lines()
    page.totals()
    page.payment()
    return bytes(pdf.output())


class _Page:
    def __init__(self, pdf: FPDF, document: Document, digits: int) -> None:
        self.pdf = pdf
        self.doc = document
        self.digits = digits

    def fmt(self, amount: int) -> str:
        return money(amount, self.doc.currency, self.digits)

    def text(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(fonts.BODY, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def row(self, width: float, height: float, text: str, align: Align = Align.L) -> None:
        """One line of text at the current x, then to the next line at the same x."""
        x = self.pdf.get_x()
        self.pdf.cell(width, height, text, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.pdf.set_x(x)

    # -- blocks, top to bottom ----------------------------------------------------------------

    def heading(self) -> None:
        pdf, doc = self.pdf, self.doc
        top = pdf.get_y()
        self._party(doc.issuer, size=13, width=RIGHT_COLUMN - MARGIN - 4)
        left_bottom = pdf.get_y()
        pdf.set_xy(RIGHT_COLUMN, top)
        width = MARGIN + WIDTH - RIGHT_COLUMN
        self.text(22, bold=True)
        self.row(width, 10, TITLES[doc.kind], Align.R)
        self.text(11)
        self.row(width, 6, doc.number or "", Align.R)
        if doc.draft:
            self.text(10, bold=True, color=(176, 42, 55))
            self.row(width, 6, "DRAFT - not issued", Align.R)
        pdf.set_xy(MARGIN, max(left_bottom, pdf.get_y()) + 8)

    def parties(self) -> None:
        pdf, doc = self.pdf, self.doc
        top = pdf.get_y()
        self.text(7.5, bold=True, color=MUTED)
        self.row(80, 5, "STATEMENT FOR" if doc.kind == "statement" else "BILL TO")
        self._party(doc.bill_to, size=11, width=RIGHT_COLUMN - MARGIN - 4)
        left_bottom = pdf.get_y()
        pdf.set_xy(RIGHT_COLUMN, top)
        label_width = 32.0
        value_width = MARGIN + WIDTH - RIGHT_COLUMN - label_width
        for label, value in self._facts():
            pdf.set_x(RIGHT_COLUMN)
            self.text(9, color=MUTED)
            pdf.cell(label_width, 5.5, label)
            self.text(9, bold=label in ("Due date", NUMBER_LABELS[doc.kind]))
            pdf.cell(value_width, 5.5, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_xy(MARGIN, max(left_bottom, pdf.get_y()) + 8)

    def _facts(self) -> list[tuple[str, str]]:
        doc = self.doc
        facts = [(NUMBER_LABELS[doc.kind], doc.number or "not issued")]
        facts.append((DATE_LABELS[doc.kind], doc.invoice_date or _issued_day(doc) or "-"))
        if doc.kind == "invoice":
            terms = doc.payment.terms_days
            facts.append(("Due date", doc.due_date or "-"))
            facts.append(("Payment terms", f"{terms} days net" if terms else "due on receipt"))
        if doc.corrects:
            facts.append(("Corrects", doc.corrects))
        facts.append(("Customer no.", doc.customer))
        facts.append(("Account", doc.account))
        facts.append(("Billing period", period_text(doc, doc.timezone)))
        facts.append(("Currency", doc.currency))
        return facts

    def _party(self, party: Party, *, size: float, width: float) -> None:
        self.text(size, bold=True)
        self.pdf.multi_cell(width, size * 0.5, party.name or " ", new_x=XPos.LMARGIN)
        self.text(9.5)
        for line in party.address:
            self.pdf.multi_cell(width, 4.8, line, new_x=XPos.LMARGIN)
        self.text(8.5, color=MUTED)
        if party.vat_id:
            self.row(width, 4.5, f"VAT ID: {party.vat_id}")
        if party.email:
            self.row(width, 4.5, party.email)

    def lines(self) -> None:
        pdf, doc = self.pdf, self.doc
        several_rates = len(self._rates()) > 1
        if doc.opening_balance is not None:
            self.text(9.5)
            pdf.cell(WIDTH - 35, 6, "Opening balance", align=Align.R)
            pdf.cell(35, 6, self.fmt(doc.opening_balance), align=Align.R)
            pdf.ln(8)
        headings: list[str] = ["Description", "Subscriber", "Quantity", "Events"]
        widths: list[float] = [84, 26, 24, 13]
        aligns = ["LEFT", "LEFT", "RIGHT", "RIGHT"]
        if several_rates:
            headings.append("Tax")
            widths = [74, 24, 24, 13, 12]
            aligns.append("RIGHT")
        headings.append("Amount")
        widths.append(WIDTH - sum(widths))
        aligns.append("RIGHT")
        self.text(8.5)
        pdf.set_draw_color(*RULE)
        with pdf.table(
            col_widths=widths,
            width=WIDTH,
            text_align=aligns,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD", color=INK, fill_color=SHADE),
            line_height=5.2,
            padding=(1.2, 1.5),
        ) as table:
            table.row(headings)
            for line in doc.lines or ():
                cells = [
                    line.description,
                    line.subscriber,
                    quantity(line.quantity, line.unit) if line.unit else "",
                    str(line.events or ""),
                ]
                if several_rates:
                    rate = doc.tax_percent if line.tax_percent is None else line.tax_percent
                    cells.append(f"{rate}%")
                cells.append(self.fmt(line.amount))
                table.row(cells)
            if not doc.lines:
                table.row(["No charges in this period", "", "", "", *([""] * several_rates), ""])
        pdf.ln(4)

    def _rates(self) -> Sequence[TaxRate]:
        doc = self.doc
        if doc.kind == "statement":
            return ()
        # documents issued before tax summaries existed carry the one rate in tax_percent
        return doc.taxes or (TaxRate(doc.tax_percent, doc.net, doc.tax),)

    def totals(self) -> None:
        pdf, doc = self.pdf, self.doc
        rows: list[tuple[str, int, bool]]
        if doc.kind == "statement":
            rows = [
                ("Net change", doc.net, False),
                ("Closing balance", doc.closing_balance or 0, True),
            ]
        else:
            rows = [("Net", doc.net, False)]
            rows += [(f"Tax ({rate.percent}%)", rate.tax, False) for rate in self._rates()]
            label = "Total credited" if doc.kind == "credit_note" or doc.total < 0 else "Total due"
            rows.append((label, doc.total, True))
        if pdf.will_page_break(7 * len(rows) + 4):
            pdf.add_page()
        left = MARGIN + WIDTH - 90
        for label, amount, strong in rows:
            if strong:
                pdf.set_draw_color(*INK)
                pdf.line(left, pdf.get_y() + 0.5, MARGIN + WIDTH, pdf.get_y() + 0.5)
                pdf.ln(1.5)
            self.text(11 if strong else 9.5, bold=strong)
            pdf.set_x(left)
            pdf.cell(55, 6.5, label, align=Align.R)
            pdf.cell(35, 6.5, self.fmt(amount), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(5)
        rates = self._rates()
        if rates:
            if pdf.will_page_break(6 * (len(rates) + 2)):
                pdf.add_page()
            self.text(8.5, bold=True)
            pdf.cell(0, 5, "Tax summary", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.text(8.5)
            with pdf.table(
                col_widths=(30, 40, 40),
                width=110,
                align=Align.L,
                text_align=("LEFT", "RIGHT", "RIGHT"),
                borders_layout=TableBordersLayout.HORIZONTAL_LINES,
                headings_style=FontFace(emphasis="BOLD", color=INK, fill_color=SHADE),
                line_height=4.8,
                padding=(1, 1.5),
            ) as table:
                table.row(("Rate", "Net", "Tax"))
                for rate in rates:
                    table.row((f"{rate.percent}%", self.fmt(rate.net), self.fmt(rate.tax)))
            pdf.ln(5)

    def payment(self) -> None:
        pdf, doc = self.pdf, self.doc
        paragraphs = self._payment_text()
        payable = doc.kind == "invoice" and doc.total > 0 and not doc.draft
        height = 6 + 9.6 * len(paragraphs) + (32 if payable else 0)
        if pdf.will_page_break(height):  # the block stays on one page
            pdf.add_page()
        self.text(9.5, bold=True)
        pdf.cell(0, 6, "Payment", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.text(9)
        for text in paragraphs:
            pdf.multi_cell(WIDTH, 4.8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if payable:
            self._bank_details()

    def _payment_text(self) -> list[str]:
        doc = self.doc
        if doc.draft:
            return [
                "This is a draft for a billing period that has not ended: it is not an "
                f"{'invoice' if doc.kind == 'invoice' else 'issued document'} and nothing is "
                "due. The final document is issued once the period is over."
            ]
        if doc.kind == "statement":
            return ["Prepaid account: this statement is for your information, nothing is due."]
        if doc.kind == "credit_note":
            return [f"This credit note cancels invoice {doc.corrects} in full."]
        if doc.total <= 0:
            return ["Nothing is due for this invoice."]
        due = f" by {doc.due_date}" if doc.due_date else ""
        return [f"Please pay {self.fmt(doc.total)}{due}, quoting the reference {doc.number}."]

    def _bank_details(self) -> None:
        pay = self.doc.payment
        details = [
            ("Account holder", self.doc.issuer.name if pay.iban else ""),
            ("Bank", pay.bank),
            ("IBAN", pay.iban),
            ("BIC", pay.bic),
            ("Reference", self.doc.number),
        ]
        self.pdf.ln(1)
        for label, value in details:
            if value:
                self.text(9, color=MUTED)
                self.pdf.cell(32, 5, label)
                self.text(9, bold=label in ("IBAN", "Reference"))
                self.pdf.cell(0, 5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if pay.note:
            self.text(9)
            self.pdf.multi_cell(WIDTH, 4.8, pay.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _issued_day(document: Document) -> str:
    """The issue date of documents stored before ``invoice_date`` existed (UTC day)."""
    if not document.issued_at_ms:
        return ""
    return datetime.fromtimestamp(document.issued_at_ms / 1000, UTC).date().isoformat()


def write_pdf(document: Document, directory: Path, *, digits: int) -> Path:
    """``<directory>/<number>.pdf`` (``DRAFT-<account>.pdf`` for a draft)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file_stem(document)}.pdf"
    path.write_bytes(render(document, digits))
    return path
