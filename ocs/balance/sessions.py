"""The session script's answers and records, read on the hot path (one CCR = one answer).

* The answer of ``lua/session.lua``: ``['OK', replayed, balance, [item rows]]`` (a refusal is a
  map with its ``outcome``); an item row is positional (``records.Row``).
* A session record (``ocs:{p}:sess:<id>``): format 2, a msgpack array (``records.Session``);
  format 1 (a map) is still read.

Result objects are the frozen dataclasses of ``ocs.balance.model``, built by constructors that
set their slots directly (what the dataclass ``__init__`` does, minus a per-field
``object.__setattr__``): ``test_sessions.py`` checks they equal the normally built ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any, TypeVar

import msgpack

from ocs.balance.codec import OUTCOMES, as_map
from ocs.balance.model import ItemResult, Outcome, SessionResult, SessionView
from ocs.balance.records import Holding, Row, Session

T = TypeVar("T")

SESSION_FORMAT = 2


def slot_constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor of the frozen, slotted dataclass ``cls`` that sets the slots
    with their descriptors (every field, in order; no defaults, no ``__post_init__``)."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: not a plain dataclass")
    names = [field.name for field in dataclasses.fields(cls)]
    params = ", ".join(f"v{i}" for i in range(len(names)))
    body = "".join(f"    s{i}(o, v{i})\n" for i in range(len(names)))
    source = f"def make({params}):\n    o = new(cls)\n{body}    return o\n"
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    for i, name in enumerate(names):
        namespace[f"s{i}"] = getattr(cls, name).__set__
    exec(source, namespace)  # generated from the dataclass fields, as dataclasses do
    make: Callable[..., T] = namespace["make"]
    return make


_item = slot_constructor(ItemResult)
_result = slot_constructor(SessionResult)
_OK = Outcome.OK
_NO_ITEMS: tuple[ItemResult, ...] = ()


_ROW_FIELDS = itemgetter(
    Row.RG,
    Row.SVC,
    Row.OUTCOME,
    Row.GRANTED,
    Row.FINAL,
    Row.CHARGED,
    Row.MONEY_CHARGED,
    Row.UNITS_FROM_ALLOWANCES,
    Row.UNPAID,
    Row.USED,
    Row.RESERVED,
    Row.RESERVED_MONEY,
    Row.EXPIRES,
    Row.WAS_FINAL,
)
"""A row's fields in ItemResult's order, taken in one call."""


def item_from_row(row: list[Any]) -> ItemResult:
    """An item row (records.Row) as an ItemResult."""
    (
        rg,
        svc,
        outcome,
        granted,
        final,
        charged,
        money_charged,
        from_allowances,
        unpaid,
        used,
        reserved,
        reserved_money,
        expires,
        was_final,
    ) = _ROW_FIELDS(row)
    return _item(
        rg,
        None if svc is False else svc,
        OUTCOMES[outcome],
        granted,
        final,
        charged or {},
        money_charged,
        from_allowances,
        unpaid,
        used,
        reserved,
        reserved_money,
        expires or 0,
        was_final,
    )


def session_result(raw: Any) -> SessionResult:
    """A session answer (unpacked)."""
    if type(raw) is list:
        return _result(_OK, tuple([item_from_row(row) for row in raw[3]]), raw[1], raw[2])
    return _result(OUTCOMES[raw["outcome"]], _NO_ITEMS, bool(raw.get("replayed", False)), 0)


def _unpack_record(data: bytes) -> Any:
    """A session record holds its last answer as packed bytes in a msgpack string: never
    read here, so let it decode without being valid UTF-8."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False, unicode_errors="surrogateescape")


def session_view(data: bytes, *, closed: bool = False) -> SessionView | None:
    """A live session record as a view; None for a tombstone (a closed session), unless
    ``closed``: then a view with ``closed`` set and no holdings (None still for a tombstone
    written before tombstones kept their route)."""
    raw = _unpack_record(data)
    if type(raw) is not list:
        return None if raw.get("tomb") else _session_view_v1(raw)
    if raw[Session.TOMB]:
        if not closed or len(raw) <= Session.CUST:
            return None
        return SessionView(
            session_id="",
            account_id=raw[Session.ACCT],
            subscriber_id=raw[Session.SUB],
            customer_id=raw[Session.CUST],
            parent_id=raw[Session.PARENT],
            origin_host="",
            origin_realm="",
            request_number=raw[Session.RN],
            expires_ms=0,
            holdings={},
            closed=True,
        )
    parent = raw[Session.PARENT]
    holdings: dict[int, dict[str, int]] = {}
    held = raw[Session.HOLDINGS]
    for key, hold in held.items() if type(held) is dict else enumerate(held, 1):
        holdings[int(key)] = _per_bucket(hold[Holding.PARTS], parent)
    return SessionView(
        session_id=raw[Session.SID],
        account_id=raw[Session.ACCT],
        subscriber_id=raw[Session.SUB],
        customer_id=raw[Session.CUST],
        parent_id=parent,
        origin_host=raw[Session.ORIGIN_HOST],
        origin_realm=raw[Session.ORIGIN_REALM],
        request_number=raw[Session.RN],
        expires_ms=raw[Session.EXPIRES],
        holdings=holdings,
    )


def session_route(data: bytes | None) -> tuple[str, str]:
    """(account, parent) of a session record; ("", "") when there is none (or a tombstone)."""
    if not data:
        return "", ""
    raw = _unpack_record(data)
    if type(raw) is list:
        if len(raw) <= Session.PARENT:
            return "", ""
        return raw[Session.ACCT], raw[Session.PARENT]
    return raw.get("acct", ""), raw.get("par", "")


def session_expiry(data: bytes | None) -> int:
    """The expiry (epoch ms) of a session record; 0 when there is none (or a tombstone)."""
    if not data:
        return 0
    raw = _unpack_record(data)
    if type(raw) is list:
        return int(raw[Session.EXPIRES]) if len(raw) > Session.EXPIRES else 0
    return 0 if raw.get("tomb") else int(raw.get("exp", 0))


def _per_bucket(parts: list[list[Any]], parent: str) -> dict[str, int]:
    per_bucket: dict[str, int] = {}
    for ai, bid, amount, _kind in parts:
        label = bid if ai == 1 else f"{parent}/{bid}"
        per_bucket[label] = per_bucket.get(label, 0) + amount
    return per_bucket


def _session_view_v1(raw: Mapping[str, Any]) -> SessionView:
    parent = raw.get("par", "")
    holdings = {
        int(key): _per_bucket(hold["parts"], parent)
        for key, hold in as_map(raw.get("holdings")).items()
    }
    return SessionView(
        session_id=raw["sid"],
        account_id=raw["acct"],
        subscriber_id=raw["sub"],
        customer_id=raw["cust"],
        parent_id=parent,
        origin_host=raw.get("oh", ""),
        origin_realm=raw.get("orr", ""),
        request_number=raw["rn"],
        expires_ms=raw["exp"],
        holdings=holdings,
    )
