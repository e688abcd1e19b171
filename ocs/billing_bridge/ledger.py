"""The ledger: a SQL database of every charge event, on SQLite or PostgreSQL.

SQLite (a file under the state dir) is the embedded default; a ``postgresql://`` DSN selects
PostgreSQL through psycopg 3. Both run the same schema and the same queries: queries are
written with ``?`` placeholders, which become ``%s`` for psycopg; the few words that differ
(``BLOB``/``BYTEA``, trigger syntax) live in :data:`DIALECTS`. Migrations are numbered and
applied once, in one transaction, under a lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an
advisory lock), so several bridges may start at once.

The API is synchronous (DB-API); the bridge runs it on one worker thread per ledger.
Database errors become :class:`LedgerError` here, at the boundary.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

from ocs.errors import OcsError


class LedgerError(OcsError):
    """The ledger database refused or failed an operation (message says which)."""


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    blob: str
    immutable: tuple[str, ...]
    """Statements that make the issued-document tables refuse UPDATE and DELETE."""


_IMMUTABLE = ("invoices", "invoice_lines")
_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER {table}_immutable_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'issued documents are immutable: {table}'); END"
    for table in _IMMUTABLE
    for op in ("UPDATE", "DELETE")
)
_PG_TRIGGERS = (
    "CREATE FUNCTION ocs_immutable() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'issued documents are immutable: %', TG_TABLE_NAME; END $$",
    *(
        f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ocs_immutable()"
        for table in _IMMUTABLE
    ),
)
DIALECTS = {
    "sqlite": Dialect("sqlite", "BLOB", _SQLITE_TRIGGERS),
    "postgresql": Dialect("postgresql", "BYTEA", _PG_TRIGGERS),
}

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "events, charges, stream anomalies, counters, invoices",
        [
            # one row per charge event; event_id is the de-duplication key
            """CREATE TABLE events (
                event_id TEXT PRIMARY KEY,
                partition INTEGER NOT NULL,
                stream_ms BIGINT NOT NULL,
                stream_seq BIGINT NOT NULL,
                type TEXT NOT NULL,
                ts BIGINT NOT NULL,
                customer TEXT NOT NULL,
                account TEXT NOT NULL,
                subscriber TEXT NOT NULL,
                digest TEXT NOT NULL,
                payload {blob} NOT NULL)""",
            "CREATE INDEX events_account_ts ON events (account, ts)",
            "CREATE INDEX events_stream ON events (partition, stream_ms, stream_seq)",
            # one row per charged item of a session or debit event (usage, settlement)
            """CREATE TABLE charges (
                event_id TEXT NOT NULL,
                item INTEGER NOT NULL,
                account TEXT NOT NULL,
                subscriber TEXT NOT NULL,
                ts BIGINT NOT NULL,
                rating_group BIGINT NOT NULL,
                unit TEXT NOT NULL,
                used BIGINT NOT NULL,
                money BIGINT NOT NULL,
                from_allowances BIGINT NOT NULL,
                unpaid BIGINT NOT NULL,
                visited_network TEXT NOT NULL,
                PRIMARY KEY (event_id, item))""",
            "CREATE INDEX charges_ts ON charges (ts)",
            "CREATE INDEX charges_account_ts ON charges (account, ts)",
            # a second stream entry carrying an event id already in the ledger
            """CREATE TABLE stream_duplicates (
                partition INTEGER NOT NULL,
                stream_ms BIGINT NOT NULL,
                stream_seq BIGINT NOT NULL,
                event_id TEXT NOT NULL,
                same_content INTEGER NOT NULL,
                PRIMARY KEY (partition, stream_ms, stream_seq))""",
            # an entry that could not be decoded (or was deleted before it was read)
            """CREATE TABLE stream_rejects (
                partition INTEGER NOT NULL,
                stream_ms BIGINT NOT NULL,
                stream_seq BIGINT NOT NULL,
                reason TEXT NOT NULL,
                payload {blob},
                PRIMARY KEY (partition, stream_ms, stream_seq))""",
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO counters (name, value) VALUES ('invoice', 0), ('statement', 0)",
            # issued documents: never updated or deleted (a correction is a credit note)
            """CREATE TABLE invoices (
                number TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                account TEXT NOT NULL,
                customer TEXT NOT NULL,
                period TEXT NOT NULL,
                revision INTEGER NOT NULL,
                period_start BIGINT NOT NULL,
                period_end BIGINT NOT NULL,
                currency TEXT NOT NULL,
                net BIGINT NOT NULL,
                tax BIGINT NOT NULL,
                total BIGINT NOT NULL,
                issued_at BIGINT NOT NULL,
                corrects TEXT NOT NULL,
                document TEXT NOT NULL,
                UNIQUE (account, period, kind, revision))""",
            """CREATE TABLE invoice_lines (
                number TEXT NOT NULL,
                line INTEGER NOT NULL,
                kind TEXT NOT NULL,
                description TEXT NOT NULL,
                subscriber TEXT NOT NULL,
                rating_group BIGINT,
                quantity BIGINT NOT NULL,
                unit TEXT NOT NULL,
                events BIGINT NOT NULL,
                amount BIGINT NOT NULL,
                PRIMARY KEY (number, line))""",
            "{immutable}",
        ],
    ),
]


def split_stream_id(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class Ledger:
    """One connection to the ledger database. Not shared between threads at once."""

    def __init__(self, dsn: str = "", path: Path | None = None) -> None:
        if not dsn and path is None:
            raise ValueError("a ledger needs a PostgreSQL DSN or a SQLite path")
        self.dsn = dsn
        self.path = path
        self.dialect = DIALECTS["postgresql" if dsn else "sqlite"]
        self._conn: Any = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """Where the ledger lives, without credentials (for logs and reports)."""
        if self.path is not None and not self.dsn:
            return str(self.path)
        info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        return f"postgresql://{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname')}"

    def open(self) -> Ledger:
        try:
            if self.dsn:
                self._conn = psycopg.connect(self.dsn, autocommit=True)
            else:
                assert self.path is not None
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
                self._conn = conn
            self.migrate()
        except (sqlite3.Error, psycopg.Error, OSError) as exc:
            self.close()
            raise LedgerError(f"ledger {self.where}: cannot open: {exc}") from exc
        return self

    def close(self) -> None:
        """Close the connection once no other thread is using it (closing SQLite under a
        query running in another thread crashes the process)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error, psycopg.Error):
                    self._conn.close()
                self._conn = None

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.dialect.name == "postgresql" else text

    @contextlib.contextmanager
    def transaction(self) -> Iterator[LedgerCursor]:
        """One write transaction: committed on a normal exit, rolled back on an exception.
        SQLite takes the write lock at once (BEGIN IMMEDIATE), so transactions never deadlock."""
        if self._conn is None:
            raise LedgerError("the ledger is not open")
        with self._lock:
            try:
                if self.dialect.name == "postgresql":
                    with self._conn.transaction(), self._conn.cursor() as cur:
                        yield LedgerCursor(self, cur)
                else:
                    cur = self._conn.cursor()
                    cur.execute("BEGIN IMMEDIATE")
                    try:
                        yield LedgerCursor(self, cur)
                    except BaseException:
                        self._conn.rollback()
                        raise
                    self._conn.commit()
            except (sqlite3.Error, psycopg.Error) as exc:
                raise LedgerError(f"ledger {self.where}: {exc}") from exc

    def query(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction."""
        if self._conn is None:
            raise LedgerError("the ledger is not open")
        with self._lock:
            try:
                cur = self._conn.cursor()
                cur.execute(self.sql(text), tuple(params))
                rows = [tuple(row) for row in cur.fetchall()]
                cur.close()
                return rows
            except (sqlite3.Error, psycopg.Error) as exc:
                raise LedgerError(f"ledger {self.where}: {exc}") from exc

    def migrate(self) -> int:
        """Apply the migrations this database lacks; returns the schema version."""
        with self.transaction() as cur:
            if self.dialect.name == "postgresql":
                cur.execute("SELECT pg_advisory_xact_lock(7366251)")  # 'ocs' migrations
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, description TEXT NOT NULL)"
            )
            cur.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
            for version, description, statements in MIGRATIONS:
                if version in applied:
                    continue
                for statement in statements:
                    if statement == "{immutable}":
                        for trigger in self.dialect.immutable:
                            cur.raw.execute(trigger)
                    else:
                        cur.raw.execute(statement.format(blob=self.dialect.blob))
                cur.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                    (version, description),
                )
        return MIGRATIONS[-1][0]

    def schema_version(self) -> int:
        rows = self.query("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)


class LedgerCursor:
    """A cursor inside a transaction; placeholders translated for the backend."""

    def __init__(self, ledger: Ledger, raw: Cursor) -> None:
        self.ledger = ledger
        self.raw = raw

    def execute(self, text: str, params: Sequence[Any] = ()) -> int:
        self.raw.execute(self.ledger.sql(text), tuple(params))
        return self.raw.rowcount

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for many rows; returns the rows changed in all."""
        if not rows:
            return 0
        self.raw.executemany(self.ledger.sql(text), rows)
        return self.raw.rowcount

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.raw.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.raw.fetchone()
        return tuple(row) if row is not None else None


def open_ledger(dsn: str, state_dir: Path) -> Ledger:
    """The configured ledger: PostgreSQL for a DSN, else ``<state_dir>/billing/ledger.db``."""
    return Ledger(dsn, None if dsn else state_dir / "billing" / "ledger.db").open()
