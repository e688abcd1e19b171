"""Fixtures of the billing suite: the ledger on SQLite and on a private PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.ledger import Ledger
from ocs.config import BalanceConfig
from tests.support.postgres import PostgresServer, find_bindir
from tests.support.redis_cluster import RedisClusterProcesses

PARTITIONS = 8


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt install postgresql)")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ledger_dsn(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """ "" (SQLite under the test's state dir) or the DSN of a fresh PostgreSQL database."""
    if backend == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def make_ledger(ledger_dsn: str, tmp_path: Path) -> Iterator[Callable[[], Ledger]]:
    """Open connections to this test's ledger (several: concurrent bridges)."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger = Ledger(ledger_dsn, None if ledger_dsn else tmp_path / "state/billing/ledger.db")
        opened.append(ledger.open())
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    return make_ledger()


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.cluster)])
def target(request: pytest.FixtureRequest) -> RedisTarget:
    """Where the balances live: the session redis-server, or the 3-master cluster (emptied)."""
    if request.param == "single":
        return RedisTarget(url=request.getfixturevalue("redis_url"))
    cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
    return RedisTarget(cluster_nodes=tuple(cluster.addresses), password=cluster.password)


@pytest.fixture
def single_target(redis_url: str) -> RedisTarget:
    return RedisTarget(url=redis_url)


@pytest.fixture
async def store(target: RedisTarget) -> AsyncIterator[BalanceStore]:
    running = BalanceStore(target, BalanceConfig(), partitions=PARTITIONS)
    await running.start()
    yield running
    await running.stop()
