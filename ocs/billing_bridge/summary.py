"""What ``ocs billing run`` tells a finance team: counts and totals, discrepancies, per-account
lines on request; as text or as one JSON object (``--json``).

Text::

    billing run 2026-11 as of 2026-12-02T00:00Z: 2 accounts
    document     issued  unchanged  draft        net      tax      total
    invoice           1          0      0  EUR 17.60 EUR 3.34  EUR 20.94
    statement         1          0      0  EUR -1.23     -     EUR -1.23
    ...
    lines by kind (invoices, credit notes: charges positive; statements: as the wallet moved)
    ...
    discrepancies: none

Amounts in JSON are integers in minor units (``minor_unit_digits`` says how many decimals).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocs.billing_bridge.documents import file_stem, money
from ocs.billing_bridge.invoices import Document
from ocs.billing_bridge.run import RunReport

KINDS = ("invoice", "credit_note", "statement")


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: str
    """``changed_since_issued`` or ``unknown_account``."""
    account: str
    detail: str
    document: str = ""


@dataclass(slots=True)
class KindTotals:
    issued: int = 0
    unchanged: int = 0
    draft: int = 0
    net: int = 0
    tax: int = 0
    total: int = 0
    lines: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    """line kind -> [number of lines, sum of amounts]."""

    def add(self, document: Document, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)
        self.net += document.net
        self.tax += document.tax
        self.total += document.total
        for line in document.lines:
            self.lines[line.kind][0] += 1
            self.lines[line.kind][1] += line.amount


@dataclass(slots=True)
class RunSummary:
    period: str
    as_of_ms: int
    currency: str
    digits: int
    kinds: dict[str, KindTotals]
    documents: list[tuple[str, Document]]
    """(issued / unchanged / draft, document) in run order."""
    discrepancies: list[Discrepancy]
    files: dict[str, Path]

    @classmethod
    def of(
        cls, report: RunReport, period: str, as_of_ms: int, currency: str, digits: int
    ) -> RunSummary:
        kinds = {kind: KindTotals() for kind in KINDS}
        documents: list[tuple[str, Document]] = []
        for status, docs in (
            ("issued", report.issued),
            ("unchanged", report.unchanged),
            ("draft", report.drafts),
        ):
            for doc in docs:
                kinds[doc.kind].add(doc, status)
                documents.append((status, doc))
        discrepancies = [
            Discrepancy(
                "changed_since_issued",
                doc.account,
                "the ledger no longer agrees with this issued document (a late event): "
                "--correct issues a credit note and a new revision",
                doc.number,
            )
            for doc in report.changed
        ]
        discrepancies += [
            Discrepancy(
                "unknown_account",
                account,
                "the ledger has events of this account but the balance engine does not know "
                "it: no document issued",
            )
            for account in report.unknown
        ]
        files = {p.stem: p for p in report.files if p.suffix == ".pdf"}
        return cls(period, as_of_ms, currency, digits, kinds, documents, discrepancies, files)

    def fmt(self, amount: int) -> str:
        return money(amount, self.currency, self.digits)

    def text(self, accounts: bool) -> list[str]:
        accounts_seen = {doc.account for _, doc in self.documents}
        clock = datetime.fromtimestamp(self.as_of_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        out = [
            f"billing run {self.period} as of {clock}: {len(accounts_seen)} accounts, "
            f"{len(self.documents)} documents"
        ]
        rows = [("document", "issued", "unchanged", "draft", "net", "tax", "total")]
        for kind, t in self.kinds.items():
            if t.issued + t.unchanged + t.draft:
                tax = self.fmt(t.tax) if kind != "statement" else "-"
                rows.append(
                    (
                        kind,
                        str(t.issued),
                        str(t.unchanged),
                        str(t.draft),
                        self.fmt(t.net),
                        tax,
                        self.fmt(t.total),
                    )
                )
        if len(rows) > 1:
            out += _table(rows, numeric_from=1)
        for kinds, title in (
            (("invoice", "credit_note"), "invoice and credit note lines"),
            (("statement",), "statement lines (as the wallet moved)"),
        ):
            merged: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for kind in kinds:
                for line_kind, (count, amount) in self.kinds[kind].lines.items():
                    merged[line_kind][0] += count
                    merged[line_kind][1] += amount
            if merged:
                out.append(f"{title} by kind:")
                body = [("  kind", "lines", "amount")]
                body += [(f"  {k}", str(c), self.fmt(a)) for k, (c, a) in sorted(merged.items())]
                out += _table(body, numeric_from=1)
        if accounts:
            out += [self._document_line(status, doc) for status, doc in self.documents]
        if self.discrepancies:
            out.append(f"discrepancies: {len(self.discrepancies)}")
            out += [
                f"DISCREPANCY {d.kind} account={d.account}"
                + (f" document={d.document}" if d.document else "")
                + f": {d.detail}"
                for d in self.discrepancies
            ]
        else:
            out.append("discrepancies: none")
        return out

    def _document_line(self, status: str, doc: Document) -> str:
        pdf = self.files.get(file_stem(doc), "-")
        if status == "draft":
            return (
                f"draft {doc.kind} account={doc.account} total={self.fmt(doc.total)} "
                f"(period {doc.period} not over) file={pdf}"
            )
        return (
            f"{status} {doc.kind} {doc.number} account={doc.account} "
            f"total={self.fmt(doc.total)} file={pdf}"
        )

    def to_json(self, accounts: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "period": self.period,
            "as_of_ms": self.as_of_ms,
            "currency": self.currency,
            "minor_unit_digits": self.digits,
            "documents": {
                kind: {
                    "issued": t.issued,
                    "unchanged": t.unchanged,
                    "draft": t.draft,
                    "net": t.net,
                    "tax": t.tax,
                    "total": t.total,
                    "lines": {
                        k: {"lines": c, "amount": a} for k, (c, a) in sorted(t.lines.items())
                    },
                }
                for kind, t in self.kinds.items()
            },
            "discrepancies": [
                {"kind": d.kind, "account": d.account, "document": d.document, "detail": d.detail}
                for d in self.discrepancies
            ],
        }
        if accounts:
            data["accounts"] = [
                {
                    "status": status,
                    "kind": doc.kind,
                    "number": doc.number,
                    "account": doc.account,
                    "period": doc.period,
                    "net": doc.net,
                    "tax": doc.tax,
                    "total": doc.total,
                    "file": str(self.files.get(file_stem(doc), "")),
                }
                for status, doc in self.documents
            ]
        return data


def _table(rows: Sequence[tuple[str, ...]], numeric_from: int) -> list[str]:
    """Columns padded to their widest cell; from ``numeric_from`` on right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i >= numeric_from else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
