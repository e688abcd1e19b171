"""Benchmark: charge events per second from the partition streams into the ledger.

Makes ``--events`` real events with the balance engine (CCR-I/U/T sessions on a private
redis-server), then, for each batch size, resets the ``billing`` group to the start of every
stream and drains everything through the bridge into a fresh ledger: XREADGROUP, decode, one
transaction per pass (executemany), XACK. In the same run, the reference: the same reads and
acknowledgements with no ledger at all (what Redis and the client alone allow), so the ratio
says what the ledger costs. Run with ``make bench-billing``; ``--postgres DSN`` also measures
a PostgreSQL ledger (an empty database).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

import psycopg
import uvloop

from ocs.balance.engine import BILLING_GROUP, RedisTarget
from ocs.balance.model import Identity, RequestType, Segment, SessionItem, SessionOp, Tariff, Unit
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.consumer import Bridge
from ocs.billing_bridge.ledger import Ledger
from ocs.config import BalanceConfig, BillingConfig
from ocs.redis_server import RedisServer

NOW = 1_790_000_000_000
TARIFF = Tariff(Unit.OCTETS, (Segment(0, 1_000_000, 1),))
PARTITIONS = 64


async def make_events(store: BalanceStore, sessions: int, subscribers: int = 200) -> None:
    for who in range(subscribers):
        await store.create_customer(f"c{who}", f"C{who}", now_ms=NOW)
        await store.create_account(
            f"a{who}", f"A{who}", f"C{who}", currency="EUR", now_ms=NOW, opening_balance=10**12
        )
        await store.create_subscriber(
            f"s{who}", f"S{who}", f"A{who}", identities=[Identity("e164", f"49{who}")], now_ms=NOW
        )
    kinds = (RequestType.INITIAL, RequestType.UPDATE, RequestType.TERMINATE)
    for start in range(0, sessions, 500):
        for rn, kind in enumerate(kinds):
            ops = []
            for n in range(start, min(start + 500, sessions)):
                who = n % subscribers
                item = SessionItem(100, None, 400_000 * rn, 1_000_000, TARIFF, 600_000, 30_000)
                ops.append(
                    SessionOp(
                        f"sess-{n}",
                        rn,
                        kind,
                        store.partition_of(f"C{who}"),
                        f"C{who}",
                        f"A{who}",
                        f"S{who}",
                        NOW + rn,
                        (item,),
                        "pgw",
                        "bench",
                        {"visited_network": "00101"},
                    )
                )
            await asyncio.gather(*(store.session(op) for op in ops))


async def reset_group(store: BalanceStore) -> int:
    total = 0
    for p in store.keys:
        await store.execute(p.slot, "XGROUP", "SETID", p.stream, BILLING_GROUP, "0")
        total += int(await store.execute(p.slot, "XLEN", p.stream))
    # forget the previous run's consumers (their pending entries would be re-read)
    for p in store.keys:
        for row in await store.execute(p.slot, "XINFO", "CONSUMERS", p.stream, BILLING_GROUP):
            fields = dict(zip(row[::2], row[1::2], strict=True))
            await store.execute(
                p.slot, "XGROUP", "DELCONSUMER", p.stream, BILLING_GROUP, fields[b"name"]
            )
    return total


async def reads_only(store: BalanceStore, batch: int) -> int:
    """The reference: read and acknowledge every entry, no decoding, no ledger."""
    read = 0
    while True:
        replies = await asyncio.gather(
            *(
                store.execute(
                    p.slot,
                    "XREADGROUP",
                    "GROUP",
                    BILLING_GROUP,
                    "ref",
                    "COUNT",
                    batch,
                    "STREAMS",
                    p.stream,
                    ">",
                )
                for p in store.keys
            )
        )
        acks = []
        for p, reply in zip(store.keys, replies, strict=True):
            if reply:
                ids = [e[0] for e in reply[0][1]]
                read += len(ids)
                acks.append(store.execute(p.slot, "XACK", p.stream, BILLING_GROUP, *ids))
        if not acks:
            return read
        await asyncio.gather(*acks)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="ocs-bench-billing-") as tmp:
        server = RedisServer(
            Path(tmp) / "redis", password=secrets.token_urlsafe(12), appendonly=False
        )
        server.start()
        store = BalanceStore(RedisTarget(url=server.url), BalanceConfig(), PARTITIONS)
        await store.start()
        try:
            started = time.perf_counter()
            await make_events(store, args.events // 3)
            total = await reset_group(store)
            print(
                f"made {total} events in {time.perf_counter() - started:.1f} s "
                f"({PARTITIONS} partitions)"
            )
            await reset_group(store)
            t0 = time.perf_counter()
            assert await reads_only(store, 500) == total
            ref = total / (time.perf_counter() - t0)
            print(f"reference (XREADGROUP + XACK, no ledger, COUNT 500): {ref:,.0f} entries/s")
            targets = [("sqlite", "")] + ([("postgresql", args.postgres)] if args.postgres else [])
            for backend, dsn in targets:
                for batch in args.batch:
                    await reset_group(store)
                    if dsn:
                        with psycopg.connect(dsn, autocommit=True) as conn:
                            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                    path = Path(tmp) / f"ledger-{batch}.db"
                    ledger = Ledger(dsn, None if dsn else path).open()
                    bridge = Bridge(
                        store.engine, ledger, BillingConfig(batch_size=batch), f"b{batch}"
                    )
                    t0 = time.perf_counter()
                    ingested = await bridge.drain()
                    elapsed = time.perf_counter() - t0
                    assert ingested == total
                    (stored,) = ledger.query("SELECT COUNT(*) FROM events")[0]
                    assert stored == total, (stored, total)
                    ledger.close()
                    rate = total / elapsed
                    print(
                        f"billing: {backend} ledger, batch {batch}: {rate:,.0f} events/s "
                        f"({elapsed:.2f} s), ratio to reference {rate / ref:.2f}"
                    )
        finally:
            await store.stop()
            server.stop()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--postgres", default="", help="DSN of an empty PostgreSQL database")
    uvloop.run(main(parser.parse_args()))


if __name__ == "__main__":
    run()
