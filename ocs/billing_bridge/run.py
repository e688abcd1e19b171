"""A billing run: every account's document for a period, issued or drafted, and its files.

``run_period`` is what ``ocs billing run`` and ``ocs billing invoice`` call. The clock is an
argument: a period is issued only once it has ended in the account's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from ocs.balance.store import BalanceStore
from ocs.billing_bridge import metrics
from ocs.billing_bridge.documents import write_json, write_pdf
from ocs.billing_bridge.invoices import AccountSnapshot, Document
from ocs.billing_bridge.issuing import account_snapshot, compute, correct, issue, period_bounds
from ocs.billing_bridge.ledger import Ledger
from ocs.policy.catalog import Catalog

ISSUER = "ocs demo operator"


@dataclass(slots=True)
class RunReport:
    issued: list[Document] = field(default_factory=list)
    unchanged: list[Document] = field(default_factory=list)
    drafts: list[Document] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Accounts in the ledger that the balance engine does not know."""


def ledger_accounts(ledger: Ledger) -> list[str]:
    rows = ledger.query("SELECT DISTINCT account FROM events WHERE account <> '' ORDER BY account")
    return [r[0] for r in rows]


def write_documents(
    document: Document, out_dir: Path, catalog: Catalog, account: AccountSnapshot
) -> list[Path]:
    directory = out_dir / "invoices" / document.period
    return [
        write_json(document, directory),
        write_pdf(
            document,
            directory,
            issuer=ISSUER,
            digits=catalog.minor_digits,
            timezone=account.timezone,
        ),
    ]


async def run_period(
    store: BalanceStore,
    ledger: Ledger,
    catalog: Catalog,
    period_id: str,
    now_ms: int,
    out_dir: Path,
    accounts: Sequence[str] | None = None,
    correct_changed: bool = False,
    progress: bool = False,
) -> RunReport:
    """Issue (or draft) the period's document of each account; write JSON and PDF files."""
    report = RunReport()
    names = list(accounts) if accounts is not None else ledger_accounts(ledger)
    for account_id in tqdm(
        names, desc=f"billing {period_id}", unit="account", disable=not progress
    ):
        account = await account_snapshot(store, account_id)
        if account is None:
            report.unknown.append(account_id)
            continue
        _, _, end = period_bounds(account, period_id)
        document = compute(ledger, catalog, account, period_id)
        if end > now_ms:
            document = replace(document, draft=True)
            report.drafts.append(document)
            report.files += write_documents(document, out_dir, catalog, account)
            continue
        stored, new = issue(ledger, document, now_ms)
        (report.issued if new else report.unchanged).append(stored)
        if correct_changed:
            corrections = correct(ledger, catalog, account, period_id, now_ms)
            report.issued += corrections
            for doc in corrections:
                report.files += write_documents(doc, out_dir, catalog, account)
        report.files += write_documents(stored, out_dir, catalog, account)
    metrics.INVOICE_RUNS.inc()
    return report
