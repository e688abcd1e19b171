"""Expiry: reservations past validity + grace are released exactly once, by any number of
sweepers, using the clock passed in."""

from __future__ import annotations

import asyncio

from ocs.balance import expiry
from ocs.balance.events import EventType, read_partition
from ocs.balance.model import Outcome, RequestType, SessionItem
from ocs.balance.store import BalanceStore
from ocs.balance.sweeper import Sweeper
from tests.balance.helpers import NOW, account, ccr, item, make_subscriber, ok


async def test_expired_reservations_are_released_once_by_concurrent_sweepers(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4919001", opening=10_000)
    for n in range(20):
        ok(
            await ccr(
                store,
                ids,
                f"s{n}",
                0,
                RequestType.INITIAL,
                [item(requested=100_000, validity_ms=60_000, grace_ms=n * 100)],
            )
        )
    assert (await account(store, ids[1])).bucket("money").reserved == 2000  # type: ignore[union-attr]
    others = [BalanceStore(store.target, store.config, store.partitions) for _ in range(3)]
    for other in others:
        await other.start()
    p = store.partition_of(ids[0])
    try:
        assert (await expiry.sweep(store, p, NOW + 60_000 - 1)).sessions_released == 0
        reports = await asyncio.gather(
            *(expiry.sweep(s, p, NOW + 61_000) for s in [store, *others])
        )
        assert sum(r.sessions_released for r in reports) == 11  # grace 0..1000 ms are due
        reports = await asyncio.gather(
            *(expiry.sweep(s, p, NOW + 70_000) for s in [store, *others])
        )
        assert sum(r.sessions_released for r in reports) == 9
    finally:
        for other in others:
            await other.stop()
    acct = await account(store, ids[1])
    assert (acct.money, acct.bucket("money").reserved) == (10_000, 0)  # type: ignore[union-attr]
    expired = [e for e in await read_partition(store, p) if e.type is EventType.SESSION_EXPIRED]
    assert sorted(e.data["sess"] for e in expired) == sorted(f"s{n}" for n in range(20))
    assert await store.live_sessions(ids[1]) == []
    late = await ccr(store, ids, "s1", 1, RequestType.UPDATE, [item(used=1)], now=NOW + 80_000)
    assert late.outcome is Outcome.UNKNOWN_SESSION


async def test_an_update_moves_the_expiry_so_the_sweeper_leaves_the_session(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4919002", opening=1000)
    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    ok(
        await ccr(
            store,
            ids,
            "s",
            1,
            RequestType.UPDATE,
            [item(used=1000, requested=10_000)],
            now=NOW + 50_000,
        )
    )
    p = store.partition_of(ids[0])
    assert (await expiry.sweep(store, p, NOW + 70_000)).sessions_released == 0
    assert (await expiry.sweep(store, p, NOW + 115_000)).sessions_released == 1


async def test_sweeper_subsystem_runs_on_its_timer_with_the_injected_clock(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4919003", opening=1000)
    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    clock = [NOW]
    sweeper = Sweeper(
        store, store.config.model_copy(update={"sweep_interval_ms": 10}), clock=lambda: clock[0]
    )
    await sweeper.start()
    try:
        clock[0] = NOW + 3_600_000
        async with asyncio.timeout(10):
            while (await account(store, ids[1])).bucket("money").reserved:  # type: ignore[union-attr]
                sweeper.swept.clear()
                await sweeper.swept.wait()
    finally:
        await sweeper.stop()
    assert (await account(store, ids[1])).money == 1000


async def test_the_expiry_index_lags_behind_small_moves_but_never_past_the_expiry(
    store: BalanceStore,
) -> None:
    """session.lua writes the expiry-index score only when the expiry comes earlier, or moves
    later by more than the time left until the score is due; the sweeper moves an early score
    up without releasing anything; the session is released at its real expiry."""
    ids = await make_subscriber(store, "4919004", opening=1000)
    p = store.partition_of(ids[0])
    keys = store.keys[p]

    async def score() -> int:
        return int(await store.execute(keys.slot, "ZSCORE", keys.reservation_expiry, "s"))

    async def expires() -> int:
        view = await store.get_session("s", p)
        assert view is not None
        return view.expires_ms

    def update() -> SessionItem:
        return item(used=1000, requested=10_000)

    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    assert await score() == await expires() == NOW + 65_000
    # 10 s later: the expiry moves 10 s, 55 s are left until the score is due: no write
    ok(await ccr(store, ids, "s", 1, RequestType.UPDATE, [update()], now=NOW + 10_000))
    assert (await score(), await expires()) == (NOW + 65_000, NOW + 75_000)
    # the early score comes due: the sweeper looks, releases nothing, moves the score up
    assert (await expiry.sweep(store, p, NOW + 65_000)).sessions_released == 0
    assert await score() == NOW + 75_000
    assert (await account(store, ids[1])).bucket("money").reserved == 10  # type: ignore[union-attr]
    # a move by more than the time left is written
    ok(await ccr(store, ids, "s", 2, RequestType.UPDATE, [update()], now=NOW + 50_000))
    assert await score() == await expires() == NOW + 115_000
    # an expiry that comes earlier (a shorter validity) is written at once
    short = [item(used=1000, requested=10_000, validity_ms=1_000)]
    ok(await ccr(store, ids, "s", 3, RequestType.UPDATE, short, now=NOW + 51_000))
    assert await score() == await expires() == NOW + 57_000
    assert (await expiry.sweep(store, p, NOW + 56_999)).sessions_released == 0
    assert (await expiry.sweep(store, p, NOW + 57_000)).sessions_released == 1
    acct = await account(store, ids[1])
    assert (acct.money, acct.bucket("money").reserved) == (997, 0)  # type: ignore[union-attr]


async def test_live_sessions_show_the_current_expiry_while_the_entry_is_written_on_changes(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4919005", opening=1000)
    p = store.keys[store.partition_of(ids[0])]
    ok(await ccr(store, ids, "s", 0, RequestType.INITIAL, [item(requested=10_000)]))
    entry = await store.execute(p.slot, "HGET", p.live(ids[1]), "s")
    ok(await ccr(store, ids, "s", 1, RequestType.UPDATE, [item(requested=10_000)], now=NOW + 7))
    assert await store.execute(p.slot, "HGET", p.live(ids[1]), "s") == entry  # same state
    [live] = await store.live_sessions(ids[1])
    assert (live.state, live.expires_ms) == ("ok", NOW + 7 + 65_000)
    ok(await ccr(store, ids, "s", 2, RequestType.UPDATE, [item(requested=10**9)], now=NOW + 9))
    [live] = await store.live_sessions(ids[1])
    assert (live.state, live.expires_ms) == ("final", NOW + 9 + 65_000)
