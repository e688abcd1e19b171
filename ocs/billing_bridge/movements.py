"""Money movements: what each charge event did to an account's money, by kind, read from the
event's own amounts (charges, credits, top-up amount...) and checked against its balance
deltas.

Invoices and statements present these movements; reconciliation proves that the documents, the
ledger and the balances agree by kind, and that every event's deltas are what its amounts say
(an event that claims a top-up of 1 while its balances did not move is caught here).

Kinds (also the ``kind`` of document lines, so a document can be compared line by line):

=========== ============================================================ =================
kind        amount (minor units, money)                                  events
=========== ============================================================ =================
usage       money charged for usage (any wallet: a pool's parent too)    session, debit
purchase    an offer's price                                             purchase
fee         an offer's recurring fee for a bill period                   purchase
refund      money credited back                                          refund
adjustment  money added (+) or taken (-) by an operator                  adjust
topup       money paid in                                                topup
expiry      money forfeited by an expired money bucket                   expire
opening     an account's opening balance                                 provision
=========== ============================================================ =================

Charges (usage, purchase, fee) are positive amounts that take money; refund, topup and opening
are positive amounts that give it; adjustment and expiry carry their sign as they move money
(expiry negative).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ocs.balance.events import Event

WALLET = "money"
CHARGES = ("usage", "purchase", "fee")
"""Kinds whose positive amounts take money from the wallets."""
KINDS = ("usage", "purchase", "fee", "refund", "adjustment", "topup", "expiry", "opening")


@dataclass(frozen=True, slots=True)
class Movement:
    kind: str
    amount: int
    subscriber: str = ""
    detail: str = ""
    """purchase/fee: the offer id; fee: also the period (``offer@period``)."""


@dataclass(slots=True)
class Totals:
    """Movements of an account in a period, summed by kind."""

    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, movement: Movement) -> None:
        self.by_kind[movement.kind] += movement.amount

    def __getitem__(self, kind: str) -> int:
        return self.by_kind.get(kind, 0)


def _money_labels(data: Mapping[str, Any], known: set[str]) -> set[str]:
    """Labels of money buckets an event touches: the main wallets, money buckets added by the
    event itself, and ``known`` (money buckets added by earlier events)."""
    labels = {WALLET} | known
    parent = data.get("parent") or ""
    if parent:
        labels.add(f"{parent}/{WALLET}")
    for bucket in data.get("added") or ():
        if isinstance(bucket, dict) and bucket.get("unit") == WALLET:
            labels.add(str(bucket.get("id")))
    return labels


def movements(event: Event, money_buckets: set[str] | None = None) -> list[Movement]:
    """The money movements one event made for its account (``acct``)."""
    data = event.data
    kind = event.type.value
    sub = str(data.get("sub", "") or "")
    labels = _money_labels(data, money_buckets or set())
    if kind in ("session", "debit"):
        total = sum(int(item.get("money_charged", 0) or 0) for item in data.get("items") or ())
        return [Movement("usage", total, sub)] if total else []
    if kind == "purchase":
        out = []
        for charge in data.get("charges") or ():
            what, amount = str(charge.get("what")), int(charge.get("amount", 0))
            if not amount:
                continue
            offer = str(data.get("offer", ""))
            if what == "fee":
                out.append(Movement("fee", amount, sub, f"{offer}@{charge.get('period', '')}"))
            else:
                out.append(Movement("purchase", amount, sub, offer))
        return out
    if kind == "refund":
        money = data.get("money")
        if money is None:  # written before refunds said how much money they gave back
            money = sum(int(v) for k, v in (data.get("credited") or {}).items() if k in labels)
        return [Movement("refund", int(money), sub)] if money else []
    if kind == "topup":
        if data.get("bucket", WALLET) not in labels:
            return []
        return [Movement("topup", int(data.get("amount", 0)), sub)]
    if kind == "adjust":
        if data.get("bucket") not in labels:
            return []
        return [Movement("adjustment", int(data.get("amount", 0)), sub, str(data.get("reason")))]
    if kind == "expire":
        lost = sum(int(v) for k, v in (data.get("forfeited") or {}).items() if k in labels)
        return [Movement("expiry", -lost)] if lost else []
    if kind == "provision" and data.get("kind") == "account":
        opening = int((data.get("delta") or {}).get(WALLET, 0))
        return [Movement("opening", opening)] if opening else []
    return []


def expected_deltas(event: Event) -> dict[str, int] | None:
    """The balance change per bucket label that the event's own amounts imply, or None for
    an event whose deltas nothing else states (thresholds, session expiry, most provisioning).

    session/debit: minus what each item charged per bucket; purchase: minus what it charged,
    plus the added buckets' balances; refund: what it credited; topup/adjust: the amount on
    its bucket; expire: minus what it forfeited; bucket orders: added balances and forfeits."""
    data = event.data
    kind = event.type.value
    out: dict[str, int] = defaultdict(int)
    if kind in ("session", "debit"):
        for item in data.get("items") or ():
            for label, amount in (item.get("charged") or {}).items():
                out[label] -= int(amount)
    elif kind == "purchase" or (kind == "provision" and data.get("kind") == "buckets"):
        for label, amount in (data.get("charged") or {}).items():
            out[label] -= int(amount)
        for bucket in data.get("added") or ():
            if isinstance(bucket, dict):
                out[str(bucket.get("id"))] += int(bucket.get("balance", 0))
        for label, amount in (data.get("forfeited") or {}).items():
            out[label] -= int(amount)
    elif kind == "refund":
        for label, amount in (data.get("credited") or {}).items():
            out[label] += int(amount)
    elif kind in ("topup", "adjust"):
        out[str(data.get("bucket", WALLET))] += int(data.get("amount", 0))
    elif kind == "expire":
        for label, amount in (data.get("forfeited") or {}).items():
            out[label] -= int(amount)
    else:
        return None
    return {label: amount for label, amount in out.items() if amount}


def delta_problems(event: Event) -> list[str]:
    """Where an event's balance deltas differ from what its amounts say (empty: they agree)."""
    expected = expected_deltas(event)
    if expected is None:
        return []
    actual = {k: int(v) for k, v in (event.data.get("delta") or {}).items() if v}
    return [
        f"bucket {label}: delta {actual.get(label, 0)}, its amounts say {expected.get(label, 0)}"
        for label in sorted(set(expected) | set(actual))
        if expected.get(label, 0) != actual.get(label, 0)
    ]


def totals(events: Iterable[Event], account: str) -> Totals:
    """The movements of ``account`` in ``events``, by kind."""
    result = Totals()
    money_buckets: set[str] = set()
    for event in events:
        if event.data.get("acct") != account:
            continue
        for bucket in event.data.get("added") or ():
            if isinstance(bucket, dict) and bucket.get("unit") == WALLET:
                money_buckets.add(str(bucket.get("id")))
        for movement in movements(event, money_buckets):
            result.add(movement)
    return result


def own_money_delta(events: Iterable[Event], account: str) -> int:
    """How much the events changed the account's own money buckets (its main wallet and any
    money bucket added to it), from their deltas."""
    total = 0
    money_buckets: set[str] = {WALLET}
    for event in events:
        if event.data.get("acct") != account:
            continue
        for bucket in event.data.get("added") or ():
            if isinstance(bucket, dict) and bucket.get("unit") == WALLET:
                money_buckets.add(str(bucket.get("id")))
        delta = event.data.get("delta") or {}
        total += sum(int(v) for k, v in delta.items() if k in money_buckets)
    return total
