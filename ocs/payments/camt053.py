"""ISO 20022 camt.053 (bank-to-customer statement) import: credit transfers matched to bills
by their payment reference, applied like any payment, with a report of what matched, what did
not, and why.

Parsed with defusedxml (no entities, no external references: a statement is outside input),
namespace-agnostic (``camt.053.001.02`` to ``.001.08`` name the same elements). Every credit
entry (``CdtDbtInd`` = ``CRDT``), or each of its ``TxDtls`` when it has them, is one transfer:

* **reference**: the structured creditor reference (``RmtInf/Strd/CdtrRefInf/Ref``), else an
  ``RF..`` reference or a bill number found in the unstructured text (``RmtInf/Ustrd``);
* **id**: the bank's reference (``AcctSvcrRef``), else ``EndToEndId``, else a digest of the
  entry: importing the same statement twice applies nothing twice (``duplicate``).

Outcomes: ``matched`` (applied to the bill; ``settled`` or still ``open``), and unmatched with
a reason: ``no reference``, ``invalid reference`` (RF check digits wrong), ``unknown
reference``, ``bill not open`` (already paid or credited: refund it by hand), ``currency``,
``duplicate``. Debit entries are counted, not applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from ocs.api.errors import ApiError, invalid
from ocs.bss import bills
from ocs.bss.context import Services

MAX_BYTES = 10 * 1024 * 1024
RF = re.compile(r"RF\d{2}[A-Z0-9]{1,21}")
BILL_NUMBER = re.compile(r"\b(INV|STM)-\d{6}\b")


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    amount: int
    currency: str
    reference: str
    debtor: str
    booked: str


@dataclass(slots=True)
class Report:
    matched: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    debits: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "unmatched": self.unmatched,
            "debitsSkipped": self.debits,
            "matchedAmount": sum(int(m["amount"]) for m in self.matched),
            "unmatchedAmount": sum(int(u["amount"]) for u in self.unmatched),
        }


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(node: Element, path: str) -> Element | None:
    current: Element | None = node
    for name in path.split("/"):
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    return current


def _all(node: Element, name: str) -> list[Element]:
    return [c for c in node.iter() if _local(c.tag) == name]


def _text(node: Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def parse(data: bytes, digits: int) -> tuple[list[Transfer], int]:
    """(credit transfers, debit entries) of a statement."""
    if len(data) > MAX_BYTES:
        raise invalid("body", f"a statement of at most {MAX_BYTES} bytes")
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise invalid("body", f"not a camt.053 XML document: {exc}") from None
    if not _all(root, "BkToCstmrStmt"):
        raise invalid("body", "no BkToCstmrStmt: not a camt.053 statement")
    transfers: list[Transfer] = []
    debits = 0
    for number, entry in enumerate(_all(root, "Ntry")):
        if _text(_find(entry, "CdtDbtInd")) != "CRDT":
            debits += 1
            continue
        booked = _text(_find(entry, "BookgDt/Dt")) or _text(_find(entry, "BookgDt/DtTm"))
        details = _all(entry, "TxDtls") or [entry]
        for n, tx in enumerate(details):
            amount_node = _find(tx, "Amt")
            if amount_node is None:
                amount_node = _find(tx, "AmtDtls/TxAmt/Amt")
            if amount_node is None and len(details) == 1:
                amount_node = _find(entry, "Amt")
            if amount_node is None:
                raise invalid(f"Ntry[{number}].Amt", "missing")
            try:
                value = Decimal(_text(amount_node))
            except InvalidOperation:
                raise invalid(f"Ntry[{number}].Amt", "not a number") from None
            scaled = value.scaleb(digits)
            if scaled != scaled.to_integral_value() or value <= 0:
                raise invalid(
                    f"Ntry[{number}].Amt", f"a positive amount with at most {digits} decimals"
                )
            bank_ref = (
                _text(_find(tx, "Refs/AcctSvcrRef"))
                or _text(_find(entry, "AcctSvcrRef"))
                or _text(_find(tx, "Refs/EndToEndId"))
            )
            if bank_ref in ("", "NOTPROVIDED"):
                bank_ref = hashlib.sha256(
                    ElementTree.tostring(tx) + f"{number}/{n}".encode()
                ).hexdigest()[:24]
            elif len(details) > 1 and not _text(_find(tx, "Refs/AcctSvcrRef")):
                bank_ref = f"{bank_ref}/{n}"
            transfers.append(
                Transfer(
                    id=bank_ref,
                    amount=int(scaled),
                    currency=amount_node.get("Ccy", ""),
                    reference=_reference(tx),
                    debtor=_text(_find(tx, "RltdPties/Dbtr/Nm"))
                    or _text(_find(tx, "RltdPties/Dbtr/Pty/Nm")),
                    booked=booked,
                )
            )
    return transfers, debits


def _reference(tx: Element) -> str:
    structured = _text(_find(tx, "RmtInf/Strd/CdtrRefInf/Ref"))
    if structured:
        return "".join(structured.split()).upper()
    text = " ".join(_text(u) for u in _all(tx, "Ustrd")).upper()
    found = RF.search(text.replace(" ", ""))
    if found:
        return found.group(0)
    number = BILL_NUMBER.search(text)
    return number.group(0) if number else ""


async def import_statement(s: Services, payments: Any, data: bytes) -> Report:
    transfers, debits = parse(data, s.digits)
    report = Report(debits=debits)
    for transfer in transfers:
        line = {
            "id": transfer.id,
            "amount": transfer.amount,
            "currency": transfer.currency,
            "reference": transfer.reference,
            "debtor": transfer.debtor,
            "booked": transfer.booked,
        }
        reason = await _match(s, payments, transfer, line)
        if reason:
            report.unmatched.append({**line, "reason": reason})
        else:
            report.matched.append(line)
    return report


async def _match(s: Services, payments: Any, transfer: Transfer, line: dict[str, Any]) -> str:
    if not transfer.reference:
        return "no reference"
    if transfer.reference.startswith("RF") and not bills.valid_reference(transfer.reference):
        return "invalid reference (check digits)"
    if transfer.currency != s.currency:
        return f"currency {transfer.currency} (bills are in {s.currency})"
    bill = await s.db.run(bills.by_reference, s.db, transfer.reference)
    if bill is None and BILL_NUMBER.fullmatch(transfer.reference):
        bill = await s.db.run(bills.get, s.db, transfer.reference)
    if bill is None:
        return "unknown reference"
    line["bill"] = bill.number
    seen = await s.db.run(
        s.db.one, "SELECT bill FROM payments WHERE provider_id = ?", (f"camt:{transfer.id}",)
    )
    if seen is not None:
        return "duplicate (imported before)"
    if bill.state != "open" or not bill.outstanding:
        return "bill not open (already paid or credited): refund by hand"
    try:
        await payments.apply(
            f"camt:{transfer.id}",
            bill.account,
            bill.number,
            transfer.amount,
            transfer.currency,
            source="camt053",
            reference=transfer.reference,
        )
    except ApiError as exc:
        return exc.message
    after = await s.db.run(bills.get, s.db, bill.number)
    line["state"] = after.state if after else "?"
    if transfer.amount > bill.outstanding:
        line["overpaid"] = transfer.amount - bill.outstanding
    return ""
