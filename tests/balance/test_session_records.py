"""Session records: the scripts still read the format-1 records (msgpack maps) that earlier
releases wrote, so sessions that are live across an upgrade continue, replay and expire."""

from __future__ import annotations

from typing import Any

from ocs.balance import codec, expiry
from ocs.balance.model import Outcome, RequestType, Status
from ocs.balance.store import BalanceStore
from tests.balance.helpers import NOW, account, ccr, item, make_subscriber, ok

EXP = NOW + 65_000  # validity 60 s + grace 5 s of helpers.item


def _v1_item(**fields: Any) -> dict[str, Any]:
    row = {
        "rg": 10,
        "svc": False,
        "unit": "octets",
        "outcome": "OK",
        "granted": 0,
        "final": False,
        "charged": {},
        "money_charged": 0,
        "units_from_allowances": 0,
        "unpaid": 0,
        "used": 0,
        "released": 0,
        "released_money": 0,
        "reserved": 0,
        "reserved_money": 0,
        "was_final": False,
    }
    row.update(fields)
    return row


def _v1_session(ids: tuple[str, str, str], rn: int, money_held: int) -> dict[str, Any]:
    """A live session record as format 1 wrote it: a map, the answer as a table."""
    cust, acct, sub = ids
    return {
        "sid": "s",
        "acct": acct,
        "par": "",
        "sub": sub,
        "cust": cust,
        "oh": "pgw.test",
        "orr": "test",
        "started": NOW,
        "rn": rn,
        "exp": EXP,
        "holdings": {
            "10": {
                "parts": [[1, "money", money_held, "m"]],
                "units": money_held * 1000,
                "unit": "octets",
                "tariff": {"segs": [[0, 1000, 1]], "counter": False, "unit": "octets"},
                "svc": False,
                "exp": EXP,
                "final": False,
            }
        },
        "result": {
            "outcome": "OK",
            "replayed": False,
            "balance": 1000,
            "items": [_v1_item(granted=money_held * 1000, reserved_money=money_held, expires=EXP)],
        },
    }


async def _write(store: BalanceStore, ids: tuple[str, str, str], record: dict[str, Any]) -> None:
    p = store.keys[store.partition_of(ids[0])]
    await store.execute(p.slot, "SET", p.session("s"), codec.pack(record))


async def test_a_format_1_session_replays_continues_and_terminates(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4932001", opening=1000)
    first = ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    await _write(store, ids, _v1_session(ids, 0, 10))  # the same state, as format 1

    again = ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    assert again.replayed and again.items == first.items and again.balance_after == 1000
    view = await store.get_session("s", store.partition_of(ids[0]))
    assert view is not None and view.holdings == {10: {"money": 10}} and view.expires_ms == EXP

    r = ok(await ccr(store, ids, "s", 1, RequestType.UPDATE, [item(used=3000, requested=5000)]))
    assert (r.items[0].money_charged, r.items[0].reserved_money) == (3, 5)
    acct = await account(store, ids[1])
    assert (acct.money, acct.bucket("money").reserved) == (997, 5)  # type: ignore[union-attr]
    ok(await ccr(store, ids, "s", 2, RequestType.TERMINATE, [item(used=5000)]))
    acct = await account(store, ids[1])
    assert (acct.money, acct.bucket("money").reserved) == (992, 0)  # type: ignore[union-attr]


async def test_a_format_1_tombstone_replays_its_answer(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4932002", opening=1000)
    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    ok(await ccr(store, ids, "s", 1, RequestType.TERMINATE, [item(used=2000)]))
    answer = _v1_item(used=2000, charged={"money": 2}, money_charged=2, released_money=8)
    tomb = {
        "tomb": True,
        "rn": 1,
        "result": {"outcome": "OK", "replayed": False, "balance": 998, "items": [answer]},
    }
    await _write(store, ids, tomb)
    again = ok(await ccr(store, ids, "s", 1, RequestType.TERMINATE, [item(used=2000)]))
    assert again.replayed and again.balance_after == 998
    assert again.items[0].charged == {"money": 2} and again.items[0].expires_ms == 0
    late = await ccr(store, ids, "s", 2, RequestType.UPDATE, [item(used=1)])
    assert late.outcome is Outcome.UNKNOWN_SESSION
    assert await store.get_session("s", store.partition_of(ids[0])) is None


async def test_the_sweeper_releases_a_format_1_session(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4932003", opening=1000)
    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    await _write(store, ids, _v1_session(ids, 0, 10))
    p = store.partition_of(ids[0])
    assert (await expiry.sweep(store, p, EXP - 1)).sessions_released == 0
    assert (await expiry.sweep(store, p, EXP)).sessions_released == 1
    acct = await account(store, ids[1])
    assert (acct.money, acct.bucket("money").reserved) == (1000, 0)  # type: ignore[union-attr]
    assert await store.get_session("s", p) is None


async def test_a_session_sees_every_change_of_its_subscriber(store: BalanceStore) -> None:
    """A session keeps the subscriber record's bytes as last checked and decodes the record
    again only when they changed: each status change still takes effect at the next CCR."""
    ids = await make_subscriber(store, "4932004", opening=1000)
    req = [item(used=1000, requested=10_000)]
    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    assert (await ccr(store, ids, "s", 1, RequestType.UPDATE, req)).items[0].granted == 10_000
    assert (await store.set_subscriber_status("x1", ids[2], Status.SUSPENDED, now_ms=NOW)).ok
    denied = ok(await ccr(store, ids, "s", 2, RequestType.UPDATE, req))
    assert denied.items[0].outcome is Outcome.DENIED
    assert ok(await ccr(store, ids, "s", 3, RequestType.UPDATE, req)).items[0].granted == 0
    assert (await store.set_subscriber_status("x2", ids[2], Status.ACTIVE, now_ms=NOW)).ok
    assert ok(await ccr(store, ids, "s", 4, RequestType.UPDATE, req)).items[0].granted == 10_000
