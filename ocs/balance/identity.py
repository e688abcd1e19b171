"""Identity lookup (MSISDN, IMSI, SIP URI, NAI... -> subscriber locator) with an in-process cache.

The index lives in global keys ``ocs:id:<kind>:<value>``. Lookups are cached in the process;
every change publishes the identity on ``ocs:invalidate`` and each process drops that entry at
once (through the engine's shared pub/sub connection; after a reconnect the whole cache is
cleared, since messages may have been missed). A short TTL is the safety net. The cache only
routes: status and ownership are re-checked inside the scripts, so a stale entry can never let
a suspended subscriber spend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ocs.balance import codec
from ocs.balance.errors import InvalidRequest
from ocs.balance.keys import INVALIDATION_CHANNEL, identity_key, slot_of
from ocs.balance.model import IDENTITY_KINDS, Locator

if TYPE_CHECKING:
    from ocs.balance.pubsub import PubSub

Execute = Callable[..., Awaitable[Any]]
"""``execute(slot, *command)``: the engine's plain command call."""

CACHE_LIMIT = 1_000_000


def check_identity(kind: str, value: str, field: str = "identity") -> str:
    if kind not in IDENTITY_KINDS:
        raise InvalidRequest(
            f"{field}.kind", f"must be one of {sorted(IDENTITY_KINDS)}, got {kind!r}"
        )
    codec.check_text(f"{field}.value", value)
    return f"{kind}:{value}"


class IdentityIndex:
    def __init__(self, execute: Execute, pubsub: PubSub, ttl_ms: int) -> None:
        self.execute = execute
        self.pubsub = pubsub
        self.ttl = ttl_ms / 1000
        self._cache: dict[str, tuple[Locator | None, float]] = {}
        self.invalidations = 0
        self._changed = asyncio.Event()
        pubsub.listen(INVALIDATION_CHANNEL, self._on_message, self._cache.clear)

    @property
    def subscribed(self) -> asyncio.Event:
        return self.pubsub.subscribed

    def _on_message(self, data: bytes) -> None:
        self.forget(data.decode())

    async def lookup(self, kind: str, value: str) -> Locator | None:
        name = check_identity(kind, value)
        hit = self._cache.get(name)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        key = identity_key(kind, value)
        raw = await self.execute(slot_of(key), "GET", key)
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
            *(self.execute(slot, "PUBLISH", INVALIDATION_CHANNEL, n) for n in names)
        )
