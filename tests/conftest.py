"""Fixtures on real components: redis-server, a Redis Cluster, and the ocs app itself."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvloop
from hypothesis import settings

from ocs.app import App
from ocs.config import Config
from ocs.redis_server import RedisServer
from tests.support.ports import free_port
from tests.support.redis_cluster import RedisClusterProcesses
from tests.support.tshark import Capture

# No per-example deadline: on a loaded 2-core runner one stall of a few hundred ms would fail
# an example as DeadlineExceeded (Hypothesis' default is 200 ms) though nothing is wrong.
settings.register_profile("ocs", deadline=None)
settings.load_profile("ocs")


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Tests run on uvloop, like the server."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server (unix socket, password) for the whole test session."""
    server = RedisServer(
        tmp_path_factory.mktemp("redis"), password=secrets.token_urlsafe(16), appendonly=False
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the session redis-server, emptied before the test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster_processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisClusterProcesses]:
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster(redis_cluster_processes: RedisClusterProcesses) -> RedisClusterProcesses:
    """A 3-master Redis Cluster on free ports, emptied before the test."""
    redis_cluster_processes.flush()
    return redis_cluster_processes


def app_config(state_dir: Path, redis_url: str, **sections: dict[str, object]) -> Config:
    """A config for an in-process app on free ports against ``redis_url``."""
    data: dict[str, object] = {
        "state_dir": str(state_dir),
        "catalog": str(Path("config/catalog.toml").resolve()),
        "redis": {"url": redis_url},
        "metrics": {"listen": "127.0.0.1:0"},
        "diameter": {"listen": "127.0.0.1:0"},
        "grpc": {"listen": "127.0.0.1:0"},
    }
    for name, values in sections.items():
        merged = dict(data.get(name, {}))  # type: ignore[call-overload]
        merged.update(values)
        data[name] = merged
    return Config.model_validate(data)


@pytest.fixture
async def app(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    """The whole server running in this test's event loop, on free ports."""
    running = App(app_config(tmp_path / "state", redis_url))
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Capture]:
    """``tshark`` capturing one free TCP port on loopback (skipped where it cannot capture)."""
    running = Capture(free_port(), tmp_path / "diameter.pcapng")
    try:
        problem = running.started()
        if problem is not None:
            pytest.skip(f"tshark cannot capture on lo here: {problem}")
        yield running
    finally:
        running.stop()
