"""A slot migration under traffic: ASK while keys move, TRYAGAIN for scripts whose keys are split
between nodes, MOVED once the slot has a new owner; nothing lost, nothing charged twice."""

from __future__ import annotations

import asyncio

import pytest
import redis

from ocs.balance.cluster import ClusterNodes
from ocs.balance.engine import RedisTarget
from ocs.balance.model import DebitItem, Outcome
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.balance.conftest import PARTITIONS
from tests.balance.helpers import NOW, account, make_subscriber
from tests.support.redis_cluster import RedisClusterProcesses

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def node_ids(cluster: RedisClusterProcesses) -> dict[int, str]:
    ids = {}
    for node in cluster.nodes:
        with node.client() as client:
            ids[node.port] = client.execute_command("CLUSTER", "MYID").decode()
    return ids


def owner_port(cluster: RedisClusterProcesses, slot: int) -> int:
    with cluster.nodes[0].client() as client:
        for first, last, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return int(master[1])
    raise AssertionError(slot)


async def test_debits_survive_a_slot_migration(redis_cluster: RedisClusterProcesses) -> None:
    target = RedisTarget(
        cluster_nodes=tuple(redis_cluster.addresses), password=redis_cluster.password
    )
    store = BalanceStore(target, BalanceConfig(), PARTITIONS)
    await store.start()
    try:
        ids = await make_subscriber(store, "4923001", opening=1000)
        p = store.keys[store.partition_of(ids[0])]
        source_port = owner_port(redis_cluster, p.slot)
        dest = next(n for n in redis_cluster.nodes if n.port != source_port)
        source = next(n for n in redis_cluster.nodes if n.port == source_port)
        ids_by_port = node_ids(redis_cluster)
        src: redis.Redis = source.client()
        dst: redis.Redis = dest.client()
        dst.execute_command("CLUSTER", "SETSLOT", p.slot, "IMPORTING", ids_by_port[source.port])
        src.execute_command("CLUSTER", "SETSLOT", p.slot, "MIGRATING", ids_by_port[dest.port])
        # move the account first: a plain read of it is now answered with ASK
        src.execute_command(
            "MIGRATE",
            "127.0.0.1",
            dest.port,
            "",
            0,
            5000,
            "AUTH",
            redis_cluster.password,
            "KEYS",
            p.account(ids[1]),
        )
        view = await account(store, ids[1])
        assert view.money == 1000
        executor = store.executor
        assert isinstance(executor, ClusterNodes)
        assert executor.redirections["ASK"] >= 1
        # a debit now touches keys on both nodes: TRYAGAIN until the migration is done
        debits = asyncio.gather(
            *(
                store.debit(f"d{n}", ids[1], [DebitItem(1, None, 10, None)], now_ms=NOW)
                for n in range(20)
            )
        )
        # the debits are being refused with TRYAGAIN (and retried) while the slot is split
        deadline = asyncio.get_running_loop().time() + 10
        while executor.redirections["TRYAGAIN"] < 1:
            assert asyncio.get_running_loop().time() < deadline, "no TRYAGAIN while migrating"
            await asyncio.sleep(0.005)
        keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", p.slot, 10_000)
        if keys:
            src.execute_command(
                "MIGRATE",
                "127.0.0.1",
                dest.port,
                "",
                0,
                5000,
                "AUTH",
                redis_cluster.password,
                "KEYS",
                *keys,
            )
        for node in redis_cluster.nodes:
            with node.client() as client:
                client.execute_command("CLUSTER", "SETSLOT", p.slot, "NODE", ids_by_port[dest.port])
        results = await debits
        assert all(r.outcome is Outcome.OK for r in results)
        assert executor.redirections["TRYAGAIN"] >= 1
        assert executor.redirections["MOVED"] >= 1
        assert owner_port(redis_cluster, p.slot) == dest.port
        # retries of the same operations are replays: charged once
        again = await store.debit("d0", ids[1], [DebitItem(1, None, 10, None)], now_ms=NOW)
        assert again.replayed
        assert (await account(store, ids[1])).money == 1000 - 20 * 10
        src.close()
        dst.close()
    finally:
        await store.stop()
