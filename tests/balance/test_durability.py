"""``[balance] durability``: replicated writes wait for a replica; fsync and TLS settings.

A primary and its replica are real redis-servers. ``replicated`` answers only once the replica
has the write; without a replica the call is UNAVAILABLE (3004), its effect unknown, and its
retransmission (same operation id) is answered from the stored result once a replica has it.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ocs.balance.client import Address, Replication, Tls
from ocs.balance.engine import RedisTarget
from ocs.balance.errors import BalanceUnavailable
from ocs.balance.model import DebitItem, Outcome
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig, load
from ocs.embedded_redis import EmbeddedRedis
from ocs.errors import ConfigError
from ocs.local_cluster import make_certificates, tls_redis_server
from ocs.redis_server import RedisServer
from tests.balance.conftest import PARTITIONS
from tests.balance.helpers import NOW, account, make_subscriber
from tests.support.ports import free_port


def not_replicated() -> float:
    value = REGISTRY.get_sample_value("ocs_balance_unavailable_total", {"reason": "not_replicated"})
    return value or 0.0


def until(check: object, within: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "primary", password=secrets.token_urlsafe(12), port=free_port())
    server.start()
    yield server
    server.stop()


def start_replica(directory: Path, primary: RedisServer) -> RedisServer:
    replica = RedisServer(
        directory,
        password=primary.password,
        port=free_port(),
        appendonly=False,
        extra={"replicaof": f"127.0.0.1 {primary.port}", "masterauth": primary.password},
    )
    replica.start()
    with replica.client() as client:
        until(lambda: client.info("replication").get("master_link_status") == "up")
    return replica


async def test_replicated_waits_for_the_replica_and_replays_once_it_is_back(
    tmp_path: Path, primary: RedisServer
) -> None:
    replica = start_replica(tmp_path / "replica", primary)
    config = BalanceConfig(durability="replicated", replication_timeout_ms=3000)
    target = RedisTarget(url=primary.url, replication=Replication(1, 3000))
    store = BalanceStore(target, config, PARTITIONS)
    await store.start()
    try:
        ids = await make_subscriber(store, "4929001", opening=1_000)
        first = await store.debit("r1", ids[1], [DebitItem(1, None, 10, None)], now_ms=NOW)
        assert first.outcome is Outcome.OK
        with replica.client() as client:  # the replica had it when the answer came
            assert client.dbsize() > 0
        replica.stop()
        with primary.client() as client:
            until(lambda: client.info("replication")["connected_slaves"] == 0)
        missed = not_replicated()
        with pytest.raises(BalanceUnavailable, match="reached 0 of 1 replicas"):
            await store.debit("r2", ids[1], [DebitItem(1, None, 25, None)], now_ms=NOW)
        assert not_replicated() == missed + 1
        # applied on the primary, not acknowledged; the repeat must not charge again
        replica = start_replica(tmp_path / "replica2", primary)
        again = await store.debit("r2", ids[1], [DebitItem(1, None, 25, None)], now_ms=NOW)
        assert again.outcome is Outcome.OK and again.replayed
        assert (await account(store, ids[1])).money == 1_000 - 10 - 25
    finally:
        await store.stop()
        replica.stop()


def test_replicated_needs_a_redis_with_replicas(tmp_path: Path) -> None:
    path = tmp_path / "ocs.toml"
    path.write_text('[balance]\ndurability = "replicated"\n')
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    assert caught.value.key == "balance.durability"
    assert "replicas" in caught.value.problem
    with pytest.raises(ConfigError, match=r"balance.durability: .*'local', 'fsync'"):
        load(path, environ={"OCS_BALANCE_DURABILITY": "sometimes"})


async def test_fsync_runs_the_embedded_redis_with_appendfsync_always(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path / "state", durability="fsync")
    await embedded.start()
    try:
        conf = (tmp_path / "state" / "redis" / "redis.conf").read_text()
        assert "appendfsync always" in conf
        assert embedded.server is not None
        with embedded.server.client() as client:
            assert client.config_get("appendfsync") == {"appendfsync": "always"}
    finally:
        await embedded.stop()


def test_rediss_url_keeps_its_tls_files() -> None:
    address = Address.from_url(
        "rediss://:pw@127.0.0.1:6380/0?ssl_ca_certs=/etc/ca.pem", Tls(cert="/c.pem")
    )
    assert address.tls == Tls(ca="/etc/ca.pem", cert="/c.pem")
    assert Address.from_url("redis://127.0.0.1:6379/0", Tls(ca="/x")).tls is None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RedisServer, dict[str, str]]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    try:
        binary = tls_redis_server()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    certs = make_certificates(tmp_path / "certs")
    port = free_port()
    server = RedisServer(
        tmp_path / "tls",
        password=secrets.token_urlsafe(12),
        port=free_port(),
        binary=Path(binary),
        appendonly=False,
        extra={
            "tls-port": str(port),
            "tls-cert-file": certs["cert"],
            "tls-key-file": certs["key"],
            "tls-ca-cert-file": certs["ca"],
            "tls-auth-clients": "no",
        },
    )
    server.start()
    yield server, {**certs, "port": str(port)}
    server.stop()


async def test_the_balance_engine_speaks_rediss(
    tls_server: tuple[RedisServer, dict[str, str]],
) -> None:
    server, certs = tls_server
    url = f"rediss://:{server.password}@127.0.0.1:{certs['port']}/0"
    store = BalanceStore(RedisTarget(url=url, tls=Tls(ca=certs["ca"])), BalanceConfig(), 8)
    await store.start()
    try:
        ids = await make_subscriber(store, "4929002", opening=500)
        result = await store.debit("t1", ids[1], [DebitItem(1, None, 20, None)], now_ms=NOW)
        assert result.outcome is Outcome.OK
        assert (await account(store, ids[1])).money == 480
    finally:
        await store.stop()
    untrusted = BalanceStore(RedisTarget(url=url, tls=Tls()), BalanceConfig(), 8)
    with pytest.raises(Exception, match="certificate verify failed"):
        await untrusted.start()


def test_the_fence_of_a_plain_write_is_in_its_slot() -> None:
    from ocs.balance.engine import fence_for
    from ocs.balance.keys import slot_of

    for key in ("ocs:loc:session-1", "ocs:{12}:sess:x", "ocs:id:e164:4912", "ocs:meta"):
        assert slot_of(fence_for(key)) == slot_of(key)
