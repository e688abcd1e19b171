"""Between domain types and the scripts' msgpack: requests out, results in, with validation.

Every integer crossing into Lua is checked to be in ``[0, 2**53)`` (signed where noted): Lua
numbers are doubles and would silently round above that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import msgpack

from ocs.balance import records
from ocs.balance.errors import InvalidRequest
from ocs.balance.model import (
    MAX_INT,
    Account,
    Bucket,
    Customer,
    DebitItem,
    Identity,
    ItemResult,
    LiveSession,
    OpResult,
    Outcome,
    SessionItem,
    Status,
    Subscriber,
    Tariff,
    Unit,
)


def check_int(field: str, value: object, *, signed: bool = False, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(field, f"must be an integer, got {type(value).__name__}")
    low = -MAX_INT + 1 if signed else minimum
    if not low <= value < MAX_INT:
        raise InvalidRequest(field, f"must be in [{low}, 2**53), got {value}")
    return value


def check_text(field: str, value: object, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise InvalidRequest(field, "must be a non-empty string")
    return value


def pack(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=False)
    return data


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def as_map(value: Any) -> dict[Any, Any]:
    """Lua's msgpack encodes an empty table as an empty array."""
    return value if isinstance(value, dict) else {}


OUTCOMES: dict[str, Outcome] = {o.value: o for o in Outcome}
"""Outcome by value: a dict lookup, cheaper than calling the enum on the hot path."""


@lru_cache(maxsize=4096)
def tariff_wire(tariff: Tariff) -> tuple[bytes, str]:
    """A tariff as the scripts take it, packed ``[segments, counter or False]``, and its unit
    (the same bytes every time: a script compares them with a holding's)."""
    if not tariff.segments:
        raise InvalidRequest("tariff.segments", "at least one segment is needed")
    segs = []
    for i, seg in enumerate(tariff.segments):
        last = i == len(tariff.segments) - 1
        check_int(f"tariff.segments[{i}].length", seg.length)
        check_int(f"tariff.segments[{i}].block", seg.block, minimum=1)
        check_int(f"tariff.segments[{i}].price", seg.price)
        if (seg.length == 0) != last:
            raise InvalidRequest(
                f"tariff.segments[{i}].length",
                "only the last segment is unbounded (0), and it must be",
            )
        segs.append([seg.length, seg.block, seg.price])
    return pack([segs, tariff.counter or False]), Unit(tariff.unit).value


_MONEY = Unit.MONEY.value


def session_item_wire(item: SessionItem, index: int) -> list[Any]:
    """An item of the session request: the positional array of ``lua/session.lua``."""
    rg, used, requested = item.rating_group, item.used, item.requested
    validity, grace = item.validity_ms, item.grace_ms
    if not (  # the fast check; _item_error names the first bad field
        type(rg) is int
        and 0 <= rg < 2**32
        and type(used) is int
        and 0 <= used < MAX_INT
        and type(requested) is int
        and 0 <= requested < MAX_INT
        and type(validity) is int
        and 0 <= validity < MAX_INT
        and type(grace) is int
        and 0 <= grace < MAX_INT
    ):
        _item_error(item, index)
    tariff = item.tariff
    if tariff is None:
        wire: bytes | bool = False
        unit = _MONEY
    else:
        wire, unit = tariff_wire(tariff)
    svc = item.service_id
    return [  # records.Item, in order
        rg,
        svc if svc is not None else False,
        unit,
        used,
        requested,
        wire,
        validity,
        grace,
        item.reserve,
        item.held_only,
        item.zone,
    ]


def item_wire(item: SessionItem, index: int) -> dict[str, Any]:
    """The same item as a map (debit.lua): records.Item's names in lower case."""
    return dict(zip(_ITEM_KEYS, session_item_wire(item, index), strict=True))


_ITEM_KEYS = tuple(name.lower() for name in records.fields(records.Item))


def _item_error(item: SessionItem, index: int) -> None:
    """Raise InvalidRequest naming the first bad field of an item (the slow path)."""
    where = f"items[{index}]"
    check_int(f"{where}.rating_group", item.rating_group)
    if item.rating_group >= 2**32:
        raise InvalidRequest(f"{where}.rating_group", "must be below 2**32")
    check_int(f"{where}.used", item.used)
    check_int(f"{where}.requested", item.requested)
    check_int(f"{where}.validity_ms", item.validity_ms)
    check_int(f"{where}.grace_ms", item.grace_ms)


def debit_item_wire(item: DebitItem, index: int) -> dict[str, Any]:
    as_session = SessionItem(
        item.rating_group, item.service_id, 0, 0, item.tariff, 0, 0, False, zone=item.zone
    )
    wire = item_wire(as_session, index)
    wire["units"] = check_int(f"items[{index}].units", item.units)
    return wire


def bucket_wire(bucket: Bucket, index: int) -> dict[str, Any]:
    where = f"buckets[{index}]"
    check_text(f"{where}.id", bucket.id)
    if "/" in bucket.id:
        raise InvalidRequest(f"{where}.id", "must not contain '/'")
    check_int(f"{where}.balance", bucket.balance)
    check_int(f"{where}.initial", bucket.initial)
    check_int(f"{where}.valid_from", bucket.valid_from)
    check_int(f"{where}.expires", bucket.expires)
    check_int(f"{where}.priority", bucket.priority)
    for mark in bucket.thresholds:
        check_int(f"{where}.thresholds", mark)
    for zone in bucket.zones:
        check_text(f"{where}.zones", zone)
    return {
        "id": bucket.id,
        "unit": Unit(bucket.unit).value,
        "balance": bucket.balance,
        "reserved": 0,
        "initial": bucket.initial or bucket.balance,
        "valid_from": bucket.valid_from,
        "expires": bucket.expires,
        "priority": bucket.priority,
        "applies_to": list(bucket.applies_to),
        "source": bucket.source,
        "thresholds": list(bucket.thresholds),
        "zones": list(bucket.zones),
    }


def item_result(raw: Mapping[str, Any]) -> ItemResult:
    svc = raw.get("svc")
    return ItemResult(
        rating_group=raw["rg"],
        service_id=svc if isinstance(svc, int) and not isinstance(svc, bool) else None,
        outcome=OUTCOMES[raw["outcome"]],
        granted=raw.get("granted", 0),
        final=bool(raw.get("final", False)),
        charged=as_map(raw.get("charged")),
        money_charged=raw.get("money_charged", 0),
        units_from_allowances=raw.get("units_from_allowances", 0),
        unpaid=raw.get("unpaid", 0),
        used=raw.get("used", 0),
        reserved=raw.get("reserved", 0),
        reserved_money=raw.get("reserved_money", 0),
        expires_ms=raw.get("expires", 0),
        was_final=bool(raw.get("was_final", False)),
    )


def op_result(raw: Mapping[str, Any], details: str = "") -> OpResult:
    return OpResult(
        outcome=OUTCOMES[raw["outcome"]],
        replayed=bool(raw.get("replayed", False)),
        balance=raw.get("balance", 0),
        message=raw.get("message", ""),
        field=raw.get("field", ""),
        details=as_map(raw.get(details)) if details else {},
        money=raw.get("money", 0),
    )


def live_sessions(entries: Iterable[tuple[str, Mapping[str, Any]]]) -> list[LiveSession]:
    return [
        LiveSession(
            session_id=sid,
            subscriber_id=entry.get("sub", ""),
            origin_host=entry.get("oh", ""),
            origin_realm=entry.get("orr", ""),
            state=entry.get("state", "ok"),
            expires_ms=entry.get("exp", 0),
        )
        for sid, entry in entries
    ]


def bucket_from(bucket_id: str, raw: Mapping[str, Any]) -> Bucket:
    return Bucket(
        id=bucket_id,
        unit=Unit(raw["unit"]),
        balance=raw["balance"],
        reserved=raw["reserved"],
        initial=raw.get("initial", 0),
        valid_from=raw.get("valid_from", 0),
        expires=raw.get("expires", 0),
        priority=raw.get("priority", 100),
        applies_to=tuple(raw.get("applies_to") or ()),
        source=raw.get("source", ""),
        thresholds=tuple(raw.get("thresholds") or ()),
        zones=tuple(raw.get("zones") or ()),
    )


def account_from(
    raw: Mapping[str, Any], partition: int, subscribers: tuple[str, ...] = ()
) -> Account:
    buckets = as_map(raw.get("buckets"))
    pool = as_map(raw.get("pool"))
    low = raw.get("low_balance")
    return Account(
        id=raw["id"],
        customer_id=raw["cust"],
        partition=partition,
        currency=raw["currency"],
        credit_limit=raw.get("credit_limit", 0),
        status=Status(raw["status"]),
        parent_id=raw.get("parent", ""),
        timezone=raw.get("timezone", "UTC"),
        bill_cycle_day=raw.get("bill_cycle_day", 1),
        low_balance=low if isinstance(low, int) and not isinstance(low, bool) else None,
        pool_limit=as_map(pool.get("limit")),
        buckets=tuple(bucket_from(k, v) for k, v in sorted(buckets.items())),
        counters=as_map(raw.get("counters")),
        subscribers=subscribers,
    )


def customer_from(raw: Mapping[str, Any], partition: int) -> Customer:
    return Customer(
        id=raw["id"],
        name=raw.get("name", ""),
        partition=partition,
        accounts=tuple(raw.get("accounts") or ()),
        profile=as_map(raw.get("profile")),
    )


def subscriber_from(raw: Mapping[str, Any], partition: int) -> Subscriber:
    return Subscriber(
        id=raw["id"],
        account_id=raw["acct"],
        customer_id=raw["cust"],
        partition=partition,
        status=Status(raw["status"]),
        identities=tuple(Identity(i[0], i[1]) for i in raw.get("identities") or ()),
        offers=tuple(raw.get("offers") or ()),
    )
