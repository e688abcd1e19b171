"""Issuing documents: inputs from the ledger and the balance engine, numbering, immutability.

* Numbers are sequential and gapless per series: invoices and credit notes share ``INV``/``CN``
  numbers from one counter, statements have their own (``STM``). The counter is incremented
  in the same transaction that stores the document, so a failed issue leaves no gap.
* One document per account, period, kind and revision (a unique constraint): issuing again
  returns the stored document unchanged (re-running a period is idempotent, also when two
  runs race). Issued rows are never updated (database triggers refuse it).
* A correction never edits: it issues a credit note for the stored invoice and a new
  invoice (the next revision), both referring to the original.
* A period that has not ended yet (in the account's time zone) gets a draft: computed and
  written as a document marked DRAFT, never numbered or stored.
* What a document says besides its charges is a snapshot too: the customer's name and billing
  address (customer record, profile keys :data:`ADDRESS_KEYS`), the issuer and payment terms
  (config), and the invoice and due dates (set when it is numbered).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ocs.balance.events import Event, decode
from ocs.balance.store import BalanceStore
from ocs.billing_bridge import metrics
from ocs.billing_bridge.invoices import (
    AccountSnapshot,
    Document,
    Letterhead,
    Party,
    SubscriberSnapshot,
    UsageRow,
    build_invoice,
    build_statement,
    credit_note,
)
from ocs.billing_bridge.ledger import Ledger, LedgerCursor, LedgerError
from ocs.billing_bridge.movements import own_money_delta
from ocs.policy.catalog import Catalog
from ocs.policy.periods import period_by_id

PREFIX = {"invoice": "INV", "credit_note": "CN", "statement": "STM"}
COUNTER = {"invoice": "invoice", "credit_note": "invoice", "statement": "statement"}


ADDRESS_KEYS = ("address", "postcode", "city", "region", "country")
"""Customer profile keys that make up the billing address, printed in this order: ``address``
(street lines, separated by newlines), then ``postcode`` and ``city`` on one line, ``region``,
``country``. The profile's ``vat_id`` and ``email`` are printed too; other keys are not."""

MAX_FIELD = 200
"""Characters of one profile value printed (longer values are cut, with an ellipsis)."""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_FIELD else text[: MAX_FIELD - 1] + "\u2026"


def bill_to(name: str, customer_id: str, profile: Mapping[str, str]) -> Party:
    """The addressee of a customer's documents: the customer's name (its id when it has none)
    and the billing address from its profile (:data:`ADDRESS_KEYS`)."""
    street = [_clip(line) for line in profile.get("address", "").splitlines() if line.strip()]
    town = " ".join(_clip(profile.get(k, "")) for k in ("postcode", "city") if profile.get(k))
    rest = [_clip(profile.get(k, "")) for k in ("region", "country")]
    return Party(
        _clip(name) or customer_id,
        tuple(line for line in (*street[:4], town, *rest) if line.strip()),
        _clip(profile.get("vat_id", "")),
        _clip(profile.get("email", "")),
    )


async def account_snapshot(store: BalanceStore, account_id: str) -> AccountSnapshot | None:
    """The account's billing attributes, its customer's name and address and its subscribers'
    offers, now."""
    account = await store.get_account(account_id)
    if account is None:
        return None
    subscribers = []
    for sub_id in account.subscribers:
        sub = await store.get_subscriber(sub_id)
        if sub is not None:
            subscribers.append(SubscriberSnapshot(sub.id, tuple(sub.offers)))
    customer = await store.get_customer(account.customer_id)
    return AccountSnapshot(
        account.id,
        account.customer_id,
        account.currency,
        account.credit_limit,
        account.timezone,
        account.bill_cycle_day,
        tuple(subscribers),
        bill_to(
            customer.name if customer else "",
            account.customer_id,
            customer.profile if customer else {},
        ),
    )


def addressed(
    document: Document, account: AccountSnapshot, letterhead: Letterhead | None
) -> Document:
    """``document`` with its issuer, addressee, payment terms and time zone."""
    letterhead = letterhead or Letterhead()
    return replace(
        document,
        issuer=letterhead.issuer,
        bill_to=account.bill_to,
        payment=letterhead.payment,
        timezone=account.timezone,
    )


def issue_dates(document: Document, issued_at_ms: int) -> tuple[str, str]:
    """(invoice date, due date) of a document numbered at ``issued_at_ms``: local dates in the
    document's time zone; only an invoice has a due date (payment terms after its date)."""
    day = datetime.fromtimestamp(issued_at_ms / 1000, ZoneInfo(document.timezone)).date()
    if document.kind != "invoice":
        return day.isoformat(), ""
    return day.isoformat(), (day + timedelta(days=document.payment.terms_days)).isoformat()


def period_bounds(account: AccountSnapshot, period_id: str) -> tuple[str, int, int]:
    """(id, start ms, end ms) of the account's bill period ``YYYY-MM`` or ``YYYY-MM-DD``."""
    period = period_by_id(period_id, ZoneInfo(account.timezone), account.bill_cycle_day)
    return (
        period.id,
        int(period.start.timestamp() * 1000),
        int(period.end.timestamp() * 1000),
    )


def usage_rows(ledger: Ledger, account: str, start: int, end: int) -> list[UsageRow]:
    rows = ledger.query(
        "SELECT subscriber, rating_group, unit, COUNT(*), SUM(used), SUM(money) FROM charges "
        "WHERE account = ? AND ts >= ? AND ts < ? GROUP BY subscriber, rating_group, unit",
        (account, start, end),
    )
    return [UsageRow(r[0], int(r[1]), r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]


def period_events(ledger: Ledger, account: str, start: int, end: int) -> list[Event]:
    rows = ledger.query(
        "SELECT stream_ms, stream_seq, payload FROM events "
        "WHERE account = ? AND ts >= ? AND ts < ? ORDER BY ts, event_id",
        (account, start, end),
    )
    return [decode(f"{ms}-{seq}", {b"e": bytes(payload)}) for ms, seq, payload in rows]


def wallet_before(ledger: Ledger, account: str, start: int) -> int:
    """The account's own money at ``start``: its deltas in every earlier event."""
    rows = ledger.query(
        "SELECT stream_ms, stream_seq, payload FROM events WHERE account = ? AND ts < ? "
        "ORDER BY ts, event_id",
        (account, start),
    )
    events = [decode(f"{ms}-{seq}", {b"e": bytes(payload)}) for ms, seq, payload in rows]
    return own_money_delta(events, account)


def compute(ledger: Ledger, catalog: Catalog, account: AccountSnapshot, period_id: str) -> Document:
    """The account's document for the period as the ledger stands now (not stored)."""
    period = period_bounds(account, period_id)
    usage = usage_rows(ledger, account.id, period[1], period[2])
    events = period_events(ledger, account.id, period[1], period[2])
    if account.postpaid:
        return build_invoice(catalog, account, period, usage, events)
    opening = wallet_before(ledger, account.id, period[1])
    return build_statement(catalog, account, period, usage, events, opening)


def stored(ledger: Ledger, account: str, period: str) -> list[Document]:
    """The documents issued for an account and period, oldest first."""
    rows = ledger.query(
        "SELECT document FROM invoices WHERE account = ? AND period = ? "
        "ORDER BY revision, kind DESC",
        (account, period),
    )
    return [Document.from_json(json.loads(r[0])) for r in rows]


def current(ledger: Ledger, account: str, period: str) -> Document | None:
    """The invoice or statement in force (the latest revision), if one was issued."""
    docs = [d for d in stored(ledger, account, period) if d.kind != "credit_note"]
    return docs[-1] if docs else None


def issue(ledger: Ledger, document: Document, now_ms: int) -> tuple[Document, bool]:
    """Store ``document`` under the next number; (the stored document, whether it is new).
    An existing document of the same account, period, kind and revision wins."""
    try:
        with ledger.transaction() as cur:
            existing = _find(cur, document)
            if existing is not None:
                return existing, False
            issued = _insert(cur, document, now_ms)
    except LedgerError:
        # a concurrent run stored it first (unique constraint): that one is the document
        with ledger.transaction() as cur:
            existing = _find(cur, document)
        if existing is None:
            raise
        return existing, False
    metrics.DOCUMENTS.labels(document.kind).inc()
    return issued, True


def _find(cur: LedgerCursor, document: Document) -> Document | None:
    cur.execute(
        "SELECT document FROM invoices WHERE account = ? AND period = ? AND kind = ? "
        "AND revision = ?",
        (document.account, document.period, document.kind, document.revision),
    )
    row = cur.fetchone()
    return Document.from_json(json.loads(row[0])) if row else None


def _insert(cur: LedgerCursor, document: Document, now_ms: int) -> Document:
    counter = COUNTER[document.kind]
    cur.execute("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", (counter,))
    row = cur.fetchone()
    assert row is not None, f"counter {counter} missing"
    number = f"{PREFIX[document.kind]}-{int(row[0]):06d}"
    invoice_date, due_date = issue_dates(document, now_ms)
    issued = replace(
        document,
        number=number,
        issued_at_ms=now_ms,
        draft=False,
        invoice_date=invoice_date,
        due_date=due_date,
    )
    cur.execute(
        "INSERT INTO invoices (number, kind, account, customer, period, revision, period_start, "
        "period_end, currency, net, tax, total, issued_at, corrects, document) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            number,
            issued.kind,
            issued.account,
            issued.customer,
            issued.period,
            issued.revision,
            issued.period_start_ms,
            issued.period_end_ms,
            issued.currency,
            issued.net,
            issued.tax,
            issued.total,
            now_ms,
            issued.corrects,
            json.dumps(issued.to_json(), sort_keys=True),
        ),
    )
    cur.executemany(
        "INSERT INTO invoice_lines (number, line, kind, description, subscriber, rating_group, "
        "quantity, unit, events, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                number,
                n,
                line.kind,
                line.description,
                line.subscriber,
                line.rating_group,
                line.quantity,
                line.unit,
                line.events,
                line.amount,
            )
            for n, line in enumerate(issued.lines)
        ],
    )
    return issued


def correct(
    ledger: Ledger,
    catalog: Catalog,
    account: AccountSnapshot,
    period_id: str,
    now_ms: int,
    letterhead: Letterhead | None = None,
) -> Sequence[Document]:
    """If the ledger no longer agrees with the issued invoice: a credit note cancelling it and
    a new revision. Returns the documents issued (none when they agree)."""
    fresh = addressed(compute(ledger, catalog, account, period_id), account, letterhead)
    issued = current(ledger, account.id, fresh.period)
    if issued is None or issued.same_charges(fresh):
        return ()
    if issued.kind == "statement":
        # statements are not tax documents: the next revision replaces the statement
        new, _ = issue(ledger, replace(fresh, revision=issued.revision + 1), now_ms)
        return (new,)
    note, _ = issue(ledger, replace(credit_note(issued), revision=issued.revision), now_ms)
    new, _ = issue(
        ledger, replace(fresh, revision=issued.revision + 1, corrects=issued.number), now_ms
    )
    return (note, new)
