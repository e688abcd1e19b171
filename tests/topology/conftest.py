"""The production-like topology (ocs.local_cluster) under a Gy gateway with two ocs peers."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocs.local_cluster import LocalCluster, tls_redis_server
from tests.support.postgres import PostgresServer, find_bindir


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt install postgresql)")
    try:
        tls_redis_server()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


def start_topology(root: Path, postgres: PostgresServer, durability: str) -> LocalCluster:
    cluster = LocalCluster(root, durability=durability, ledger_dsn=postgres.new_database())
    cluster.start()
    return cluster


def client_tls(cluster: LocalCluster) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cluster.certs["ca"])
