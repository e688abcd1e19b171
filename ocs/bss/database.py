"""The BSS database: the billing ledger's SQL database (SQLite file or PostgreSQL) with the
BSS tables beside the ledger's, on their own numbered migrations (``bss_schema_migrations``).

Why SQL and not Redis: tickets, portal users, payments, dunning and the directory are records
people search, sort, page, join with bills and report on (open and overdue bills, backlog, SLA,
revenue by day); they change at human speed; they must survive a Redis flush; and the issued
bills they refer to already live in the ledger, so a report is one query. Redis stays the home
of balances only.

Calls are synchronous (DB-API, like :class:`~ocs.billing_bridge.ledger.Ledger`); async code
runs them with :meth:`BssDatabase.run` on a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ocs.billing_bridge.ledger import Ledger, LedgerCursor
from ocs.bss.migrations import MIGRATIONS

T = TypeVar("T")


class BssDatabase(Ledger):
    """The ledger database plus the BSS schema."""

    def migrate(self) -> int:
        super().migrate()  # bills and reports read the ledger's tables
        with self.transaction() as cur:
            if self.dialect.name == "postgresql":
                cur.execute("SELECT pg_advisory_xact_lock(7366252)")  # 'ocs' bss migrations
            cur.execute(
                "CREATE TABLE IF NOT EXISTS bss_schema_migrations "
                "(version INTEGER PRIMARY KEY, description TEXT NOT NULL)"
            )
            cur.execute("SELECT version FROM bss_schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
            for version, description, statements in MIGRATIONS:
                if version in applied:
                    continue
                for statement in statements:
                    cur.raw.execute(statement.format(blob=self.dialect.blob))
                cur.execute(
                    "INSERT INTO bss_schema_migrations (version, description) VALUES (?, ?)",
                    (version, description),
                )
        return MIGRATIONS[-1][0]

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)

    def rows(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.query(text, params)

    def one(self, text: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        found = self.query(text, params)
        return found[0] if found else None

    def write(self, text: str, params: tuple[Any, ...] = ()) -> int:
        with self.transaction() as cur:
            return cur.execute(text, params)

    def next_number(self, cur: LedgerCursor, name: str) -> int:
        """The next value of a gapless counter (inside the caller's transaction)."""
        cur.execute("UPDATE bss_counters SET value = value + 1 WHERE name = ?", (name,))
        cur.execute("SELECT value FROM bss_counters WHERE name = ?", (name,))
        row = cur.fetchone()
        if row is None:
            cur.execute("INSERT INTO bss_counters (name, value) VALUES (?, 1)", (name,))
            return 1
        return int(row[0])


def open_database(dsn: str, state_dir: Path) -> BssDatabase:
    """The configured database: PostgreSQL for a DSN, else the ledger's SQLite file."""
    database = BssDatabase(dsn, None if dsn else state_dir / "billing" / "ledger.db")
    database.open()
    return database
