"""Several OS processes hammer the same balances at once."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.events import read_partition, replay
from ocs.balance.store import BalanceStore
from tests.balance import workers
from tests.balance.helpers import account, make_subscriber

pytestmark = pytest.mark.slow

PROCESSES = 4


def in_processes(fn: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(args), mp_context=context) as pool:
        futures = [pool.submit(fn, *a) for a in args]
        return [f.result(timeout=120) for f in futures]


async def test_500_concurrent_reservations_against_credit_for_50(
    store: BalanceStore, target: RedisTarget
) -> None:
    ids = await make_subscriber(store, "4921001", opening=50)
    start_at = time.time() + 3
    per_worker = 500 // PROCESSES
    outcomes = [
        o
        for batch in in_processes(
            workers.reserve_many,
            [(target, ids, w, per_worker, start_at) for w in range(PROCESSES)],
        )
        for o in batch
    ]
    assert len(outcomes) == 500
    assert outcomes.count("OK:1000:1") == 50
    assert outcomes.count("NO_CREDIT:0:0") == 450
    acct = await account(store, ids[1])
    money = acct.bucket("money")
    assert money is not None and (money.balance, money.reserved) == (50, 50)


async def test_concurrent_topups_and_member_debits_on_a_shared_pool_conserve_money(
    store: BalanceStore, target: RedisTarget
) -> None:
    cust, pool, _ = await make_subscriber(store, "4921002", opening=100)
    members = []
    for n in range(3):
        _, member, _ = await make_subscriber(store, f"49210020{n}", customer=cust, parent=pool)
        members.append(member)
    start_at = time.time() + 3
    totals = in_processes(
        workers.pool_traffic,
        [(target, w, members, pool, 40, start_at) for w in range(PROCESSES)],
    )
    added = sum(t["added"] for t in totals)
    charged = sum(t["charged"] for t in totals)
    assert added == PROCESSES * 40 * 7
    assert charged > 0
    acct = await account(store, pool)
    assert acct.money == 100 + added - charged
    assert acct.money >= 0
    rebuilt = replay(await read_partition(store, store.partition_of(cust)))
    assert rebuilt[pool]["money"] == acct.money
