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
from ocs.billing_bridge.documents import write_json
from ocs.billing_bridge.invoices import Document, Letterhead, Party, PaymentDetails
from ocs.billing_bridge.issuing import (
    account_snapshot,
    addressed,
    compute,
    correct,
    current,
    issue,
    period_bounds,
)
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.pdf import write_pdf
from ocs.config import BillingConfig
from ocs.policy.catalog import Catalog


def letterhead(config: BillingConfig) -> Letterhead:
    """The issuer and payment terms of ``[billing.issuer]`` and ``[billing.payment]``."""
    issuer, pay = config.issuer, config.payment
    return Letterhead(
        Party(issuer.name, tuple(issuer.address), issuer.vat_id, issuer.email),
        PaymentDetails(pay.terms_days, pay.iban, pay.bic, pay.bank, pay.note),
    )


@dataclass(slots=True)
class RunReport:
    issued: list[Document] = field(default_factory=list)
    unchanged: list[Document] = field(default_factory=list)
    drafts: list[Document] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Accounts in the ledger that the balance engine does not know."""
    changed: list[Document] = field(default_factory=list)
    """Issued documents (in ``unchanged``) that the ledger no longer agrees with: a late event
    arrived after they were issued. ``--correct`` issues a credit note and a new revision."""

    @property
    def documents(self) -> list[Document]:
        """Every document of the run: issued now, issued before, drafts."""
        return [*self.issued, *self.unchanged, *self.drafts]


def ledger_accounts(ledger: Ledger) -> list[str]:
    rows = ledger.query("SELECT DISTINCT account FROM events WHERE account <> '' ORDER BY account")
    return [r[0] for r in rows]


def write_documents(document: Document, out_dir: Path, catalog: Catalog) -> list[Path]:
    directory = out_dir / "invoices" / document.period
    return [
        write_json(document, directory),
        write_pdf(document, directory, digits=catalog.minor_digits),
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
    letterhead: Letterhead | None = None,
) -> RunReport:
    """Issue (or draft) the period's document of each account; write JSON and PDF files.
    ``letterhead``: the issuer and payment terms printed on documents issued now."""
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
        document = addressed(compute(ledger, catalog, account, period_id), account, letterhead)
        if end > now_ms:
            document = replace(document, draft=True)
            report.drafts.append(document)
            report.files += write_documents(document, out_dir, catalog)
            continue
        stored, new = issue(ledger, document, now_ms)
        (report.issued if new else report.unchanged).append(stored)
        latest = None if new or correct_changed else current(ledger, account.id, stored.period)
        if latest is not None and not latest.same_charges(document):
            report.changed.append(latest)
        if correct_changed:
            corrections = correct(ledger, catalog, account, period_id, now_ms, letterhead)
            report.issued += corrections
            for doc in corrections:
                report.files += write_documents(doc, out_dir, catalog)
        report.files += write_documents(stored, out_dir, catalog)
    metrics.INVOICE_RUNS.inc()
    return report
