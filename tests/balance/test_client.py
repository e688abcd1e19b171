"""The batching connection and the engine's boundary: scripts reloaded after SCRIPT FLUSH,
dropped connections, cancelled callers, bad arguments, wrong partition count."""

from __future__ import annotations

import asyncio

import pytest

from ocs.balance.client import Address, NodeConnection
from ocs.balance.engine import RedisTarget
from ocs.balance.errors import BalanceUnavailable, InvalidRequest
from ocs.balance.model import DebitItem, Outcome, RequestType, Segment, Tariff, Unit
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from ocs.errors import StartupError
from tests.balance.conftest import PARTITIONS
from tests.balance.helpers import NOW, ccr, item, make_subscriber


async def test_scripts_are_reloaded_after_the_cache_is_flushed(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4924001", opening=100)
    for node in store.executor.nodes():
        await node.execute("SCRIPT", "FLUSH")
    r = await store.debit("d", ids[1], [DebitItem(1, None, 5, None)], now_ms=NOW)
    assert r.outcome is Outcome.OK and r.balance_after == 95


async def test_a_dropped_connection_fails_calls_in_flight_and_the_next_call_reconnects(
    redis_url: str,
) -> None:
    connection = NodeConnection(Address.from_url(redis_url))
    try:
        assert await connection.execute("PING") == b"PONG"
        blocked = connection.send(("BLPOP", "nothing-here", 5))
        await asyncio.sleep(0)  # written
        connection.drop()
        with pytest.raises(BalanceUnavailable):
            await blocked
        assert await connection.execute("PING") == b"PONG"
    finally:
        await connection.close()


async def test_cancelled_callers_never_shift_replies(redis_url: str) -> None:
    connection = NodeConnection(Address.from_url(redis_url))
    try:
        await connection.execute("SET", "k", "v")

        async def get(n: int) -> bytes:
            return await connection.send(("ECHO", str(n)))  # type: ignore[no-any-return]

        tasks = [asyncio.ensure_future(get(n)) for n in range(100)]
        await asyncio.sleep(0)
        for task in tasks[::3]:
            task.cancel()
        for n, task in enumerate(tasks):
            if n % 3:
                assert await task == str(n).encode()
        assert await connection.execute("GET", "k") == b"v"
    finally:
        await connection.close()


async def test_unreachable_redis_and_wrong_partition_count_refuse_to_start(
    redis_url: str,
) -> None:
    store = BalanceStore(RedisTarget(url="redis://127.0.0.1:1/0"), BalanceConfig(), 8)
    with pytest.raises(StartupError, match="cannot use redis"):
        await store.start()
    wrong = redis_url.replace("password=", "password=wrong")
    store = BalanceStore(RedisTarget(url=wrong), BalanceConfig(), 8)
    with pytest.raises(StartupError, match=r"cannot use redis: (NOAUTH|WRONGPASS)"):
        await store.start()
    other_scheme = BalanceStore(RedisTarget(url="http://127.0.0.1:1/0"), BalanceConfig(), 8)
    with pytest.raises(StartupError, match="unsupported redis URL scheme"):
        await other_scheme.start()
    first = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), 8)
    await first.start()
    await first.stop()
    other = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), 16)
    with pytest.raises(StartupError, match="8 partitions but 16"):
        await other.start()


async def test_bad_arguments_are_refused_before_redis_naming_the_field(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4924002", opening=100)
    with pytest.raises(InvalidRequest) as caught:
        await store.topup("p", ids[1], 2**53, "EUR", now_ms=NOW)
    assert caught.value.field == "amount" and caught.value.outcome is Outcome.INVALID
    bounded_last = Tariff(Unit.OCTETS, (Segment(10, 1, 1),))
    with pytest.raises(InvalidRequest, match=r"tariff.segments\[0\].length"):
        await store.debit("d", ids[1], [DebitItem(1, None, 5, bounded_last)], now_ms=NOW)
    with pytest.raises(InvalidRequest, match="used"):
        await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(used=-1)])
    with pytest.raises(InvalidRequest, match="partition"):
        store.partition(PARTITIONS)
