"""The session answer's result objects: built by slot constructors, equal to (and as frozen as)
the ones the dataclass constructors build."""

from __future__ import annotations

import dataclasses

import pytest

from ocs.balance.model import ItemResult, Outcome, SessionResult
from ocs.balance.sessions import item_from_row, session_result, slot_constructor

ROW = [10, 7, "octets", "OK", 5000, {"money": 5}, 5, 0, 1, 9000, True, 3, 20, False, 0, 2, 99]


def test_item_rows_build_the_same_frozen_results_as_the_constructors() -> None:
    built = item_from_row(ROW)
    expected = ItemResult(
        rating_group=10,
        service_id=7,
        outcome=Outcome.OK,
        granted=9000,
        final=True,
        charged={"money": 5},
        money_charged=5,
        units_from_allowances=0,
        unpaid=1,
        used=5000,
        reserved=3,
        reserved_money=20,
        expires_ms=99,
        was_final=False,
    )
    assert built == expected and type(built) is ItemResult
    assert repr(built) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.granted = 1  # type: ignore[misc]
    bare = item_from_row(
        [10, False, "money", "NO_CREDIT", 0, [], 0, 0, 0, 0, False, 0, 0, False, 0, 0, False]
    )
    assert (bare.service_id, bare.charged, bare.expires_ms) == (None, {}, 0)
    assert bare.outcome is Outcome.NO_CREDIT


def test_answers_and_refusals() -> None:
    result = session_result(["OK", True, 42, [ROW]])
    assert result == SessionResult(Outcome.OK, (item_from_row(ROW),), True, 42)
    refused = session_result({"outcome": "UNKNOWN_SESSION"})
    assert refused == SessionResult(Outcome.UNKNOWN_SESSION, (), False, 0)


def test_slot_constructors_refuse_what_they_would_get_wrong() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        amount: int

        def __post_init__(self) -> None:
            if self.amount < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError):
        slot_constructor(Checked)
    with pytest.raises(TypeError):
        slot_constructor(int)
