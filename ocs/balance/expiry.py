"""Expiry: releasing the reservations of sessions that went silent, expiring buckets and
trimming event streams, per partition. The sweeper subsystem (``sweeper.py``) runs these on
its timer with its clock; each script is atomic and re-checks what it acts on, so several
processes sweeping at once release each session once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ocs.balance import sessions
from ocs.balance.keys import PartitionKeys
from ocs.balance.store import BalanceStore


@dataclass(frozen=True, slots=True)
class SweepReport:
    sessions_released: int
    buckets_expired: int
    trimmed: int = 0


async def sweep(
    store: BalanceStore, partition: int, now_ms: int, batch: int | None = None
) -> SweepReport:
    """Release the sessions of a partition whose holdings expired, and expire buckets."""
    p = store.partition(partition)
    limit = batch or store.config.sweep_batch
    due, accounts = await asyncio.gather(
        store.execute(
            p.slot, "ZRANGEBYSCORE", p.reservation_expiry, "-inf", now_ms, "LIMIT", 0, limit
        ),
        store.execute(p.slot, "ZRANGEBYSCORE", p.bucket_expiry, "-inf", now_ms, "LIMIT", 0, limit),
    )
    released = await _sweep_sessions(store, p, [s.decode() for s in due], now_ms)
    expired = await asyncio.gather(
        *(
            store.script(
                "expire",
                p,
                [p.account(a.decode()), p.bucket_expiry, p.stream],
                {"acct": a.decode(), "now": now_ms},
            )
            for a in accounts
        )
    )
    return SweepReport(released, sum(r["expired"] for r in expired))


async def _sweep_sessions(
    store: BalanceStore, p: PartitionKeys, sids: list[str], now_ms: int
) -> int:
    if not sids:
        return 0
    records = await store.execute(p.slot, "MGET", *(p.session(s) for s in sids))
    calls = []
    for sid, raw in zip(sids, records, strict=True):
        acct, parent = sessions.session_route(raw)
        keys = [
            p.session(sid),
            p.account(acct),
            p.account(parent or acct),
            p.live(acct),
            p.live(parent or acct),
            p.reservation_expiry,
            p.stream,
        ]
        request = {
            "sid": sid,
            "acct": acct,
            "parent": parent,
            "now": now_ms,
            "tomb_ttl": store.config.session_tombstone_s * 1000,
        }
        calls.append(store.script("sweep", p, keys, request))
    results = await asyncio.gather(*calls)
    for sid, result in zip(sids, results, strict=True):
        if result.get("swept"):
            store.remember_route(sid, None)
    return sum(1 for r in results if r.get("swept"))


async def trim(store: BalanceStore, partition: int, now_ms: int) -> int:
    """Trim the partition's stream to the retention, keeping anything not yet acked."""
    p = store.partition(partition)
    cutoff = max(0, now_ms - store.config.stream_retention_s * 1000)
    raw = await store.script("trim", p, [p.stream], {"cutoff": f"{cutoff}-0"})
    return int(raw["trimmed"])
