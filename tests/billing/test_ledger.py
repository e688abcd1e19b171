"""The ledger on both backends: migrations, de-duplication by event id, immutable documents."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ocs.balance import codec
from ocs.billing_bridge.ingest import Entry, to_rows, write
from ocs.billing_bridge.ledger import MIGRATIONS, Ledger, LedgerError


def event(event_id: str, ts: int = 1000, **extra: object) -> bytes:
    data = {"v": 1, "id": event_id, "type": "topup", "ts": ts, "cust": "C", "acct": "A"}
    data.update(extra)
    return bytes(codec.pack(data))


def test_migrations_apply_once_and_record_the_version(make_ledger: Callable[[], Ledger]) -> None:
    first = make_ledger()
    second = make_ledger()  # opening again migrates nothing twice
    assert first.schema_version() == second.schema_version() == MIGRATIONS[-1][0]
    rows = first.query("SELECT version FROM schema_migrations")
    assert sorted(r[0] for r in rows) == [m[0] for m in MIGRATIONS]


def test_an_event_id_is_stored_once_however_often_it_arrives(ledger: Ledger) -> None:
    raw = event("topup:p1")
    first = write(ledger, to_rows([Entry(0, "5-0", raw), Entry(0, "6-0", event("topup:p2"))]))
    assert (first.inserted, first.redelivered, first.duplicates) == (2, 0, 0)
    again = write(ledger, to_rows([Entry(0, "5-0", raw)]))  # redelivered after a crash
    assert (again.inserted, again.redelivered, again.duplicates) == (0, 1, 0)
    planted = write(ledger, to_rows([Entry(0, "9-0", raw), Entry(0, "9-1", raw)]))
    assert (planted.inserted, planted.duplicates) == (0, 2)  # same id, other stream entries
    assert ledger.query("SELECT COUNT(*) FROM events") == [(2,)]
    dups = ledger.query(
        "SELECT stream_ms, stream_seq, event_id, same_content FROM stream_duplicates "
        "ORDER BY stream_ms, stream_seq"
    )
    assert dups == [(9, 0, "topup:p1", 1), (9, 1, "topup:p1", 1)]


def test_undecodable_and_deleted_entries_are_recorded_not_stored(ledger: Ledger) -> None:
    bad_version = bytes(codec.pack({"v": 99, "id": "x", "type": "topup"}))
    result = write(
        ledger,
        to_rows(
            [Entry(3, "1-0", b"\xc1garbage"), Entry(3, "2-0", bad_version), Entry(3, "3-0", None)]
        ),
    )
    assert (result.inserted, result.rejected) == (0, 3)
    reasons = [r[0] for r in ledger.query("SELECT reason FROM stream_rejects ORDER BY stream_ms")]
    assert "undecodable" in reasons[0] and "version 99" in reasons[1]
    assert reasons[2] == "deleted before it was ingested"


def test_the_unique_constraint_holds_even_without_the_lookup(ledger: Ledger) -> None:
    rows = to_rows([Entry(0, "1-0", event("debit:x"))])
    write(ledger, rows)
    with ledger.transaction() as cur:  # a second writer that skipped the look-up
        cur.executemany(
            "INSERT INTO events (event_id, partition, stream_ms, stream_seq, type, ts, customer, "
            "account, subscriber, digest, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING",
            rows.events,
        )
    assert ledger.query("SELECT COUNT(*) FROM events") == [(1,)]
    with pytest.raises(LedgerError), ledger.transaction() as cur:
        cur.executemany(
            "INSERT INTO events (event_id, partition, stream_ms, stream_seq, type, ts, customer, "
            "account, subscriber, digest, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows.events,
        )


def test_issued_documents_cannot_be_changed_or_deleted(ledger: Ledger) -> None:
    with ledger.transaction() as cur:
        cur.execute(
            "INSERT INTO invoices (number, kind, account, customer, period, revision, "
            "period_start, period_end, currency, net, tax, total, issued_at, corrects, document) "
            "VALUES ('INV-1', 'invoice', 'A', 'C', '2026-11-01', 0, 0, 1, 'EUR', 100, 19, 119, "
            "5, '', '{}')"
        )
    for statement in ("UPDATE invoices SET total = 1", "DELETE FROM invoices"):
        with pytest.raises(LedgerError, match="immutable"), ledger.transaction() as cur:
            cur.execute(statement)
    assert ledger.query("SELECT total FROM invoices") == [(119,)]
