"""The engine's plumbing: the scripts, calls with their retries, routing caches.

``Engine`` is one part of :class:`ocs.balance.store.BalanceStore` (with
:class:`~ocs.balance.provisioning.Provisioning`); it owns the executor (:mod:`ocs.balance.target`:
one batching connection, or one per cluster master), starts it, checks the partition count
against ``ocs:meta`` and creates the ``billing`` consumer group on every partition stream.

Durability (``[balance] durability``): with ``replicated`` every script call is answered only
once its write reached ``replicas`` replicas (a WAIT after each batch, see
:mod:`ocs.balance.client`); with ``fsync`` an external server's ``appendfsync`` is checked at
start. The health monitor (:mod:`ocs.balance.health`) pings every master several times a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from prometheus_client import Counter

from ocs import tally
from ocs.balance import codec
from ocs.balance.client import ReplicationTimeout, ReplyError
from ocs.balance.errors import BalanceUnavailable, InvalidRequest, ScriptFailed
from ocs.balance.health import BalanceHealth
from ocs.balance.identity import IdentityIndex
from ocs.balance.keys import (
    META,
    PartitionKeys,
    account_locator_key,
    partition_of,
    slot_of,
    subscriber_locator_key,
)
from ocs.balance.pubsub import PubSub
from ocs.balance.scripts import load_scripts
from ocs.balance.target import Executor, RedisTarget
from ocs.config import BalanceConfig, RedisConfig
from ocs.errors import StartupError

__all__ = ["BILLING_GROUP", "Engine", "Executor", "RedisTarget"]

log = logging.getLogger("ocs.balance")

CALLS = Counter(
    "ocs_balance_script_calls", "Balance script calls by script and outcome.", ["script", "outcome"]
)
UNAVAILABLE = Counter(
    "ocs_balance_unavailable",
    "Balance calls that found Redis unreachable or whose write missed its replicas "
    "(before retrying), by reason.",
    ["reason"],
)
UNREACHABLE = UNAVAILABLE.labels("unreachable")
NOT_REPLICATED = UNAVAILABLE.labels("not_replicated")


TRANSIENT_ERRORS = (
    "LOADING",
    "BUSY",
    "MASTERDOWN",
    "READONLY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "UNBLOCKED",
)
"""Error replies of a server that is (re)starting, failing over or running a long script: the
command did not run."""


DURABLE_COMMANDS = frozenset({"SET", "DEL", "HSET", "HSETNX"})
"""Plain writes that wait for the replicas with ``durability = replicated``, like the scripts:
session, account and subscriber locators and identities must not vanish in a failover while
the charges that need them survive."""


def fence_for(key: str) -> str:
    """A key in the same slot as ``key`` for the fence write of its WAIT (ocs's keys carry a
    hash tag, or no brace at all)."""
    start = key.find("{")
    if start == -1:
        return f"ocs:fence:{{{key}}}"
    end = key.find("}", start + 1)
    if end <= start + 1:
        raise ValueError(f"no fence for key {key!r}: a brace but no hash tag")
    return f"ocs:fence:{key[start : end + 1]}"


def transient(error: ReplyError) -> bool:
    return str(error).split(" ", 1)[0] in TRANSIENT_ERRORS


def count(script: str, outcome: str) -> None:
    tally.counter(CALLS, script, outcome).total += 1


BILLING_GROUP = "billing"
ROUTE_CACHE_LIMIT = 200_000


class Engine:
    name = "balance"

    def __init__(
        self,
        target: RedisTarget | Callable[[], RedisTarget],
        config: BalanceConfig,
        partitions: int,
        redis: RedisConfig | None = None,
    ) -> None:
        self.target = target
        self.config = config
        redis = redis or RedisConfig()
        self.health = BalanceHealth(
            lambda: self.executor,
            interval=redis.health_interval_ms / 1000,
            ping_timeout=redis.health_timeout_ms / 1000,
            stuck_after=(redis.command_timeout_ms + config.replication_timeout_ms) / 1000,
        )
        self._durable = False
        self.partitions = partitions
        self.scripts = load_scripts()
        self.keys = [PartitionKeys(p) for p in range(partitions)]
        self._exec: Executor | None = None
        self.pubsub = PubSub()
        self.identities = IdentityIndex(self.execute, self.pubsub, config.identity_cache_ttl_ms)
        self._accounts: dict[str, tuple[str, int]] = {}
        self.parents: dict[str, str] = {}
        self.routes: dict[str, tuple[str, str, str]] = {}
        self.ttl_ms = config.idempotency_ttl_s * 1000

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        target = self.target() if callable(self.target) else self.target
        try:
            self._exec = target.executor()
        except ValueError as exc:
            raise StartupError(f"balance: {exc}") from exc
        try:
            await self._exec.start()
            await self._check_partitions()
            await asyncio.gather(*(self._create_group(p) for p in self.keys))
            await self.load_scripts()
            await self._check_durability(target)
        except (BalanceUnavailable, ReplyError) as exc:
            await self._exec.close()
            self._exec = None
            raise StartupError(f"balance: cannot use redis: {exc}") from exc
        except BaseException:
            await self._exec.close()
            self._exec = None
            raise
        self._durable = target.replication is not None
        await self.pubsub.start(target)
        self.health.start()
        where = ",".join(target.cluster_nodes) or "single node"
        log.info(
            "balance engine started partitions=%d redis=%s tls=%s durability=%s",
            self.partitions,
            where,
            target.tls is not None,
            self.config.durability,
        )

    async def stop(self) -> None:
        await self.health.stop()
        await self.pubsub.stop()
        if self._exec is not None:
            await self._exec.close()
            self._exec = None

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script on every master, so the first calls find them cached
        (NOSCRIPT is still handled: a restart or failover empties the cache)."""
        await asyncio.gather(
            *(
                node.execute("SCRIPT", "LOAD", script.text)
                for node in self.executor.nodes()
                for script in self.scripts.values()
            )
        )

    async def _check_durability(self, target: RedisTarget) -> None:
        """Say at start what the chosen durability will not get from this Redis."""
        durability = self.config.durability
        for node in self.executor.nodes():
            if durability == "fsync":
                try:
                    reply = await node.execute("CONFIG", "GET", "appendfsync")
                except ReplyError:  # CONFIG renamed or forbidden: the operator's business
                    continue
                setting = reply[1].decode() if len(reply) > 1 else "?"
                if setting != "always":
                    log.warning(
                        "durability=fsync but redis %s has appendfsync %s: set appendfsync "
                        "always (and appendonly yes) there",
                        node.address.name,
                        setting,
                    )
            elif durability == "replicated":
                info = (await node.execute("INFO", "replication")).decode()
                fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
                have = int(fields.get("connected_slaves", "0"))
                if have < self.config.replicas:
                    log.warning(
                        "durability=replicated needs %d replica(s) but redis %s has %d: "
                        "its writes will be answered 3004/UNAVAILABLE until they connect",
                        self.config.replicas,
                        node.address.name,
                        have,
                    )

    async def _check_partitions(self) -> None:
        slot = slot_of(META)
        await self.execute(slot, "HSETNX", META, "partitions", self.partitions)
        stored = int(await self.execute(slot, "HGET", META, "partitions"))
        if stored != self.partitions:
            raise StartupError(
                f"balance: redis holds data for {stored} partitions but {self.partitions} are "
                f"configured (redis.partitions); the partition count cannot change"
            )

    async def _create_group(self, p: PartitionKeys) -> None:
        try:
            await self.execute(p.slot, "XGROUP", "CREATE", p.stream, BILLING_GROUP, "0", "MKSTREAM")
        except ScriptFailed as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- calls ------------------------------------------------------------------------------

    @property
    def executor(self) -> Executor:
        if self._exec is None:
            raise BalanceUnavailable("the balance engine is not started")
        return self._exec

    def _fail_fast(self, executor: Executor, slot: int) -> None:
        """While the health monitor finds the slot's master unreachable, do not wait on it."""
        name = executor.node_for_slot(slot).address.name
        if name in self.health.down:
            UNREACHABLE.inc()
            raise BalanceUnavailable(f"redis {name} is unreachable ({self.health.error})")

    async def execute(self, slot: int, *args: Any) -> Any:
        """One plain command, retried on a dropped connection (only idempotent commands)."""
        attempt = 0
        while True:
            if not self.health.up:
                self._fail_fast(self.executor, slot)
            try:
                if self._durable and args[0] in DURABLE_COMMANDS:
                    return await self.executor.execute_durable(slot, fence_for(args[1]), *args)
                return await self.executor.execute(slot, *args)
            except ReplicationTimeout:
                NOT_REPLICATED.inc()
                raise
            except BalanceUnavailable:
                UNREACHABLE.inc()
                attempt += 1
                if attempt > self.config.retries:
                    raise
                await asyncio.sleep(0.05 * attempt)
            except ReplyError as exc:
                if transient(exc):
                    raise BalanceUnavailable(f"{args[0]}: {exc}") from exc
                raise ScriptFailed(f"{args[0]}: {exc}") from exc

    async def script(
        self, name: str, p: PartitionKeys, keys: Sequence[str], request: dict[str, Any]
    ) -> dict[str, Any]:
        """Run an operation script with a msgpack request; its answer, unpacked and counted."""
        result: dict[str, Any] = codec.unpack(await self.call(name, p, keys, codec.pack(request)))
        count(name, result.get("outcome", "OK"))
        return result

    async def call(self, name: str, p: PartitionKeys, keys: Sequence[str], *args: bytes) -> Any:
        """Run an operation script, its raw reply; a dropped connection is retried with the same
        request (every mutating request carries its operation id, so a repeat changes nothing)."""
        script = self.scripts[name]
        attempt = 0
        while True:
            executor = self.executor
            if not self.health.up:
                self._fail_fast(executor, p.slot)
            if self._durable:
                fence = p.prefix + "fence"
                execute: Callable[..., Awaitable[Any]] = partial(
                    executor.execute_durable, p.slot, fence
                )
            else:
                execute = partial(executor.execute, p.slot)
            try:
                try:
                    reply = await execute("EVALSHA", script.sha, len(keys), *keys, *args)
                except ReplyError as exc:
                    if transient(exc):  # not run: retried below like a dropped connection
                        raise BalanceUnavailable(f"script {name}: {exc}") from exc
                    # a restart, failover or SCRIPT FLUSH emptied the node's script cache
                    if not str(exc).startswith("NOSCRIPT"):
                        raise
                    reply = await execute("EVAL", script.text, len(keys), *keys, *args)
            except ReplicationTimeout:
                NOT_REPLICATED.inc()
                raise  # its retransmission gets the stored answer once it is replicated
            except BalanceUnavailable:
                UNREACHABLE.inc()
                attempt += 1
                if attempt > self.config.retries:
                    raise
                await asyncio.sleep(0.05 * attempt)
                continue
            except ReplyError as exc:
                if transient(exc):  # not run: retrying is safe, and the caller may fail over
                    UNREACHABLE.inc()
                    raise BalanceUnavailable(f"script {name}: {exc}") from exc
                log.error("balance script failed script=%s error=%s", name, exc)
                raise ScriptFailed(f"script {name}: {exc}") from exc
            return reply

    # -- routing ----------------------------------------------------------------------------

    def partition(self, partition: int) -> PartitionKeys:
        if not isinstance(partition, int) or not 0 <= partition < self.partitions:
            raise InvalidRequest("partition", f"must be in [0, {self.partitions})")
        return self.keys[partition]

    def partition_of(self, customer_id: str) -> int:
        return partition_of(customer_id, self.partitions)

    async def locate_account(self, account_id: str) -> tuple[str, int] | None:
        """(customer id, partition) of an account; cached for good (it never moves)."""
        found = self._accounts.get(account_id)
        if found is not None:
            return found
        key = account_locator_key(account_id)
        raw = await self.execute(slot_of(key), "GET", key)
        if raw is None:
            return None
        customer_id, partition = codec.unpack(raw)
        self._accounts[account_id] = (customer_id, partition)
        return customer_id, partition

    async def locate_subscriber(self, subscriber_id: str) -> tuple[str, str, int] | None:
        """(account id, customer id, partition) of a subscriber."""
        key = subscriber_locator_key(subscriber_id)
        raw = await self.execute(slot_of(key), "GET", key)
        if raw is None:
            return None
        account_id, customer_id, partition = codec.unpack(raw)
        return account_id, customer_id, partition

    async def account_keys(self, account_id: str) -> tuple[PartitionKeys, str] | None:
        """The partition of an account and its parent (as cached; scripts check it: STALE)."""
        found = await self.locate_account(codec.check_text("account_id", account_id))
        if found is None:
            return None
        return self.keys[found[1]], self.parents.get(account_id, "")

    def remember_parent(self, account_id: str, parent_id: str) -> None:
        self.parents[account_id] = parent_id

    def remember_route(self, session_id: str, route: tuple[str, str, str] | None) -> None:
        if route is None:
            self.routes.pop(session_id, None)
            return
        if len(self.routes) >= ROUTE_CACHE_LIMIT:
            self.routes.clear()
        self.routes[session_id] = route
