"""The activity trail of a customer: every agent action (the audit trail) and every workflow
step (dunning, payments, tickets, notifications), one row each, newest first for care."""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass
from typing import Any

from ocs.billing_bridge.ledger import LedgerCursor
from ocs.bss.database import BssDatabase

_sequence = itertools.count()
"""Row ids sort in the order this process wrote them (ties of one millisecond included)."""


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    ts: int
    actor: str
    customer: str
    account: str
    subscriber: str
    action: str
    detail: dict[str, Any]


def record(
    cur: LedgerCursor,
    ts: int,
    actor: str,
    action: str,
    *,
    customer: str = "",
    account: str = "",
    subscriber: str = "",
    **detail: Any,
) -> None:
    cur.execute(
        "INSERT INTO activity (id, ts, actor, customer, account, subscriber, action, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            f"{ts:015d}-{next(_sequence):010d}-{secrets.token_hex(4)}",
            ts,
            actor,
            customer,
            account,
            subscriber,
            action,
            json.dumps(detail, sort_keys=True, default=str),
        ),
    )


def log(db: BssDatabase, ts: int, actor: str, action: str, **fields: Any) -> None:
    with db.transaction() as cur:
        record(cur, ts, actor, action, **fields)


def of_customer(db: BssDatabase, customer: str, limit: int = 200) -> list[Activity]:
    rows = db.rows(
        "SELECT id, ts, actor, customer, account, subscriber, action, detail FROM activity "
        "WHERE customer = ? ORDER BY ts DESC, id DESC LIMIT ?",
        (customer, limit),
    )
    return [
        Activity(
            str(r[0]),
            int(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            str(r[5]),
            str(r[6]),
            json.loads(r[7]),
        )
        for r in rows
    ]
