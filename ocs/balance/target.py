"""Where the balances live (a Redis URL or cluster seeds, TLS, replication) and the executor
that sends commands there: one batching connection, or one per cluster master."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from ocs.balance.client import Address, NodeConnection, Replication, SingleNode, Tls
from ocs.balance.cluster import ClusterNodes
from ocs.config import BalanceConfig, Config, RedisConfig, split_listen
from ocs.embedded_redis import running_server_url
from ocs.errors import StartupError


class Executor(Protocol):
    async def start(self) -> None: ...

    def execute(self, slot: int, *args: Any) -> Awaitable[Any]: ...

    def execute_durable(self, slot: int, fence_key: str, *args: Any) -> Awaitable[Any]: ...

    def node_for_slot(self, slot: int) -> NodeConnection: ...

    def nodes(self) -> list[NodeConnection]: ...

    def connections(self) -> list[NodeConnection]: ...

    def refresh_soon(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where the balances live: a URL (single node) or cluster seed nodes; TLS towards them
    (a ``rediss://`` URL, or ``tls`` for the cluster) and, for ``replicated`` durability, how
    many replicas confirm each write."""

    url: str = ""
    cluster_nodes: tuple[str, ...] = ()
    password: str = ""
    tls: Tls | None = None
    replication: Replication | None = None

    @classmethod
    def for_tools(cls, config: Config) -> RedisTarget:
        """Where a command-line tool (billing, bench) finds Redis: the configured one, else the
        embedded redis-server of the ``ocs serve`` running on the config's state dir."""
        if config.redis.url or config.redis.cluster_nodes:
            return cls.from_config(config.redis)
        url = running_server_url(config.state_dir)
        if url is None:
            raise StartupError(
                f"no redis.url configured and no ocs server running on state dir "
                f"{config.state_dir}: start `ocs serve` or set redis.url"
            )
        return cls(url=url)

    @classmethod
    def from_config(
        cls, config: RedisConfig, url: str = "", balance: BalanceConfig | None = None
    ) -> RedisTarget:
        tls = Tls(config.tls_ca, config.tls_cert, config.tls_key) if config.uses_tls else None
        replication = None
        if balance is not None and balance.durability == "replicated":
            replication = Replication(balance.replicas, balance.replication_timeout_ms)
        if config.cluster_nodes:
            return cls(
                cluster_nodes=tuple(config.cluster_nodes),
                password=config.password,
                tls=tls,
                replication=replication,
            )
        return cls(url=url or config.url, tls=tls, replication=replication)

    def address(self) -> Address:
        """The single node's address (``url``)."""
        return Address.from_url(self.url, self.tls)

    def executor(self) -> Executor:
        if self.cluster_nodes:
            seeds = [split_listen(node) for node in self.cluster_nodes]
            return ClusterNodes(seeds, self.password, self.tls, self.replication)
        return SingleNode(self.address(), self.replication)
