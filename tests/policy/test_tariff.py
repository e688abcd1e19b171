"""The tariff math: exact, monotone, and `affordable` is the inverse of `cost`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.policy.tariff import Segment, Tariff, affordable, cost, flat


def test_per_started_block_rounds_up() -> None:
    per_mb = flat("octets", 1_000_000, 2)
    assert cost(per_mb, 0, 1) == 2
    assert cost(per_mb, 0, 1_000_000) == 2
    assert cost(per_mb, 0, 1_000_001) == 4
    assert cost(per_mb, 0, 0) == 0


def test_blocks_are_counted_from_the_start_of_the_money_units() -> None:
    per_minute = flat("seconds", 60, 10)
    # 30 s from an allowance, then 70 s of money: 2 started minutes
    assert cost(per_minute, 30, 100) == 20


def test_segments_price_their_own_blocks() -> None:
    tariff = Tariff("seconds", (Segment(120, 60, 12), Segment(0, 60, 6)))
    assert cost(tariff, 0, 200) == 2 * 12 + 2 * 6
    assert cost(tariff, 100, 130) == 12 + 6


def test_affordable_takes_whole_blocks() -> None:
    per_mb = flat("octets", 1_000_000, 2)
    assert affordable(per_mb, 0, 5) == 2_000_000
    assert affordable(per_mb, 0, 5, limit=1_500_000) == 1_500_000
    assert affordable(per_mb, 0, 1) == 0


def test_free_tariff_needs_a_limit() -> None:
    free = flat("octets", 1, 0)
    assert affordable(free, 0, 0, limit=123) == 123
    with pytest.raises(ValueError):
        affordable(free, 0, 0)


segments = st.lists(
    st.tuples(st.integers(1, 500), st.integers(1, 60), st.integers(0, 50)), min_size=0, max_size=4
)


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    bounded = draw(segments)
    block, price = draw(st.integers(1, 60)), draw(st.integers(0, 50))
    return Tariff(
        "seconds",
        (*(Segment(length, blk, p) for length, blk, p in bounded), Segment(0, block, price)),
    )


@given(tariffs(), st.integers(0, 2000), st.integers(0, 2000), st.integers(0, 2000))
def test_cost_is_monotone_and_additive_at_block_edges(t: Tariff, a: int, x: int, y: int) -> None:
    assert cost(t, a, a + x) <= cost(t, a, a + x + y)
    assert cost(t, a, a) == 0


@given(tariffs(), st.integers(0, 2000), st.integers(0, 5000), st.integers(1, 3000))
def test_affordable_is_the_largest_amount_the_money_covers(
    t: Tariff, a: int, money: int, limit: int
) -> None:
    units = affordable(t, a, money, limit=limit)
    assert 0 <= units <= limit
    assert cost(t, a, a + units) <= money
    if units < limit:
        assert cost(t, a, a + units + 1) > money
