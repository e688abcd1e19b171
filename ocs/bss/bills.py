"""Bills: the billing bridge's issued documents (invoices, statements, credit notes) as the
customer sees them, with what is due, paid and credited.

The documents stay in the ledger, immutable (``invoices``, ``invoice_lines``, the JSON and PDF
files); the BSS keeps one row per document in ``bills`` with its due date (the document's own
``due_ms`` when it carries one, else issue date + ``payment_terms_days``), its payment
reference (ISO 11649 ``RF..`` from the number, what a bank transfer quotes) and its state:
``open`` -> ``settled`` (paid + credited reach the total) for an invoice with something to pay;
``info`` for statements, credit notes and invoices of nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocs.bss.database import BssDatabase

DAY_MS = 86_400_000
COLUMNS = (
    "number, kind, account, customer, period, currency, total, issued_ms, due_ms, paid, "
    "credited, reference, state, dunning_step, settled_ms"
)


@dataclass(frozen=True, slots=True)
class Bill:
    number: str
    kind: str
    account: str
    customer: str
    period: str
    currency: str
    total: int
    issued_ms: int
    due_ms: int
    paid: int
    credited: int
    reference: str
    state: str
    dunning_step: int
    settled_ms: int

    @property
    def outstanding(self) -> int:
        return max(0, self.total - self.paid - self.credited) if self.state == "open" else 0

    def overdue(self, now_ms: int) -> bool:
        return self.state == "open" and self.due_ms < now_ms


def rf_reference(number: str) -> str:
    """The ISO 11649 structured creditor reference of a bill number (``INV-000123`` ->
    ``RF71INV000123``): check digits so that a mistyped reference is caught."""
    body = "".join(ch for ch in number.upper() if ch.isalnum())[:21]
    digits = "".join(str(int(ch, 36)) for ch in body + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{body}"


def valid_reference(text: str) -> bool:
    ref = "".join(text.split()).upper()
    if not (ref.startswith("RF") and len(ref) > 4 and ref[2:4].isdigit() and ref.isalnum()):
        return False
    digits = "".join(str(int(ch, 36)) for ch in ref[4:] + ref[:4])
    return int(digits) % 97 == 1


def sync(db: BssDatabase, terms_days: int) -> list[Bill]:
    """Rows for documents issued since the last call; returns the new bills."""
    rows = db.rows(
        "SELECT number, kind, account, customer, period, currency, total, issued_at, document "
        "FROM invoices i WHERE NOT EXISTS (SELECT 1 FROM bills b WHERE b.number = i.number) "
        "ORDER BY issued_at, number"
    )
    new: list[Bill] = []
    for number, kind, account, customer, period, currency, total, issued, document in rows:
        data: dict[str, Any] = json.loads(document)
        due = int(data.get("due_ms") or 0) or int(issued) + terms_days * DAY_MS
        payable = kind == "invoice" and int(total) > 0
        bill = Bill(
            number,
            kind,
            account,
            customer,
            period,
            currency,
            int(total),
            int(issued),
            due,
            0,
            0,
            rf_reference(number),
            "open" if payable else "info",
            0,
            0,
        )
        with db.transaction() as cur:
            cur.execute("SELECT 1 FROM bills WHERE number = ?", (number,))
            if cur.fetchone() is not None:
                continue
            cur.execute(
                f"INSERT INTO bills ({COLUMNS}) VALUES ({', '.join('?' * 15)})",
                (
                    bill.number,
                    bill.kind,
                    bill.account,
                    bill.customer,
                    bill.period,
                    bill.currency,
                    bill.total,
                    bill.issued_ms,
                    bill.due_ms,
                    0,
                    0,
                    bill.reference,
                    bill.state,
                    0,
                    0,
                ),
            )
        new.append(bill)
    return new


def get(db: BssDatabase, number: str) -> Bill | None:
    row = db.one(f"SELECT {COLUMNS} FROM bills WHERE number = ?", (number,))
    return Bill(*row) if row else None


def by_reference(db: BssDatabase, reference: str) -> Bill | None:
    ref = "".join(reference.split()).upper()
    row = db.one(f"SELECT {COLUMNS} FROM bills WHERE reference = ?", (ref,))
    return Bill(*row) if row else None


def of_account(
    db: BssDatabase, accounts: list[str], offset: int = 0, limit: int = 100
) -> tuple[list[Bill], int]:
    if not accounts:
        return [], 0
    marks = ",".join("?" for _ in accounts)
    total = db.one(f"SELECT COUNT(*) FROM bills WHERE account IN ({marks})", tuple(accounts))
    rows = db.rows(
        f"SELECT {COLUMNS} FROM bills WHERE account IN ({marks}) "
        "ORDER BY issued_ms DESC, number DESC LIMIT ? OFFSET ?",
        (*accounts, limit, offset),
    )
    return [Bill(*r) for r in rows], int(total[0]) if total else 0


def open_bills(db: BssDatabase, account: str = "") -> list[Bill]:
    if account:
        rows = db.rows(
            f"SELECT {COLUMNS} FROM bills WHERE state = 'open' AND account = ? ORDER BY due_ms",
            (account,),
        )
    else:
        rows = db.rows(f"SELECT {COLUMNS} FROM bills WHERE state = 'open' ORDER BY due_ms")
    return [Bill(*r) for r in rows]


def document(db: BssDatabase, number: str) -> dict[str, Any] | None:
    row = db.one("SELECT document FROM invoices WHERE number = ?", (number,))
    return json.loads(row[0]) if row else None


def pdf_path(documents_dir: Path, bill: Bill) -> Path:
    """Where ``ocs billing run`` writes the bill's PDF (see ocs.billing_bridge.documents)."""
    return documents_dir / "invoices" / bill.period / f"{bill.number}.pdf"


def credit(db: BssDatabase, number: str, amount: int, now_ms: int) -> Bill | None:
    """Apply a credit note's amount to an open bill (settles it when nothing is left)."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE bills SET credited = credited + ? WHERE number = ? AND state = 'open'",
            (amount, number),
        )
        cur.execute(
            "UPDATE bills SET state = 'settled', settled_ms = ? WHERE number = ? AND "
            "state = 'open' AND paid + credited >= total",
            (now_ms, number),
        )
    return get(db, number)


def ensure_pdf(
    db: BssDatabase, documents_dir: Path, bill: Bill, timezone: str, digits: int
) -> Path | None:
    """The bill's PDF: the file ``ocs billing run`` wrote, or written now from the stored
    document (the same renderer, the same file name)."""
    path = pdf_path(documents_dir, bill)
    if path.exists():
        return path
    data = document(db, bill.number)
    if data is None:
        return None
    from ocs.billing_bridge.invoices import Document
    from ocs.billing_bridge.pdf import write_pdf

    # the document carries its issuer, customer and time zone (a snapshot taken at issue)
    return write_pdf(Document.from_json(data), path.parent, digits=digits)
