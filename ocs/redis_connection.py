"""Subsystem: the connection to Redis for everything that is not the hot path.

Resolves where Redis is (the embedded server, a URL, or a Redis Cluster),
checks at start that it answers, and offers a redis-py asyncio client for
provisioning, admin and reporting work. The charging hot path uses the
batching client of ``ocs.balance``, built from the same target.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
from redis.asyncio.cluster import ClusterNode

from ocs.config import RedisConfig, split_listen
from ocs.errors import StartupError

log = logging.getLogger("ocs.redis")

AnyRedis = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster


class RedisConnection:
    """Owns the redis-py asyncio client; ``url_source`` is read at start."""

    name = "redis-connection"

    def __init__(self, config: RedisConfig, url_source: Callable[[], str] | None = None) -> None:
        self.config = config
        self.url_source = url_source
        self.client: AnyRedis | None = None
        self.url = ""

    async def start(self) -> None:
        config = self.config
        tls: dict[str, Any] = {}
        if config.uses_tls:
            tls = {
                "ssl_ca_certs": config.tls_ca or None,
                "ssl_certfile": config.tls_cert or None,
                "ssl_keyfile": config.tls_key or None,
            }
        if config.cluster_nodes:
            nodes = [ClusterNode(*split_listen(node)) for node in config.cluster_nodes]
            self.client = redis.asyncio.cluster.RedisCluster(
                startup_nodes=nodes,
                password=config.password or None,
                ssl=config.uses_tls,
                **tls,
            )
            where = "cluster " + ",".join(config.cluster_nodes)
        else:
            self.url = self.url_source() if self.url_source else config.url
            if not self.url.startswith("rediss://"):
                tls = {}
            self.client = redis.asyncio.Redis.from_url(self.url, **tls)
            where = redact(self.url)
        try:
            info = await self.client.info("server")
        except (redis.RedisError, OSError) as exc:
            await self.stop()
            raise StartupError(f"cannot reach redis at {where}: {exc}") from exc
        version = info.get("redis_version") if isinstance(info, dict) else None
        log.info("connected target=%s redis_version=%s", where, version)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None


def redact(url: str) -> str:
    """A URL without its password, for logs."""
    if "password=" in url:
        base, _, _ = url.partition("?")
        return base
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
