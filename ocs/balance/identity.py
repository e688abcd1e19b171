"""Identity lookup (MSISDN, IMSI, SIP URI, NAI... -> subscriber locator) with an in-process cache.

The index lives in global keys ``ocs:id:<kind>:<value>``. Lookups are cached in the process;
every change publishes the identity on ``ocs:invalidate`` and each process drops that entry at
once (a subscriber task listens; after a reconnect it clears the whole cache, since it may have
missed messages). A short TTL is the safety net. The cache only routes: status and ownership are
re-checked inside the scripts, so a stale entry can never let a suspended subscriber spend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import hiredis

from ocs.balance import codec
from ocs.balance.client import Address
from ocs.balance.errors import InvalidRequest
from ocs.balance.keys import INVALIDATION_CHANNEL, identity_key, slot_of
from ocs.balance.model import IDENTITY_KINDS, Locator
from ocs.config import split_listen

if TYPE_CHECKING:
    from ocs.balance.engine import Engine, RedisTarget

log = logging.getLogger("ocs.balance")

CACHE_LIMIT = 1_000_000
_pack: Any = hiredis.pack_command


def check_identity(kind: str, value: str, field: str = "identity") -> str:
    if kind not in IDENTITY_KINDS:
        raise InvalidRequest(
            f"{field}.kind", f"must be one of {sorted(IDENTITY_KINDS)}, got {kind!r}"
        )
    codec.check_text(f"{field}.value", value)
    return f"{kind}:{value}"


class IdentityIndex:
    def __init__(self, engine: Engine, target: RedisTarget, ttl_ms: int) -> None:
        self.engine = engine
        self.target = target
        self.ttl = ttl_ms / 1000
        self._cache: dict[str, tuple[Locator | None, float]] = {}
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.invalidations = 0
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.subscribed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def lookup(self, kind: str, value: str) -> Locator | None:
        name = check_identity(kind, value)
        hit = self._cache.get(name)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        key = identity_key(kind, value)
        raw = await self.engine.execute(slot_of(key), "GET", key)
        locator = None
        if raw is not None:
            sub, acct, cust, partition = codec.unpack(raw)
            locator = Locator(sub, acct, cust, partition)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[name] = (locator, now + self.ttl)
        return locator

    def forget(self, name: str) -> None:
        if name == "*":
            self._cache.clear()
        else:
            self._cache.pop(name, None)
        self.invalidations += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_invalidation(self, seen: int) -> None:
        """Until more than ``seen`` invalidations have arrived (tests, tools)."""
        while self.invalidations <= seen:
            await self._changed.wait()

    async def publish(self, names: list[str]) -> None:
        """Tell every process (this one included) that these identities changed."""
        for name in names:
            self.forget(name)
        slot = slot_of(INVALIDATION_CHANNEL)
        await asyncio.gather(
            *(self.engine.execute(slot, "PUBLISH", INVALIDATION_CHANNEL, n) for n in names)
        )

    async def _listen(self) -> None:
        backoff = 0.05
        attempt = 0
        while True:
            try:
                await self._subscribe_once(attempt)
            except (OSError, hiredis.ProtocolError, ValueError) as exc:
                log.warning("identity invalidation feed lost error=%s", exc)
            self.subscribed.clear()
            self._cache.clear()
            attempt += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _subscribe_once(self, attempt: int) -> None:
        """Subscribe on one node (in a cluster, PUBLISH reaches every node: try the seeds in
        turn) and drop cache entries as messages arrive."""
        if self.target.cluster_nodes:
            seeds = self.target.cluster_nodes
            host, port = split_listen(seeds[attempt % len(seeds)])
            address = Address(host=host, port=port, password=self.target.password)
        else:
            address = Address.from_url(self.target.url)
        if address.unix_path:
            reader, writer = await asyncio.open_unix_connection(address.unix_path)
        else:
            reader, writer = await asyncio.open_connection(address.host, address.port)
        try:
            parser = hiredis.Reader()
            if address.password:
                auth: tuple[Any, ...] = ("AUTH", address.password)
                if address.username:
                    auth = ("AUTH", address.username, address.password)
                writer.write(_pack(auth))
            writer.write(_pack(("SUBSCRIBE", INVALIDATION_CHANNEL)))
            while True:
                data = await reader.read(65536)
                if not data:
                    raise OSError("connection closed")
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    if isinstance(reply, hiredis.ReplyError):
                        raise OSError(f"subscribe refused: {reply}")
                    if isinstance(reply, list) and reply[0] == b"subscribe":
                        self._cache.clear()
                        self.subscribed.set()
                    elif isinstance(reply, list) and reply[0] == b"message":
                        self.forget(reply[2].decode())
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
