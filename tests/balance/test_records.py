"""The session script's positional records are declared once (ocs/balance/records.py).

The Lua index constants are generated from the declaration; these tests fail when a script
defines its own, uses a name nobody declared, indexes a record with a bare number, or when the
Python side builds or reads a record in another order than the declaration.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import msgpack
import pytest

from ocs.balance import codec, records
from ocs.balance.events import decode
from ocs.balance.model import RequestType, Segment, SessionItem, SessionOp, Tariff, Unit
from ocs.balance.records import RECORDS, Item, Request, Row, SessionEvent, fields, lua_constants
from ocs.balance.scripts import load_scripts
from ocs.balance.sessions import item_from_row

LUA = resources.files("ocs.balance").joinpath("lua")
DECLARED = {f"{prefix}_{name}" for prefix, record in RECORDS.items() for name in fields(record)}
DECLARED |= {f"{prefix}_COUNT" for prefix in RECORDS}


def lua_sources() -> dict[str, str]:
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in LUA.iterdir()
        if entry.name.endswith(".lua")
    }


def test_every_script_starts_with_the_generated_constants() -> None:
    generated = lua_constants()
    assert "local Q_SID, Q_RN," in generated and "S_HOLDINGS" in generated
    for script in load_scripts().values():
        assert script.text.decode().startswith(generated)


@pytest.mark.parametrize("name", sorted(lua_sources()))
def test_scripts_use_only_declared_positions(name: str) -> None:
    source = lua_sources()[name]
    code = "\n".join(line.split("--", 1)[0] for line in source.splitlines())
    used = set(re.findall(r"\b[QWRSHE]_[A-Z][A-Z_]*\b", code))
    assert used <= DECLARED, sorted(used - DECLARED)
    # no hand-written definitions that could drift from the generated ones
    assert not re.search(r"local\s+[QWRSHE]_[A-Z]", code)


def test_the_session_script_reads_its_request_and_records_by_name() -> None:
    code = lua_sources()["session.lua"]
    for record in ("r", "w", "sess", "s", "hold", "h", "res"):
        assert not re.search(rf"\b{record}\[\d+\]", code), f"{record}[<number>] in session.lua"
    assert "\\220" not in code and "\\148" not in code  # msgpack headers via array_header


def test_positions_are_consecutive_and_python_is_0_based() -> None:
    assert fields(Request)[Request.ITEMS] == "ITEMS"
    assert "local Q_SID, Q_RN" in lua_constants()
    for record in RECORDS.values():
        names = fields(record)
        assert [getattr(record, n) for n in names] == list(range(len(names)))

    class Gap:
        A = 0
        B = 2

    with pytest.raises(TypeError, match=r"0\.\.n-1"):
        fields(Gap)


def test_the_request_is_built_in_the_declared_order() -> None:
    from ocs.balance.keys import PartitionKeys
    from ocs.balance.store import session_keys

    tariff = Tariff(Unit.OCTETS, (Segment(0, 1000, 7),))
    item = SessionItem(100, 5, 300, 400, tariff, 60_000, 5_000, True, zone="eu", held_only=True)
    wire = codec.session_item_wire(item, 0)
    assert len(wire) == records.size(Item)
    assert wire[Item.RG] == 100 and wire[Item.SVC] == 5
    assert wire[Item.USED] == 300 and wire[Item.REQUESTED] == 400
    assert wire[Item.VALIDITY_MS] == 60_000 and wire[Item.GRACE_MS] == 5_000
    assert wire[Item.RESERVE] is True and wire[Item.HELD_ONLY] is True
    assert wire[Item.ZONE] == "eu" and wire[Item.UNIT] == "octets"
    assert codec.item_wire(item, 0)["requested"] == 400

    class Store:
        _routes: dict[str, tuple[str, str, str]] = {}
        _parents: dict[str, str] = {}
        _tombstone_ms = 111
        _idle_ms = 222

        def partition(self, number: int) -> PartitionKeys:
            return PartitionKeys(number)

    from ocs.balance.store import BalanceStore

    op = SessionOp(
        "sid-1",
        3,
        RequestType.UPDATE,
        7,
        "cust-1",
        "acct-1",
        "sub-1",
        1_700_000_000_000,
        (item,),
        "gw",
        "realm",
    )
    store: Any = Store()
    p, request, _, acct, _, sub = BalanceStore.session_request(store, op)
    session_keys(p, request, acct, "parent-1", sub)
    assert len(request) == records.size(Request)
    named = dict(zip(fields(Request), request, strict=True))
    assert named["SID"] == "sid-1" and named["RN"] == 3 and named["TYPE"] == "update"
    assert named["NOW"] == 1_700_000_000_000
    assert (named["ACCT"], named["PARENT"], named["SUB"]) == ("acct-1", "parent-1", "sub-1")
    assert (named["ORIGIN_HOST"], named["ORIGIN_REALM"]) == ("gw", "realm")
    assert named["ITEMS"] == [wire] and named["EVENT_ID"] == "session:sid-1:3"
    assert (named["TOMBSTONE_MS"], named["IDLE_MS"]) == (111, 222)


def test_a_row_is_read_by_name() -> None:
    row: list[object] = [False] * records.size(Row)
    values = {
        "RG": 100,
        "SVC": 9,
        "UNIT": "octets",
        "OUTCOME": "OK",
        "USED": 11,
        "CHARGED": {"money": 3},
        "MONEY_CHARGED": 3,
        "UNITS_FROM_ALLOWANCES": 8,
        "UNPAID": 1,
        "GRANTED": 500,
        "FINAL": True,
        "RESERVED": 400,
        "RESERVED_MONEY": 2,
        "WAS_FINAL": True,
        "RELEASED": 5,
        "RELEASED_MONEY": 6,
        "EXPIRES": 123,
    }
    assert set(values) == set(fields(Row))
    for name, value in values.items():
        row[getattr(Row, name)] = value
    item = item_from_row(row)
    assert (item.rating_group, item.service_id, item.outcome.value) == (100, 9, "OK")
    assert (item.used, item.charged, item.money_charged) == (11, {"money": 3}, 3)
    assert (item.units_from_allowances, item.unpaid, item.granted) == (8, 1, 500)
    assert (item.final, item.reserved, item.reserved_money) == (True, 400, 2)
    assert (item.expires_ms, item.was_final) == (123, True)


def test_a_v2_event_is_decoded_by_name() -> None:
    event: list[object] = [None] * records.size(SessionEvent)
    row: list[object] = [0] * records.size(Row)
    row[Row.OUTCOME], row[Row.CHARGED], row[Row.EXPIRES], row[Row.UNIT] = "OK", {}, 9, "octets"
    row[Row.UNITS_FROM_ALLOWANCES] = 4
    for name, value in {
        "V": 2,
        "TYPE": "session",
        "ID": "session:s:1",
        "TS": 5,
        "CUST": "c",
        "ACCT": "a",
        "SUB": "u",
        "PARENT": "",
        "SESS": "s",
        "RN": 1,
        "RT": "update",
        "OH": "gw",
        "ORR": "realm",
        "INFO": {"k": "v"},
        "BALANCES": {"money": 10},
        "DELTA": {"money": -1},
        "RELEASED": [[100, 2, 3]],
        "ITEMS": [row],
    }.items():
        event[getattr(SessionEvent, name)] = value
    decoded = decode("1-0", {b"e": msgpack.packb(event)})
    assert decoded.id == "session:s:1" and decoded.data["acct"] == "a"
    assert decoded.data["delta"] == {"money": -1} and decoded.data["info"] == {"k": "v"}
    assert decoded.data["released"] == [{"rg": 100, "units": 2, "money": 3}]
    assert decoded.data["items"][0]["units_from_allowances"] == 4
    assert decoded.data["items"][0]["expires"] == 9
