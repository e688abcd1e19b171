"""From stream entries to ledger rows, and one batch of them written in one transaction.

De-duplication is the ledger's primary key on the event id (``INSERT ... ON CONFLICT DO
NOTHING``), not a check made beforehand: two bridges committing the same event at once still
store it once. A look-up beforehand only classifies what is skipped:

* the same stream entry again (redelivered after a crash or claimed from another consumer):
  counted as a redelivery, nothing else;
* another stream entry carrying an event id the ledger already has: recorded in
  ``stream_duplicates`` for reconciliation; with the same content it is the same event written
  twice (skipped), with other content it is another event that reused the id, and it is
  stored too, under ``<event id>#<partition>:<stream id>`` (an event is never dropped for its
  id);
* an entry that cannot be decoded (unknown schema version, corrupt msgpack) or was deleted
  before it was read: recorded in ``stream_rejects`` for reconciliation, so it never blocks
  its partition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ocs.balance.events import UnsupportedEvent, decode
from ocs.billing_bridge.ledger import Ledger, split_stream_id

_CHARGED_TYPES = ("session", "debit")


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry as read from Redis: ``raw`` is field ``e`` (None: entry deleted)."""

    partition: int
    stream_id: str
    raw: bytes | None


@dataclass(slots=True)
class Rows:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    charges: list[tuple[Any, ...]] = field(default_factory=list)
    charge_events: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(event id, partition, stream ms, stream seq) of the entry each charge row came from."""
    rejects: list[tuple[Any, ...]] = field(default_factory=list)
    keys: list[tuple[str, int, int, int, str]] = field(default_factory=list)
    """(event id, partition, stream ms, stream seq, digest) of each event row."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    inserted: int
    redelivered: int
    duplicates: int
    rejected: int


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:32]


def to_rows(entries: list[Entry]) -> Rows:
    """Decode entries into event, charge and reject rows (pure)."""
    rows = Rows()
    for entry in entries:
        ms, seq = split_stream_id(entry.stream_id)
        if entry.raw is None:
            rows.rejects.append((entry.partition, ms, seq, "deleted before it was ingested", None))
            continue
        try:
            event = decode(entry.stream_id, {b"e": entry.raw})
            data = event.data
            row = (
                event.id,
                entry.partition,
                ms,
                seq,
                event.type.value,
                int(data["ts"]),
                str(data.get("cust", "")),
                str(data.get("acct", "")),
                str(data.get("sub", "")),
                digest(entry.raw),
                entry.raw,
            )
            charges = _charges(event.id, data) if event.type.value in _CHARGED_TYPES else []
        except (UnsupportedEvent, ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            reason = f"undecodable: {type(exc).__name__}: {exc}"[:500]
            rows.rejects.append((entry.partition, ms, seq, reason, entry.raw))
            continue
        rows.events.append(row)
        rows.charges.extend(charges)
        rows.charge_events.extend([(event.id, entry.partition, ms, seq)] * len(charges))
        rows.keys.append((event.id, entry.partition, ms, seq, row[9]))
    return rows


def _charges(event_id: str, data: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    info = data.get("info") or {}
    visited = str(info.get("visited_network", "") or "")
    out = []
    for n, item in enumerate(data.get("items") or ()):
        used = int(item.get("used", 0) or 0)
        money = int(item.get("money_charged", 0) or 0)
        unpaid = int(item.get("unpaid", 0) or 0)
        if not (used or money or unpaid):
            continue
        out.append(
            (
                event_id,
                n,
                data["acct"],
                data.get("sub", ""),
                int(data["ts"]),
                int(item["rg"]),
                str(item.get("unit", "")),
                used,
                money,
                int(item.get("units_from_allowances", 0) or 0),
                unpaid,
                visited,
            )
        )
    return out


_INSERT_EVENT = (
    "INSERT INTO events (event_id, partition, stream_ms, stream_seq, type, ts, customer, "
    "account, subscriber, digest, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO NOTHING"
)
_INSERT_CHARGE = (
    "INSERT INTO charges (event_id, item, account, subscriber, ts, rating_group, unit, used, "
    "money, from_allowances, unpaid, visited_network) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id, item) DO NOTHING"
)
_INSERT_DUPLICATE = (
    "INSERT INTO stream_duplicates (partition, stream_ms, stream_seq, event_id, same_content) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (partition, stream_ms, stream_seq) DO NOTHING"
)
_INSERT_REJECT = (
    "INSERT INTO stream_rejects (partition, stream_ms, stream_seq, reason, payload) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (partition, stream_ms, stream_seq) DO NOTHING"
)
_LOOKUP_CHUNK = 500


OTHER_EVENT, SAME_CONTENT, SAME_EFFECT = 0, 1, 2
"""``stream_duplicates.same_content``: another event reusing the id (stored under its alias);
the same bytes again (skipped); the same operation's effect in other bytes (skipped)."""


def _effect(raw: bytes) -> tuple[Any, ...]:
    """What an event did: its type, account and balance deltas (not its clock or balances
    after, which differ when an operation is applied again after a failover)."""
    if not raw:
        return ()
    data = decode("0-0", {b"e": raw}).data
    delta = sorted((str(k), int(v)) for k, v in (data.get("delta") or {}).items() if v)
    return data.get("type"), data.get("acct"), tuple(delta)


def _stored_payload(cur: Any, event_id: str, batch: list[tuple[Any, ...]]) -> bytes:
    for row in batch:
        if row[0] == event_id:
            return bytes(row[10])
    cur.execute("SELECT payload FROM events WHERE event_id = ?", (event_id,))
    found = cur.fetchone()
    return bytes(found[0]) if found else b""


def _alias(event_id: str, partition: int, ms: int, seq: int) -> str:
    """The id a second, different event under an id already used is stored with."""
    return f"{event_id}#{partition}:{ms}-{seq}"


def write(ledger: Ledger, rows: Rows) -> IngestResult:
    """Commit one batch in one transaction (the caller acknowledges only after this returns)."""
    with ledger.transaction() as cur:
        known: dict[str, tuple[int, int, int, str]] = {}
        ids = list({key[0] for key in rows.keys} | {_alias(*key[:4]) for key in rows.keys})
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            cur.execute(
                "SELECT event_id, partition, stream_ms, stream_seq, digest FROM events "
                f"WHERE event_id IN ({marks})",
                chunk,
            )
            for event_id, partition, ms, seq, dig in cur.fetchall():
                known[event_id] = (partition, ms, seq, dig)
        fresh_events: list[tuple[Any, ...]] = []
        # (event id, partition, ms, seq) of each row stored -> the id it is stored under
        fresh: dict[tuple[str, int, int, int], str] = {}
        duplicates = []
        redelivered = 0
        for row, (event_id, partition, ms, seq, dig) in zip(rows.events, rows.keys, strict=True):
            first = known.get(event_id)
            alias = _alias(event_id, partition, ms, seq)
            if first is None:
                known[event_id] = (partition, ms, seq, dig)
                fresh_events.append(row)
                fresh[(event_id, partition, ms, seq)] = event_id
            elif first[:3] == (partition, ms, seq) or alias in known:
                redelivered += 1
            elif first[3] == dig:  # the same event written twice
                duplicates.append((partition, ms, seq, event_id, SAME_CONTENT))
            elif _effect(_stored_payload(cur, event_id, fresh_events)) == _effect(row[10]):
                # the same operation applied again with the same effect: a write Redis lost
                # (a failover) after billing had read it, retried by its caller
                duplicates.append((partition, ms, seq, event_id, SAME_EFFECT))
            else:  # another event under a used id: kept, under its alias
                duplicates.append((partition, ms, seq, event_id, OTHER_EVENT))
                known[alias] = (partition, ms, seq, dig)
                fresh_events.append((alias, *row[1:]))
                fresh[(event_id, partition, ms, seq)] = alias
        inserted = cur.executemany(_INSERT_EVENT, fresh_events)
        charges = []
        for charge, entry in zip(rows.charges, rows.charge_events, strict=True):
            target = fresh.get(entry)
            if target is not None:
                charges.append((target, *charge[1:]))
        cur.executemany(_INSERT_CHARGE, charges)
        cur.executemany(_INSERT_DUPLICATE, duplicates)
        cur.executemany(_INSERT_REJECT, rows.rejects)
    # rows another bridge committed between our look-up and our insert count as redelivered
    return IngestResult(
        inserted=inserted,
        redelivered=redelivered + len(fresh_events) - inserted,
        duplicates=len(duplicates),
        rejected=len(rows.rejects),
    )
