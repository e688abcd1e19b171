"""Request records of Nchf sessions in Redis: retransmissions, request numbers, notifyUri.

The balance engine is idempotent by (session id, request number): a repeat of the last
request number replays the stored reply, a lower one is OUT_OF_SEQUENCE. Nchf has no
request number, only ``invocationSequenceNumber``, and free5GC's SMF sends 0 on every
request. So ocs numbers the requests of a ChargingDataRef itself, in one hash per
resource (``ocs:nchf:{<ref>}``, one slot in Redis Cluster):

* a request's *digest* is a hash of its canonical JSON without ``retransmissionIndicator``
  (so it covers the sequence number and the whole content);
* ``claim`` looks the digest up: a known digest is a retransmission and gets its request
  number back, with the stored answer once there is one; an unknown digest gets the next
  number (``HINCRBY``), atomically, so two copies of one request racing on two instances
  get the same number and the engine charges once;
* ``answer`` stores the answer sent for a number (status, body, Location), so a
  retransmission after a crash, a failover or a release is answered identically.

Records of the last ``KEEP`` requests are kept; the hash expires ``ttl`` after its last
request (after a release: the balance engine's tombstone time).

Also kept: the consumer's ``notifyUri`` and the rating groups waiting for money (answered
QUOTA_LIMIT_REACHED or given their final units), which a top-up's REAUTHORIZATION names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from ocs.balance.errors import ScriptFailed
from ocs.balance.keys import slot_of
from ocs.balance.store import BalanceStore

KEEP = 8
"""Requests of a resource whose answers are kept for retransmissions."""

_CLAIM = """
local key, digest, ttl, keep, create = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local n = redis.call('HGET', key, 'd:' .. digest)
if n then
  return { tonumber(n), redis.call('HGET', key, 'a:' .. n) or false }
end
if create ~= '1' and redis.call('EXISTS', key) == 0 then return { -1, false } end
n = redis.call('HINCRBY', key, 'n', 1)
redis.call('HSET', key, 'd:' .. digest, n, 'r:' .. n, digest)
if ARGV[5] ~= '' then redis.call('HSET', key, 'u', ARGV[5]) end
local old = n - keep
if old > 0 then
  local d = redis.call('HGET', key, 'r:' .. old)
  if d then redis.call('HDEL', key, 'd:' .. d, 'r:' .. old, 'a:' .. old) end
end
redis.call('PEXPIRE', key, ttl)
return { n, false }
"""

_ANSWER = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'a:' .. ARGV[1], ARGV[2])
local waiting = {}
for rg in string.gmatch(redis.call('HGET', key, 'w') or '', '[^,]+') do waiting[rg] = true end
for rg in string.gmatch(ARGV[4], '[^,]+') do waiting[rg] = nil end
for rg in string.gmatch(ARGV[3], '[^,]+') do waiting[rg] = true end
local list = {}
for rg in pairs(waiting) do list[#list + 1] = rg end
table.sort(list)
redis.call('HSET', key, 'w', table.concat(list, ','))
redis.call('PEXPIRE', key, ARGV[5])
return 1
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """An answer as it was sent."""

    status: int
    body: bytes
    location: str = ""


@dataclass(frozen=True, slots=True)
class Claim:
    request_number: int
    """-1: no such resource (an update or release of an unknown ChargingDataRef)."""
    stored: Stored | None
    """The answer of an earlier copy of this request, when there was one."""

    @property
    def retransmission(self) -> bool:
        return self.stored is not None


def digest(body: Mapping[str, Any]) -> str:
    """The content of a request, less its retransmission flag, as 32 hex digits."""
    content = {k: v for k, v in body.items() if k != "retransmissionIndicator"}
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def record_key(ref: str) -> str:
    return f"ocs:nchf:{{{ref}}}"


class _Script:
    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


class RequestRecords:
    def __init__(self, store: BalanceStore, ttl_ms: int, released_ttl_ms: int) -> None:
        self.store = store
        self.ttl_ms = ttl_ms
        self.released_ttl_ms = released_ttl_ms
        self._claim = _Script(_CLAIM)
        self._answer = _Script(_ANSWER)

    async def _run(self, script: _Script, key: str, *args: str | bytes | int) -> Any:
        slot = slot_of(key)
        try:
            return await self.store.execute(slot, "EVALSHA", script.sha, 1, key, *args)
        except ScriptFailed as exc:
            if "NOSCRIPT" not in str(exc):
                raise
            return await self.store.execute(slot, "EVAL", script.text, 1, key, *args)

    async def claim(self, ref: str, request_digest: str, *, create: bool, notify_uri: str) -> Claim:
        number, raw = await self._run(
            self._claim,
            record_key(ref),
            request_digest,
            self.ttl_ms,
            KEEP,
            "1" if create else "0",
            notify_uri,
        )
        stored = None
        if raw:
            status, body, location = msgpack.unpackb(raw)
            stored = Stored(status, body, location)
        return Claim(int(number), stored)

    async def answer(
        self,
        ref: str,
        request_number: int,
        stored: Stored,
        *,
        waiting: list[int],
        granted: list[int],
        released: bool,
    ) -> None:
        packed = msgpack.packb([stored.status, stored.body, stored.location])
        await self._run(
            self._answer,
            record_key(ref),
            request_number,
            packed,
            ",".join(map(str, waiting)),
            ",".join(map(str, granted)),
            self.released_ttl_ms if released else self.ttl_ms,
        )

    async def notification_target(self, ref: str) -> tuple[str, list[int]]:
        """(notifyUri, rating groups waiting for money) of a resource ("" when none)."""
        key = record_key(ref)
        uri, waiting = await self.store.execute(slot_of(key), "HMGET", key, "u", "w")
        groups = [int(rg) for rg in (waiting or b"").decode().split(",") if rg]
        return (uri or b"").decode(), groups

    async def first_claim(self, ref: str, kind: str, window_ms: int) -> bool:
        """True for the one process (of every instance) that sends this notification: all of
        them hear the signal, the first to claim it within ``window_ms`` sends it."""
        key = f"{record_key(ref)}:notify:{kind}"
        return bool(await self.store.execute(slot_of(key), "SET", key, "1", "NX", "PX", window_ms))


__all__ = ["KEEP", "Claim", "RequestRecords", "Stored", "digest", "record_key"]
