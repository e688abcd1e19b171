"""Finance and operations reports, straight from the ledger and the BSS tables (one SQL query
each; every amount integer minor units): revenue by day and service, top-ups and payments by
day, open and overdue bills, the ticket backlog and SLA. Each is a table (columns + rows) that
the portal shows and exports as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ocs.balance.events import decode
from ocs.bss.database import BssDatabase
from ocs.policy.catalog import Catalog

DAY_MS = 86_400_000
NAMES = ("revenue", "payments", "bills", "tickets")


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[object, ...]]
    money_columns: tuple[int, ...] = ()

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


def _day(day_index: int) -> str:
    return datetime.fromtimestamp(day_index * 86400, UTC).date().isoformat()


def revenue(db: BssDatabase, catalog: Catalog, since_ms: int) -> Report:
    rows = db.rows(
        "SELECT ts / ?, rating_group, unit, COUNT(*), SUM(used), SUM(money), "
        "SUM(from_allowances) FROM charges WHERE ts >= ? GROUP BY ts / ?, rating_group, unit "
        "ORDER BY ts / ?, rating_group",
        (DAY_MS, since_ms, DAY_MS, DAY_MS),
    )
    out = []
    for day, group, unit, events, used, money, allowances in rows:
        info = catalog.services.get(int(group))
        service = info.name if info else str(group)
        out.append(
            (_day(int(day)), service, unit, int(events), int(used), int(allowances), int(money))
        )
    # offer prices and recurring fees: purchase events (what each amount paid for)
    sold: dict[tuple[str, str], list[int]] = {}
    for ms, seq, payload in db.rows(
        "SELECT stream_ms, stream_seq, payload FROM events WHERE type = 'purchase' AND ts >= ?",
        (since_ms,),
    ):
        data = decode(f"{ms}-{seq}", {b"e": bytes(payload)}).data
        day = _day(int(data.get("ts", 0)) // DAY_MS)
        for charge in data.get("charges") or ():
            what = "recurring fees" if charge.get("what") == "fee" else "offer purchases"
            entry = sold.setdefault((day, what), [0, 0])
            entry[0] += 1
            entry[1] += int(charge.get("amount", 0))
    out += [(day, what, "money", n, 0, 0, amount) for (day, what), (n, amount) in sold.items()]
    out.sort(key=lambda row: (row[0], row[1]))
    return Report(
        "revenue",
        "Revenue by day and service (UTC days)",
        ("day", "service", "unit", "events", "units", "units_from_allowances", "money_minor"),
        out,
        (6,),
    )


def payments(db: BssDatabase, since_ms: int) -> Report:
    totals: dict[tuple[str, str], list[int]] = {}
    for ms, seq, payload in db.rows(
        "SELECT stream_ms, stream_seq, payload FROM events WHERE type = 'topup' AND ts >= ?",
        (since_ms,),
    ):
        data = decode(f"{ms}-{seq}", {b"e": bytes(payload)}).data
        actor = str(data.get("actor") or "")
        source = "payment" if actor.startswith("payments:") else "top-up"
        key = (_day(int(data.get("ts", 0)) // DAY_MS), f"wallet {source}")
        entry = totals.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += int(data.get("amount", 0))
    for day, source, count, amount in db.rows(
        "SELECT received_ms / ?, source, COUNT(*), SUM(amount) FROM payments "
        "WHERE received_ms >= ? AND bill <> '' GROUP BY received_ms / ?, source",
        (DAY_MS, since_ms, DAY_MS),
    ):
        key = (_day(int(day)), f"bill payment ({source})")
        entry = totals.setdefault(key, [0, 0])
        entry[0] += int(count)
        entry[1] += int(amount)
    rows = [(day, kind, n, amount) for (day, kind), (n, amount) in sorted(totals.items())]
    return Report(
        "payments",
        "Top-ups and payments by day",
        ("day", "kind", "count", "amount_minor"),
        rows,
        (3,),
    )


def open_bills(db: BssDatabase, now_ms: int) -> Report:
    rows = db.rows(
        "SELECT number, account, customer, total, paid, credited, due_ms, dunning_step "
        "FROM bills WHERE state = 'open' ORDER BY due_ms, number"
    )
    out = [
        (
            number,
            account,
            customer,
            int(total) - int(paid) - int(credited),
            datetime.fromtimestamp(int(due) / 1000, UTC).date().isoformat(),
            "overdue" if int(due) < now_ms else "open",
            max(0, (now_ms - int(due)) // DAY_MS),
            int(step),
        )
        for number, account, customer, total, paid, credited, due, step in rows
    ]
    return Report(
        "bills",
        "Open and overdue bills",
        (
            "bill",
            "account",
            "customer",
            "outstanding_minor",
            "due",
            "state",
            "days_overdue",
            "dunning_step",
        ),
        out,
        (3,),
    )


def tickets(db: BssDatabase, now_ms: int) -> Report:
    rows = db.rows(
        "SELECT category, state, COUNT(*), "
        "SUM(CASE WHEN (resolved_ms > 0 AND resolved_ms > due_ms) OR "
        "(resolved_ms = 0 AND state IN ('acknowledged', 'inProgress', 'pending') "
        "AND due_ms < ?) THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN resolved_ms > 0 THEN resolved_ms - created_ms ELSE 0 END), "
        "SUM(CASE WHEN resolved_ms > 0 THEN 1 ELSE 0 END) "
        "FROM tickets GROUP BY category, state ORDER BY category, state",
        (now_ms,),
    )
    out = [
        (
            category,
            state,
            int(count),
            int(breached or 0),
            round(int(spent or 0) / int(resolved) / 3_600_000, 1) if int(resolved or 0) else "",
        )
        for category, state, count, breached, spent, resolved in rows
    ]
    return Report(
        "tickets",
        "Ticket backlog and SLA",
        ("category", "state", "tickets", "sla_breached", "mean_hours_to_resolve"),
        out,
    )


def build(db: BssDatabase, catalog: Catalog, name: str, now_ms: int, days: int) -> Report:
    since = now_ms - days * DAY_MS
    if name == "revenue":
        return revenue(db, catalog, since)
    if name == "payments":
        return payments(db, since)
    if name == "bills":
        return open_bills(db, now_ms)
    if name == "tickets":
        return tickets(db, now_ms)
    raise ValueError(f"no report {name!r}")
