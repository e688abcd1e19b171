"""The session script's answers and records, read on the hot path (one CCR = one answer).

* The answer of ``lua/session.lua``: ``['OK', replayed, balance, [item rows]]`` (a refusal is a
  map with its ``outcome``); an item row is positional (``item_row`` in ``lua/_lib.lua``).
* A session record (``ocs:{p}:sess:<id>``): format 2, a msgpack array ``[2, rn, answer,
  closed, account, parent, subscriber, customer, session id, origin host, origin realm,
  started, expiry, holdings, expiry score, live state]``; format 1 (a map) is still read.

Result objects are the frozen dataclasses of ``ocs.balance.model``, built by constructors that
set their slots directly (what the dataclass ``__init__`` does, minus a per-field
``object.__setattr__``): ``test_sessions.py`` checks they equal the normally built ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgpack

from ocs.balance.codec import OUTCOMES, as_map
from ocs.balance.model import ItemResult, Outcome, SessionResult, SessionView

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


def item_from_row(row: list[Any]) -> ItemResult:
    """An item row: rg, svc, unit, outcome, used, charged, money_charged,
    units_from_allowances, unpaid, granted, final, reserved, reserved_money, was_final,
    released, released_money, expires."""
    svc = row[1]
    return _item(
        row[0],
        None if svc is False else svc,
        OUTCOMES[row[3]],
        row[9],
        row[10],
        row[5] or {},
        row[6],
        row[7],
        row[8],
        row[4],
        row[11],
        row[12],
        row[16] or 0,
        row[13],
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
    if raw[3]:
        if not closed or len(raw) < 8:
            return None
        return SessionView(
            session_id="",
            account_id=raw[4],
            subscriber_id=raw[6],
            customer_id=raw[7],
            parent_id=raw[5],
            origin_host="",
            origin_realm="",
            request_number=raw[1],
            expires_ms=0,
            holdings={},
            closed=True,
        )
    parent = raw[5]
    holdings: dict[int, dict[str, int]] = {}
    held = raw[13]
    for key, hold in held.items() if type(held) is dict else enumerate(held, 1):
        holdings[int(key)] = _per_bucket(hold[0], parent)
    return SessionView(
        session_id=raw[8],
        account_id=raw[4],
        subscriber_id=raw[6],
        customer_id=raw[7],
        parent_id=parent,
        origin_host=raw[9],
        origin_realm=raw[10],
        request_number=raw[1],
        expires_ms=raw[12],
        holdings=holdings,
    )


def session_route(data: bytes | None) -> tuple[str, str]:
    """(account, parent) of a session record; ("", "") when there is none (or a tombstone)."""
    if not data:
        return "", ""
    raw = _unpack_record(data)
    if type(raw) is list:
        return (raw[4], raw[5]) if len(raw) > 5 else ("", "")
    return raw.get("acct", ""), raw.get("par", "")


def session_expiry(data: bytes | None) -> int:
    """The expiry (epoch ms) of a session record; 0 when there is none (or a tombstone)."""
    if not data:
        return 0
    raw = _unpack_record(data)
    if type(raw) is list:
        return int(raw[12]) if len(raw) > 12 else 0
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
