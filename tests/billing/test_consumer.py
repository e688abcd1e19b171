"""The bridge: every event in the ledger exactly once, across crashes, claims and two bridges."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.consumer import Bridge, group_lag
from ocs.billing_bridge.ledger import Ledger
from ocs.config import BalanceConfig, BillingConfig
from tests.billing import workers
from tests.billing.conftest import PARTITIONS
from tests.billing.traffic import make_traffic, pending, stream_events


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def ledger_ids(ledger: Ledger) -> list[str]:
    return [r[0] for r in ledger.query("SELECT event_id FROM events")]


async def assert_exactly_once(store: BalanceStore, ledger: Ledger) -> None:
    expected = sorted(e.id for e in await stream_events(store))
    assert sorted(ledger_ids(ledger)) == expected
    assert await pending(store) == 0


async def test_every_event_reaches_the_ledger_once_and_is_acknowledged(
    store: BalanceStore, ledger: Ledger
) -> None:
    before = metric("ocs_billing_events_ingested_total")
    await make_traffic(store)
    bridge = Bridge(store, ledger, BillingConfig(batch_size=10), "b1")
    total = await bridge.drain()
    events = await stream_events(store)
    assert total == len(events) > 40
    await assert_exactly_once(store, ledger)
    assert metric("ocs_billing_events_ingested_total") - before == len(events)
    charges = ledger.query("SELECT SUM(used), SUM(money) FROM charges WHERE unit = 'octets'")
    assert charges == [(4 * 3 * 6500 + 4, 4 * 3 * 7 + 4)]  # sessions + one SMS-sized debit each
    lags = await bridge.refresh_lag()
    assert set(lags.values()) == {(0.0, 0)}
    await make_traffic(
        store, subscribers=1, sessions=1, first=50
    )  # nothing re-read, the new ones read
    assert await bridge.drain() == len(await stream_events(store)) - len(events)


async def test_lag_is_reported_per_partition_until_the_bridge_catches_up(
    store: BalanceStore, ledger: Ledger
) -> None:
    await make_traffic(store, subscribers=2, sessions=1)
    busy = {p for p in range(PARTITIONS) if (await group_lag(store, p)) != (0.0, 0)}
    assert busy  # entries not yet delivered count as lag
    bridge = Bridge(store, ledger, BillingConfig(), "b1")
    await bridge.drain()
    assert all(v == (0.0, 0) for v in (await bridge.refresh_lag()).values())
    assert metric("ocs_billing_pending_entries", {"partition": str(min(busy))}) == 0


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
@pytest.mark.parametrize("restart", ["same_consumer", "other_consumer"])
async def test_a_bridge_killed_around_its_commit_loses_and_doubles_nothing(
    single_target: RedisTarget,
    make_ledger: Callable[[], Ledger],
    ledger_dsn: str,
    tmp_path: Path,
    point: str,
    restart: str,
) -> None:
    store = BalanceStore(single_target, BalanceConfig(), PARTITIONS)
    await store.start()
    try:
        await make_traffic(store)
        path = tmp_path / "state/billing/ledger.db"
        ledger = make_ledger()  # migrated before the child opens it
        process = multiprocessing.get_context("spawn").Process(
            target=workers.bridge_then_die,
            args=(single_target, ledger_dsn, path, PARTITIONS, "b1", point),
        )
        process.start()
        await asyncio.to_thread(process.join, 60)
        assert process.exitcode == -signal.SIGKILL
        stored = len(ledger_ids(ledger))
        assert (stored > 0) is (point == "after_commit")
        assert await pending(store) > 0  # read, never acknowledged
        name = "b1" if restart == "same_consumer" else "b2"
        config = BillingConfig(claim_idle_ms=0)
        await Bridge(store, ledger, config, name).drain()
        await assert_exactly_once(store, ledger)
        assert ledger.query("SELECT COUNT(*) FROM stream_duplicates") == [(0,)]
    finally:
        await store.stop()


async def test_two_bridges_share_the_work_without_duplicates(
    store: BalanceStore, target: RedisTarget, make_ledger: Callable[[], Ledger]
) -> None:
    other = BalanceStore(target, BalanceConfig(), PARTITIONS)
    await other.start()
    config = BillingConfig(batch_size=3, poll_interval_ms=5)
    first = Bridge(store, make_ledger(), config, "b1")
    second = Bridge(other, make_ledger(), config, "b2")
    try:
        await first.start()
        await second.start()
        await make_traffic(store, subscribers=6, sessions=2)  # while both consume
        expected = len(await stream_events(store))
        ledger = make_ledger()
        for _ in range(2000):
            if len(ledger_ids(ledger)) == expected and await pending(store) == 0:
                break
            await asyncio.sleep(0.01)
        await assert_exactly_once(store, ledger)
        per_consumer = {}
        for p in store.keys:
            for row in await store.execute(p.slot, "XINFO", "CONSUMERS", p.stream, "billing"):
                fields = dict(zip(row[::2], row[1::2], strict=True))
                per_consumer.setdefault(fields[b"name"], 0)
        assert set(per_consumer) == {b"b1", b"b2"}
        assert ledger.query("SELECT COUNT(*) FROM stream_duplicates") == [(0,)]
    finally:
        await first.stop()
        await second.stop()
        await other.stop()


async def test_entries_a_dead_consumer_left_pending_are_claimed(
    store: BalanceStore, ledger: Ledger
) -> None:
    await make_traffic(store, subscribers=2, sessions=1)
    for p in store.keys:  # a consumer that read everything and died
        await store.execute(
            p.slot, "XREADGROUP", "GROUP", "billing", "dead", "STREAMS", p.stream, ">"
        )
    stuck = await pending(store)
    before = metric("ocs_billing_claimed_entries_total")
    patient = Bridge(store, ledger, BillingConfig(claim_idle_ms=3_600_000), "b1")
    assert await patient.drain() == 0  # not idle long enough: left alone
    eager = Bridge(store, ledger, BillingConfig(claim_idle_ms=0, batch_size=2), "b2")
    assert await eager.drain() == stuck
    await assert_exactly_once(store, ledger)
    assert metric("ocs_billing_claimed_entries_total") - before == stuck


async def test_a_pending_entry_deleted_from_the_stream_is_recorded_and_released(
    store: BalanceStore, ledger: Ledger
) -> None:
    await make_traffic(store, subscribers=1, sessions=1)
    p = store.keys[store.partition_of("C-493010000")]
    read = await store.execute(
        p.slot, "XREADGROUP", "GROUP", "billing", "dead", "COUNT", 1, "STREAMS", p.stream, ">"
    )
    deleted = read[0][1][0][0]
    await store.execute(p.slot, "XDEL", p.stream, deleted)
    await Bridge(store, ledger, BillingConfig(claim_idle_ms=0), "b1").drain()
    await assert_exactly_once(store, ledger)
    ms, _, seq = deleted.decode().partition("-")
    assert ledger.query("SELECT partition, stream_ms, stream_seq, reason FROM stream_rejects") == [
        (p.partition, int(ms), int(seq), "deleted before it was ingested")
    ]
