"""A 3-master Redis Cluster from the same redis-server binary as the embedded default."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import redis

from ocs.redis_server import RedisServer
from tests.support.ports import free_cluster_port

SLOTS = 16384


class RedisClusterProcesses:
    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.password = secrets.token_urlsafe(16)
        self.nodes = [
            RedisServer(
                directory / f"node{i}",
                password=self.password,
                port=free_cluster_port(),
                appendonly=False,
                cluster=True,
            )
            for i in range(masters)
        ]

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    def start(self, timeout: float = 20.0) -> None:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        for node in self.nodes:
            node.start()
        clients = [node.client() for node in self.nodes]
        per_node = SLOTS // len(self.nodes)
        for i, client in enumerate(clients):
            first = i * per_node
            last = SLOTS - 1 if i == len(self.nodes) - 1 else first + per_node - 1
            client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = [client.execute_command("CLUSTER INFO") for client in clients]
            if all(_is_ok(info, len(self.nodes)) for info in infos):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"cluster did not form: {infos}")
        for client in clients:
            client.close()

    def client(self) -> redis.RedisCluster:
        host, port = self.addresses[0].split(":")
        return redis.RedisCluster(host=host, port=int(port), password=self.password)

    def flush(self) -> None:
        for node in self.nodes:
            with node.client() as client:
                client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _is_ok(fields: dict[str, str], masters: int) -> bool:
    return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(masters)
