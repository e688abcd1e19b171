"""Fixtures of the balance suite: every store test runs on one redis-server and on the cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.support.redis_cluster import RedisClusterProcesses

PARTITIONS = 8


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.cluster)])
def target(request: pytest.FixtureRequest) -> RedisTarget:
    """Where the balances live: the session redis-server, or the 3-master cluster (emptied)."""
    if request.param == "single":
        return RedisTarget(url=request.getfixturevalue("redis_url"))
    cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
    return RedisTarget(cluster_nodes=tuple(cluster.addresses), password=cluster.password)


@pytest.fixture
async def store(target: RedisTarget) -> AsyncIterator[BalanceStore]:
    running = BalanceStore(target, BalanceConfig(), partitions=PARTITIONS)
    await running.start()
    yield running
    await running.stop()
