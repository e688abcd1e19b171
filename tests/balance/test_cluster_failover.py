"""A manual failover under traffic: the replica takes over its master's slots (MOVED from the old
master, an empty script cache on the new one: NOSCRIPT then EVAL); every charge lands once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ocs.balance.cluster import ClusterNodes
from ocs.balance.engine import RedisTarget
from ocs.balance.model import DebitItem, Outcome
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from ocs.redis_server import RedisServer
from tests.balance.conftest import PARTITIONS
from tests.balance.helpers import NOW, account, make_subscriber
from tests.support.ports import free_cluster_port
from tests.support.redis_cluster import RedisClusterProcesses

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def wait_for(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def knows_replica(client: redis.Redis, master_id: str) -> bool:
    nodes = client.execute_command("CLUSTER", "NODES")
    text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
    return f"slave {master_id}" in text


@pytest.fixture
def cluster_with_replica(tmp_path: Path) -> Iterator[tuple[RedisClusterProcesses, RedisServer]]:
    cluster = RedisClusterProcesses(tmp_path / "c")
    cluster.start()
    replica = RedisServer(
        tmp_path / "r",
        password=cluster.password,
        port=free_cluster_port(),
        appendonly=False,
        cluster=True,
    )
    try:
        replica.start()
        yield cluster, replica
    finally:
        replica.stop()
        cluster.stop()


async def test_charges_survive_a_failover(
    cluster_with_replica: tuple[RedisClusterProcesses, RedisServer],
) -> None:
    cluster, replica = cluster_with_replica
    target = RedisTarget(cluster_nodes=tuple(cluster.addresses), password=cluster.password)
    store = BalanceStore(target, BalanceConfig(), PARTITIONS)
    await store.start()
    try:
        ids = await make_subscriber(store, "4926001", opening=10_000)
        p = store.keys[store.partition_of(ids[0])]
        executor = store.executor
        assert isinstance(executor, ClusterNodes)
        master = executor.node_for_slot(p.slot).address.port
        with next(n for n in cluster.nodes if n.port == master).client() as client:
            master_id = client.execute_command("CLUSTER", "MYID").decode()
        with replica.client() as r:
            r.execute_command("CLUSTER", "MEET", "127.0.0.1", master)
            wait_for(
                lambda: len(r.execute_command("CLUSTER", "NODES").splitlines()) == 4,
                "the replica to join",
            )
            r.execute_command("CLUSTER", "REPLICATE", master_id)
            wait_for(
                lambda: r.info("replication").get("master_link_status") == "up",
                "the replica to sync",
            )
        first = await asyncio.gather(
            *(
                store.debit(f"a{n}", ids[1], [DebitItem(1, None, 10, None)], now_ms=NOW)
                for n in range(20)
            )
        )
        with next(n for n in cluster.nodes if n.port == master).client() as m:
            assert m.execute_command("WAIT", 1, 10_000) == 1  # the debits reached the replica
        for node in cluster.nodes:  # every master knows the replica before it asks for votes
            with node.client() as c:
                wait_for(lambda c=c: knows_replica(c, master_id), "the masters to know it")
        with replica.client() as r:
            r.execute_command("SCRIPT", "FLUSH")  # as after a restart: no script cached
            r.execute_command("CLUSTER", "FAILOVER")
            wait_for(lambda: r.info("replication")["role"] == "master", "the failover")
        second = await asyncio.gather(
            *(
                store.debit(f"b{n}", ids[1], [DebitItem(1, None, 10, None)], now_ms=NOW)
                for n in range(20)
            )
        )
        assert all(r.outcome is Outcome.OK for r in first + second)
        assert executor.redirections["MOVED"] >= 1
        assert executor.node_for_slot(p.slot).address.port == replica.port
        with replica.client() as r:  # NOSCRIPT was answered by sending the script text
            assert r.info("commandstats")["cmdstat_eval"]["calls"] >= 1
        again = await store.debit("a3", ids[1], [DebitItem(1, None, 10, None)], now_ms=NOW)
        assert again.replayed  # the op record was replicated with the charge
        assert (await account(store, ids[1])).money == 10_000 - 40 * 10
    finally:
        await store.stop()
