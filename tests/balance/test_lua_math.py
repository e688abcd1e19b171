"""The Lua prelude's integer arithmetic and tariff pricing against an exact Python reference."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.balance.scripts import load_scripts
from ocs.redis_server import RedisServer

PRELUDE = load_scripts()["session"].text.decode().split("\n-- session.lua\n")[0]
INF = 2**53


@pytest.fixture(scope="module")
def lua(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis_server.client() as client:
        yield client


def run(client: redis.Redis, body: str, *args: int) -> list[int]:
    reply = client.eval(PRELUDE + "\n" + body, 0, *args)
    return [int(x) for x in reply]


def ref_cost(segs: list[tuple[int, int, int]], a: int, b: int) -> int:
    total, s = 0, 0
    for length, block, price in segs:
        e = INF if length == 0 else s + length
        lo, hi = max(a, s), min(b, e)
        if hi > lo:
            total += -(-(hi - lo) // block) * price
        s = e
    return total


def ref_affordable(segs: list[tuple[int, int, int]], a: int, money: int) -> int:
    """Largest u ending on a block boundary of its segment (or a segment's end) with
    cost(a, a + u) <= money; cost only grows with u, so search each segment's boundaries."""
    best, s = 0, 0
    for length, block, _ in segs:
        e = INF if length == 0 else s + length
        if e > a:
            start = max(a, s)
            lo, hi = 0, -(-(e - start) // block) if length else money + 1
            while lo < hi:  # largest k with cost(a, min(start + k * block, e)) <= money
                mid = (lo + hi + 1) // 2
                if ref_cost(segs, a, min(start + mid * block, e)) <= money:
                    lo = mid
                else:
                    hi = mid - 1
            best = max(best, min(start + lo * block, e) - a)
            if ref_cost(segs, a, e) > money:
                return best
        s = e
    return best


segments = st.lists(
    st.tuples(st.integers(1, 5000), st.integers(1, 700), st.integers(0, 50)), max_size=3
).flatmap(
    lambda head: st.tuples(st.integers(1, 700), st.integers(1, 50)).map(
        lambda last: [*head, (0, last[0], last[1])]
    )
)


@settings(max_examples=150, deadline=None)
@given(a=st.integers(0, INF - 1), b=st.integers(1, INF - 1))
def test_idiv_and_ceil_div_are_exact_below_2_53(lua: redis.Redis, a: int, b: int) -> None:
    q, c = run(
        lua,
        "return {idiv(tonumber(ARGV[1]), tonumber(ARGV[2])), "
        "ceil_div(tonumber(ARGV[1]), tonumber(ARGV[2]))}",
        a,
        b,
    )
    assert q == a // b
    assert c == -(-a // b)


@settings(max_examples=150, deadline=None)
@given(segs=segments, a=st.integers(0, 20_000), n=st.integers(0, 20_000))
def test_cost_matches_the_reference(
    lua: redis.Redis, segs: list[tuple[int, int, int]], a: int, n: int
) -> None:
    flat = [x for seg in segs for x in seg]
    body = (
        "local segs = {} for i = 3, #ARGV, 3 do segs[#segs + 1] = "
        "{tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])} end "
        "return {cost(segs, tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]))}"
    )
    assert run(lua, body, a, n, *flat) == [ref_cost(segs, a, a + n)]


@settings(max_examples=150, deadline=None)
@given(segs=segments, a=st.integers(0, 20_000), money=st.integers(0, 3000))
def test_affordable_is_the_most_whole_blocks_money_pays_for(
    lua: redis.Redis, segs: list[tuple[int, int, int]], a: int, money: int
) -> None:
    flat = [x for seg in segs for x in seg]
    body = (
        "local segs = {} for i = 3, #ARGV, 3 do segs[#segs + 1] = "
        "{tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])} end "
        "local u = affordable(segs, tonumber(ARGV[1]), tonumber(ARGV[2])) "
        "local c = -1 if u < INF then c = cost(segs, tonumber(ARGV[1]), tonumber(ARGV[1]) + u) end "
        "return {u, c}"
    )
    u, c = run(lua, body, a, money, *flat)
    if u == INF:
        assert segs[-1][2] == 0
        assert ref_cost(segs, a, a + 10**7) <= money
        return
    assert c <= money
    assert u == ref_affordable(segs, a, money)


def test_month_of_epoch_ms(lua: redis.Redis) -> None:
    cases = {0: "1970-01", 1_790_000_000_000: "2026-09", 951_782_400_000: "2000-02-29"[:7]}
    for ms, month in cases.items():
        assert lua.eval(PRELUDE + "\nreturn month_of(tonumber(ARGV[1]))", 0, ms).decode() == month
