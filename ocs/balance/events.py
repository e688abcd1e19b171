"""Charge events: schemas v1 and v2 (docs/events.md), decoding, reading a partition stream,
replay.

Every mutating script appends one entry (plus one per threshold crossing) to its partition's
stream ``ocs:{p}:events``, field ``e``: a msgpack map with ``v`` = 1, or (``session`` events) a
msgpack array whose first element is 2. Both decode to the same :class:`Event` (``data`` in the
v1 layout, ``data["v"]`` the entry's version); a consumer refuses a version it does not know
instead of guessing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ocs.balance import codec, records
from ocs.balance.errors import BalanceError

if TYPE_CHECKING:
    from ocs.balance.engine import Engine

SCHEMA_VERSION = 2
"""The newest schema; entries of every version in SCHEMA_VERSIONS decode."""
SCHEMA_VERSIONS = (1, 2)

_SESSION_V2 = tuple(name.lower() for name in records.fields(records.SessionEvent))
"""A v2 session entry, positionally (records.SessionEvent)."""
_ITEM_V2 = tuple(name.lower() for name in records.fields(records.Row))
"""An item of a v2 session entry (records.Row; ``expires`` false: no holding, absent from the
map)."""

_MAP_FIELDS = ("delta", "balances", "info", "charged", "credited", "lost", "forfeited")
_LIST_FIELDS = ("charges", "added")


class EventType(StrEnum):
    SESSION = "session"
    DEBIT = "debit"
    REFUND = "refund"
    TOPUP = "topup"
    ADJUST = "adjust"
    EXPIRE = "expire"
    SESSION_EXPIRED = "session_expired"
    PROVISION = "provision"
    PURCHASE = "purchase"
    """An offer bought or renewed: price and/or recurring fee charged, allowances added."""
    THRESHOLD = "threshold"


class UnsupportedEvent(BalanceError):
    """An entry whose schema version this code does not know."""


@dataclass(frozen=True, slots=True)
class Event:
    stream_id: str
    """The Redis stream entry id (ordering, acknowledgement)."""
    id: str
    """Deterministic id derived from the operation id: de-duplicate on this."""
    type: EventType
    data: Mapping[str, Any]


def decode(stream_id: bytes | str, fields: Mapping[bytes, bytes] | list[bytes]) -> Event:
    if isinstance(fields, list):
        fields = dict(zip(fields[::2], fields[1::2], strict=True))
    raw = codec.unpack(fields[b"e"])
    if type(raw) is list:
        data = _from_v2(raw)
    elif type(raw) is dict and raw.get("v") == 1:
        data = raw
    else:
        version = raw.get("v") if type(raw) is dict else None
        raise UnsupportedEvent(f"event schema version {version!r} is not supported")
    _normalise(data)
    sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return Event(sid, data["id"], EventType(data["type"]), data)


def _from_v2(raw: list[Any]) -> dict[str, Any]:
    """A v2 entry (an array) as the map its v1 form would be."""
    if raw[0] != 2 or raw[1] != EventType.SESSION or len(raw) != len(_SESSION_V2):
        raise UnsupportedEvent(f"event schema version {raw[0]!r} ({raw[1]!r}) is not supported")
    data = dict(zip(_SESSION_V2, raw, strict=True))
    data["released"] = [{"rg": rg, "units": u, "money": m} for rg, u, m in data["released"]]
    items = []
    for row in data["items"]:
        item = dict(zip(_ITEM_V2, row, strict=True))
        if item["expires"] is False:
            del item["expires"]
        items.append(item)
    data["items"] = items
    return data


def _normalise(data: dict[str, Any]) -> None:
    """Lua encodes an empty table as an empty array: give maps back their type."""
    for name in _MAP_FIELDS:
        if name in data:
            data[name] = codec.as_map(data[name])
    for name in _LIST_FIELDS:
        if name in data and not isinstance(data[name], list):
            data[name] = []  # an empty array may come back as an empty map
    for item in data.get("items") or ():
        item["charged"] = codec.as_map(item.get("charged"))


async def read_partition(engine: Engine, partition: int, count: int = 10_000) -> list[Event]:
    """Every entry of a partition stream, oldest first (tests, reconciliation tools)."""
    p = engine.partition(partition)
    events: list[Event] = []
    start = "-"
    while True:
        entries = await engine.execute(p.slot, "XRANGE", p.stream, start, "+", "COUNT", count)
        for entry_id, fields in entries:
            events.append(decode(entry_id, fields))
        if len(entries) < count:
            return events
        last = entries[-1][0].decode()
        ms, seq = last.split("-")
        start = f"{ms}-{int(seq) + 1}"


def replay(events: Iterable[Event]) -> dict[str, dict[str, int]]:
    """Balances per account and bucket rebuilt from the events' deltas alone."""
    balances: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in events:
        account = event.data.get("acct", "")
        for label, delta in event.data.get("delta", {}).items():
            owner, _, bucket = label.rpartition("/")
            balances[owner or account][bucket] += delta
    return {acct: dict(buckets) for acct, buckets in balances.items()}
