"""Invoices (postpaid) and statements (prepaid) per account and bill period, from the ledger.

Computation is a pure function of the ledger rows, an account snapshot and the catalog:

* **usage** lines per subscriber and rating group (events, units, money charged);
* **purchase** and **fee** lines: each offer price and recurring fee charged in the period, as
  its ``purchase`` event says (offer, amount, the bill period a fee pays for);
* **refund** and **adjustment** lines, one per event (a refund is a credit; an adjustment
  that takes money is a charge, one that adds money a credit);
* **discounts**: each catalog discount, for every subscriber holding all its ``requires``
  offers, takes ``percent`` off that subscriber's usage of its services;
* **tax** on the discounted net.

Rounding (documented in docs/billing.md): every amount is an integer in minor units; a
discount is rounded half away from zero per line; tax is computed once per tax rate on the net
of that rate's lines (:func:`tax_summary`) and rounded the same way. So ``net == sum(lines)``,
``tax == sum(rate taxes)`` and ``total == net + tax`` hold exactly. A prepaid account (credit
limit 0) gets a statement instead: opening balance of the main wallet, its movements, closing
balance; no tax.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

from ocs.balance.events import Event
from ocs.billing_bridge.movements import WALLET, movements, own_money_delta
from ocs.policy.catalog import Catalog


def round_half_up(value: Fraction) -> int:
    """Nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    magnitude = abs(value)
    rounded = int(magnitude + Fraction(1, 2))
    return rounded if value >= 0 else -rounded


@dataclass(frozen=True, slots=True)
class Party:
    """Who issues a document, or whom it is addressed to, as printed on it."""

    name: str = ""
    address: tuple[str, ...] = ()
    """Postal address, one line per item."""
    vat_id: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class PaymentDetails:
    """How an invoice is paid (``[billing.payment]`` at issue time)."""

    terms_days: int = 0
    iban: str = ""
    bic: str = ""
    bank: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Letterhead:
    """What every document of a run carries besides its charges: the issuer and the payment
    terms, from the config at issue time."""

    issuer: Party = field(default_factory=Party)
    payment: PaymentDetails = field(default_factory=PaymentDetails)


@dataclass(frozen=True, slots=True)
class TaxRate:
    """One row of a document's tax summary: the net of the lines taxed at ``percent`` and the
    tax on it."""

    percent: int
    net: int
    tax: int


@dataclass(frozen=True, slots=True)
class SubscriberSnapshot:
    id: str
    offers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What the ledger's events do not carry: read from the balance engine at billing time and
    kept in the issued document."""

    id: str
    customer: str
    currency: str
    credit_limit: int
    timezone: str
    bill_cycle_day: int
    subscribers: tuple[SubscriberSnapshot, ...]
    bill_to: Party = field(default_factory=Party)
    """The customer's name and billing address (the customer record's name and profile)."""

    @property
    def postpaid(self) -> bool:
        return self.credit_limit > 0


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Charges of one subscriber and rating group in the period (SQL aggregate)."""

    subscriber: str
    rating_group: int
    unit: str
    events: int
    used: int
    money: int


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    """A movement kind (``ocs.billing_bridge.movements``: usage, purchase, fee, refund,
    adjustment, topup, expiry, opening), ``discount``, or ``pool`` (statements: money drawn
    from other wallets)."""
    description: str
    amount: int
    subscriber: str = ""
    rating_group: int | None = None
    quantity: int = 0
    unit: str = ""
    events: int = 0
    tax_percent: int | None = None
    """The line's tax rate; None: the document's standard rate (the catalog's tax_percent)."""


@dataclass(frozen=True, slots=True)
class Document:
    kind: str
    """invoice, statement or credit_note."""
    account: str
    customer: str
    currency: str
    period: str
    period_start_ms: int
    period_end_ms: int
    lines: tuple[Line, ...]
    net: int
    tax_percent: int
    tax: int
    total: int
    subscribers: tuple[SubscriberSnapshot, ...] = ()
    opening_balance: int | None = None
    closing_balance: int | None = None
    number: str = ""
    revision: int = 0
    corrects: str = ""
    issued_at_ms: int = 0
    draft: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    issuer: Party = field(default_factory=Party)
    bill_to: Party = field(default_factory=Party)
    payment: PaymentDetails = field(default_factory=PaymentDetails)
    timezone: str = "UTC"
    """The account's time zone: the dates below are local dates in it."""
    invoice_date: str = ""
    """``YYYY-MM-DD``, set when the document is issued (empty on drafts)."""
    due_date: str = ""
    """Invoices: the invoice date plus the payment terms; empty otherwise."""
    taxes: tuple[TaxRate, ...] = ()
    """Tax summary, one row per rate (invoices and credit notes)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        nested = ("lines", "subscribers", "issuer", "bill_to", "payment", "taxes")
        fields = {k: v for k, v in data.items() if k not in nested}
        return cls(
            lines=tuple(Line(**line) for line in data["lines"]),
            subscribers=tuple(
                SubscriberSnapshot(s["id"], tuple(s["offers"])) for s in data.get("subscribers", ())
            ),
            issuer=_party(data.get("issuer")),
            bill_to=_party(data.get("bill_to")),
            payment=PaymentDetails(**data.get("payment", {})),
            taxes=tuple(TaxRate(**t) for t in data.get("taxes", ())),
            **fields,
        )

    def same_charges(self, other: Document) -> bool:
        """Whether two computations agree on every line and total (numbering aside)."""
        return (self.lines, self.net, self.tax, self.total) == (
            other.lines,
            other.net,
            other.tax,
            other.total,
        )


def _party(data: dict[str, Any] | None) -> Party:
    if not data:
        return Party()
    return Party(**{**data, "address": tuple(data.get("address", ()))})


def tax_summary(lines: Iterable[Line], standard_percent: int) -> tuple[TaxRate, ...]:
    """Net and tax per rate, highest rate first: a line's ``tax_percent``, or the standard rate.

    Each rate's tax is ``percent/100`` of that rate's net, computed exactly and rounded half
    away from zero once (never per line), so the sum of the rows' nets is the document's net.
    A rate whose lines add up to zero still gets its row (it was charged and credited)."""
    nets: dict[int, int] = {}
    for line in lines:
        percent = standard_percent if line.tax_percent is None else line.tax_percent
        nets[percent] = nets.get(percent, 0) + line.amount
    return tuple(
        TaxRate(percent, net, round_half_up(Fraction(net * percent, 100)))
        for percent, net in sorted(nets.items(), reverse=True)
    )


def service_name(catalog: Catalog, rating_group: int) -> str:
    info = catalog.services.get(rating_group)
    if info is None:
        return f"Rating group {rating_group}"
    return info.config.description or info.name


def _usage_lines(catalog: Catalog, usage: Iterable[UsageRow]) -> list[Line]:
    return [
        Line(
            "usage",
            service_name(catalog, row.rating_group),
            row.money,
            row.subscriber,
            row.rating_group,
            row.used,
            row.unit,
            row.events,
        )
        for row in sorted(usage, key=lambda r: (r.subscriber, r.rating_group, r.unit))
    ]


def _offer_name(catalog: Catalog, offer_id: str) -> str:
    offer = catalog.offer(offer_id)
    return offer.name if offer is not None else offer_id


def _movement_lines(catalog: Catalog, events: Sequence[Event], account: str) -> list[Line]:
    """One line per purchase, recurring fee, refund and adjustment of the account, as charged
    (positive) or credited (negative): what each event says it moved (ocs.billing_bridge.
    movements), never a price looked up now."""
    lines: list[Line] = []
    money_buckets: set[str] = set()
    for event in events:
        data = event.data
        if data.get("acct") != account:
            continue
        for bucket in data.get("added") or ():
            if isinstance(bucket, dict) and bucket.get("unit") == WALLET:
                money_buckets.add(str(bucket.get("id")))
        for m in movements(event, money_buckets):
            if m.kind == "purchase":
                text = f"Purchase: {_offer_name(catalog, m.detail)}"
                lines.append(Line("purchase", text, m.amount, m.subscriber, events=1))
            elif m.kind == "fee":
                offer_id, _, period = m.detail.partition("@")
                text = f"Recurring fee: {_offer_name(catalog, offer_id)}, period from {period}"
                lines.append(Line("fee", text, m.amount, m.subscriber, events=1))
            elif m.kind == "refund":
                reason = str(data.get("reason") or "refund")
                lines.append(Line("refund", f"Refund: {reason}", -m.amount, m.subscriber, events=1))
            elif m.kind == "adjustment":
                text = f"Adjustment: {m.detail or 'adjustment'}"
                lines.append(Line("adjustment", text, -m.amount, events=1))
    return lines


def _discount_lines(
    catalog: Catalog, account: AccountSnapshot, usage_lines: Sequence[Line]
) -> list[Line]:
    lines = []
    for _, rule in sorted(catalog.data.discounts.items()):
        groups = {catalog.service_by_name[s].rating_group for s in rule.services}
        for sub in account.subscribers:
            if not set(rule.requires) <= set(sub.offers):
                continue
            base = sum(
                line.amount
                for line in usage_lines
                if line.subscriber == sub.id and line.rating_group in groups
            )
            amount = -round_half_up(Fraction(base * rule.percent, 100))
            if amount:
                lines.append(Line("discount", f"Discount: {rule.name}", amount, sub.id))
    return lines


def build_invoice(
    catalog: Catalog,
    account: AccountSnapshot,
    period: tuple[str, int, int],
    usage: Iterable[UsageRow],
    events: Sequence[Event],
) -> Document:
    """A postpaid account's invoice for ``period`` = (id, start ms, end ms)."""
    usage_lines = _usage_lines(catalog, usage)
    lines = [
        *usage_lines,
        *_movement_lines(catalog, events, account.id),
        *_discount_lines(catalog, account, usage_lines),
    ]
    net = sum(line.amount for line in lines)
    tax_percent = catalog.data.tax_percent
    taxes = tax_summary(lines, tax_percent)
    tax = sum(rate.tax for rate in taxes)
    return Document(
        "invoice",
        account.id,
        account.customer,
        account.currency,
        period[0],
        period[1],
        period[2],
        tuple(lines),
        net,
        tax_percent,
        tax,
        net + tax,
        account.subscribers,
        taxes=taxes,
    )


_STATEMENT_KINDS = {
    "topup": "Top-ups",
    "expiry": "Expired money",
    "opening": "Opening balance",
}


def build_statement(
    catalog: Catalog,
    account: AccountSnapshot,
    period: tuple[str, int, int],
    usage: Iterable[UsageRow],
    events: Sequence[Event],
    opening_balance: int,
) -> Document:
    """A prepaid account's statement: the main wallet's movements in the period.

    Usage lines show units and money per service; purchases, recurring fees, refunds and
    adjustments one line per event; top-ups and expiries summed; all as they moved money
    (charges negative). A difference between these and the wallet's own deltas (money drawn
    from other wallets, e.g. a shared pool's parent) is one more line, so that
    opening + sum(lines) == closing exactly."""
    lines = [replace(line, amount=-line.amount) for line in _usage_lines(catalog, usage)]
    lines += [
        replace(line, amount=-line.amount) for line in _movement_lines(catalog, events, account.id)
    ]
    grouped: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    money_buckets: set[str] = set()
    for event in events:
        if event.data.get("acct") != account.id:
            continue
        for bucket in event.data.get("added") or ():
            if isinstance(bucket, dict) and bucket.get("unit") == WALLET:
                money_buckets.add(str(bucket.get("id")))
        for m in movements(event, money_buckets):
            if m.kind in _STATEMENT_KINDS:
                grouped[m.kind][0] += m.amount
                grouped[m.kind][1] += 1
    lines += [
        Line(kind, _STATEMENT_KINDS[kind], total, events=count)
        for kind, (total, count) in sorted(grouped.items())
    ]
    explained = sum(line.amount for line in lines)
    wallet_delta = own_money_delta(events, account.id)
    if wallet_delta != explained:
        lines.append(Line("pool", "Charged to other wallets", wallet_delta - explained))
    net = sum(line.amount for line in lines)
    return Document(
        "statement",
        account.id,
        account.customer,
        account.currency,
        period[0],
        period[1],
        period[2],
        tuple(lines),
        net,
        0,
        0,
        net,
        account.subscribers,
        opening_balance=opening_balance,
        closing_balance=opening_balance + net,
    )


def credit_note(original: Document) -> Document:
    """The full reversal of an issued invoice (its lines negated)."""
    lines = tuple(replace(line, amount=-line.amount) for line in original.lines)
    return replace(
        original,
        kind="credit_note",
        lines=lines,
        net=-original.net,
        tax=-original.tax,
        total=-original.total,
        number="",
        corrects=original.number,
        issued_at_ms=0,
        invoice_date="",
        due_date="",
        taxes=tuple(TaxRate(t.percent, -t.net, -t.tax) for t in original.taxes),
    )
