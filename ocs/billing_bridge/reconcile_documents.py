"""Reconciliation of the issued documents of a period: each adds up, still equals what the
ledger gives, and agrees kind by kind with the money the account's events moved
(``ocs.billing_bridge.movements``: usage, purchases, recurring fees, refunds, adjustments;
for statements also top-ups, expiries and the opening and closing balances).

The last check is independent of how documents are built: an invoice that listed a purchase
both as usage and as a purchase (as ocs did once) has more usage than the events charged, and
is reported as ``document_movement_mismatch`` naming the kind, whatever builder made it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from fractions import Fraction

from ocs.balance.store import BalanceStore
from ocs.billing_bridge.invoices import Document, round_half_up
from ocs.billing_bridge.issuing import (
    account_snapshot,
    compute,
    period_bounds,
    period_events,
    stored,
    wallet_before,
)
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.movements import KINDS, totals
from ocs.policy.catalog import Catalog

INVOICE_SIGN = {
    "usage": 1,
    "purchase": 1,
    "fee": 1,
    "refund": -1,
    "adjustment": -1,
}
"""Invoice lines by kind, as the movements of that kind (charges owed, credits negative)."""
STATEMENT_SIGN = {
    "usage": -1,
    "purchase": -1,
    "fee": -1,
    "refund": 1,
    "adjustment": 1,
    "topup": 1,
    "expiry": 1,
    "opening": 1,
}
"""Statement lines by kind, as the movements of that kind (what they did to the wallet)."""


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    detail: str
    account: str


async def check_documents(
    store: BalanceStore,
    ledger: Ledger,
    catalog: Catalog,
    period: str,
    counts: MutableMapping[str, int],
) -> list[Problem]:
    problems: list[Problem] = []
    accounts = [r[0] for r in ledger.query("SELECT DISTINCT account FROM invoices")]
    for account_id in accounts:
        snapshot = await account_snapshot(store, account_id)
        if snapshot is None:
            continue
        period_id, start, end = period_bounds(snapshot, period)
        docs = stored(ledger, account_id, period_id)
        for doc in docs:
            counts["documents"] += 1
            if not _adds_up(doc):
                problems.append(
                    Problem("document_arithmetic", f"{doc.number} does not add up", account_id)
                )
        live = [d for d in docs if d.kind != "credit_note"]
        if not live:
            continue
        issued = live[-1]
        fresh = compute(ledger, catalog, replace(snapshot, subscribers=issued.subscribers), period)
        if not issued.same_charges(fresh):
            problems.append(
                Problem(
                    "document_mismatch",
                    f"{issued.number}: issued total {issued.total}, the ledger now gives "
                    f"{fresh.total} (a correction issues a credit note)",
                    account_id,
                )
            )
        moved = totals(period_events(ledger, account_id, start, end), account_id)
        problems += [
            Problem("document_movement_mismatch", detail, account_id)
            for detail in _by_kind(issued, moved.by_kind)
        ]
        if issued.kind == "statement":
            opening, closing = (
                wallet_before(ledger, account_id, start),
                wallet_before(ledger, account_id, end),
            )
            if (issued.opening_balance, issued.closing_balance) != (opening, closing):
                problems.append(
                    Problem(
                        "document_movement_mismatch",
                        f"{issued.number}: opening {issued.opening_balance} and closing "
                        f"{issued.closing_balance}, the wallet's were {opening} and {closing}",
                        account_id,
                    )
                )
    return problems


DERIVED = {"statement": {"pool"}, "invoice": {"discount"}}
"""Lines no movement stands for: computed from other lines (discounts) or the difference
between the wallet and what the account's usage cost (pool draws on statements)."""


def _adds_up(doc: Document) -> bool:
    """Lines = net; each rate's tax is its net's, rounded once; tax = their sum; total =
    net + tax (a document issued before taxes per rate: tax on the whole net)."""
    if sum(x.amount for x in doc.lines) != doc.net:
        return False
    if doc.taxes:
        if sum(t.net for t in doc.taxes) != doc.net:
            return False
        if any(t.tax != round_half_up(Fraction(t.net * t.percent, 100)) for t in doc.taxes):
            return False
        tax = sum(t.tax for t in doc.taxes)
    else:
        tax = round_half_up(Fraction(doc.net * doc.tax_percent, 100))
    return doc.tax == tax and doc.total == doc.net + tax


def _by_kind(document: Document, moved: dict[str, int]) -> list[str]:
    """Where the document's lines of a kind do not add up to the movements of that kind, and
    lines of a kind no movement stands for."""
    signs = STATEMENT_SIGN if document.kind == "statement" else INVOICE_SIGN
    derived = DERIVED.get(document.kind, set())
    listed: dict[str, int] = defaultdict(int)
    for line in document.lines:
        listed[line.kind] += line.amount
    out = [
        f"{document.number}: {kind} lines ({amount}) stand for no money the account moved"
        for kind, amount in sorted(listed.items())
        if kind not in signs and kind not in derived and amount
    ]
    for kind in KINDS:
        if kind not in signs:
            continue
        expected = signs[kind] * moved.get(kind, 0)
        if listed.get(kind, 0) != expected:
            out.append(
                f"{document.number}: {kind} lines add up to {listed.get(kind, 0)}, the "
                f"account's {kind} movements to {expected}"
            )
    return out
