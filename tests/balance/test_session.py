"""Session charging (CCR-I/U/T): selection order, exact commit and release, request numbers."""

from __future__ import annotations

from ocs.balance import expiry
from ocs.balance.events import EventType, read_partition
from ocs.balance.model import (
    Bucket,
    Outcome,
    RequestType,
    Segment,
    SessionItem,
    Status,
    Tariff,
    Unit,
)
from ocs.balance.store import BalanceStore
from tests.balance.helpers import DATA, NOW, VOICE, account, ccr, item, make_subscriber, ok

INI, U, T = RequestType.INITIAL, RequestType.UPDATE, RequestType.TERMINATE


def bucket(
    bid: str,
    balance: int,
    *,
    unit: Unit = Unit.OCTETS,
    priority: int = 10,
    expires: int = 0,
    valid_from: int = 0,
    applies_to: tuple[int, ...] = (),
    thresholds: tuple[int, ...] = (),
) -> Bucket:
    return Bucket(
        bid,
        unit,
        balance,
        priority=priority,
        expires=expires,
        valid_from=valid_from,
        applies_to=applies_to,
        thresholds=thresholds,
        source="offer-1",
    )


async def test_allowances_before_money_by_priority_then_earliest_expiry(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4917001", opening=1000)
    await store.add_buckets(
        "o1",
        ids[1],
        [
            bucket("late", 3000, expires=NOW + 90_000_000),
            bucket("soon", 2000, expires=NOW + 10_000_000),
            bucket("first", 1000, priority=1),
            bucket("gone", 9000, expires=NOW - 1),
            bucket("future", 9000, valid_from=NOW + 1),
            bucket("voice-only", 9000, applies_to=(20,)),
        ],
        now_ms=NOW,
    )
    r = ok(await ccr(store, ids, "s", 0, INI, [item(requested=8000)]))
    got = r.items[0]
    assert (got.granted, got.reserved, got.reserved_money) == (8000, 6000, 2)
    session = await store.get_session("s", store.partition_of(ids[0]))
    assert session is not None
    assert session.holdings[10] == {"first": 1000, "soon": 2000, "late": 3000, "money": 2}
    r = ok(await ccr(store, ids, "s", 1, T, [item(used=6500)]))
    assert r.items[0].charged == {"first": 1000, "soon": 2000, "late": 3000, "money": 1}
    assert (r.items[0].units_from_allowances, r.items[0].money_charged) == (6000, 1)
    acct = await account(store, ids[1])
    assert {b.id: (b.balance, b.reserved) for b in acct.buckets} == {
        "money": (999, 0),
        "first": (0, 0),
        "soon": (0, 0),
        "late": (0, 0),
        "gone": (9000, 0),
        "future": (9000, 0),
        "voice-only": (9000, 0),
    }


async def test_grant_limited_by_money_is_final_and_no_money_is_no_credit(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4917002", opening=25)
    r = ok(await ccr(store, ids, "s", 0, INI, [item(20, requested=600, tariff=VOICE)]))
    assert (r.items[0].granted, r.items[0].final, r.items[0].reserved_money) == (120, True, 20)
    r2 = ok(await ccr(store, ids, "s2", 0, INI, [item(20, requested=600, tariff=VOICE)]))
    assert r2.items[0].outcome is Outcome.NO_CREDIT and r2.items[0].granted == 0
    live = {s.session_id: s for s in await store.live_sessions(ids[1])}
    assert live["s"].state == "final" and live["s2"].state == "blocked"
    assert live["s"].origin_host == "pgw.test"
    top = await store.topup("pay-1", ids[1], 100, "EUR", now_ms=NOW)
    assert top.outcome is Outcome.OK and top.balance == 125
    assert {s.session_id for s in top.sessions} == {"s", "s2"}


async def test_credit_limit_is_the_floor(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917003", opening=10, credit_limit=50)
    r = ok(await ccr(store, ids, "s", 0, INI, [item(requested=1_000_000)]))
    assert r.items[0].granted == 60_000 and r.items[0].final
    r = ok(await ccr(store, ids, "s", 1, U, [item(used=90_000, requested=1000)]))
    # 60 held, 30 more would cross the floor: charged what is there, the rest unpaid
    assert r.items[0].money_charged == 60 and r.items[0].unpaid == 30
    assert r.items[0].outcome is Outcome.NO_CREDIT
    assert (await account(store, ids[1])).money == -50


async def test_request_numbers_replays_and_errors(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917004", opening=1000)
    first = ok(await ccr(store, ids, "s", 0, INI, [item(requested=10_000)]))
    again = await ccr(store, ids, "s", 0, INI, [item(requested=99_000)])
    assert again.replayed and again.items == first.items
    assert (await ccr(store, ids, "s", 5, INI, [item()])).outcome is Outcome.SESSION_EXISTS
    ok(await ccr(store, ids, "s", 1, U, [item(used=1000, requested=10_000)]))
    assert (await ccr(store, ids, "s", 0, U, [item()])).outcome is Outcome.OUT_OF_SEQUENCE
    assert (await ccr(store, ids, "nope", 1, U, [item()])).outcome is Outcome.UNKNOWN_SESSION
    before = await account(store, ids[1])
    assert (await ccr(store, ids, "s", 1, U, [item(used=5000)])).replayed
    assert await account(store, ids[1]) == before


async def test_terminate_releases_every_rating_group_and_update_without_ids_finds_the_session(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4917005", opening=1000)
    ok(
        await ccr(
            store,
            ids,
            "s",
            0,
            INI,
            [item(10, requested=50_000), item(20, requested=120, tariff=VOICE)],
        )
    )
    assert (await account(store, ids[1])).bucket("money").reserved == 70  # type: ignore[union-attr]
    other = BalanceStore(store.target, store.config, store.partitions)
    await other.start()
    try:  # another process: knows the partition (ocs:loc) but not the account
        partition = await other.locate_session("s")
        assert partition == store.partition_of(ids[0])
        r = ok(
            await ccr(other, ("", "", ""), "s", 1, T, [item(10, used=1000)], partition=partition)
        )
        assert r.items[0].money_charged == 1
    finally:
        await other.stop()
    acct = await account(store, ids[1])
    assert acct.money == 999 and acct.bucket("money").reserved == 0  # type: ignore[union-attr]
    assert await store.live_sessions(ids[1]) == []
    assert await store.get_session("s", partition) is None


async def test_suspended_subscriber_commits_usage_but_gets_no_grant(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917006", opening=1000)
    ok(await ccr(store, ids, "s", 0, INI, [item(requested=10_000)]))
    assert (await store.set_subscriber_status("st1", ids[2], Status.SUSPENDED, now_ms=NOW)).ok
    r = ok(await ccr(store, ids, "s", 1, U, [item(used=4000, requested=10_000)]))
    assert r.items[0].outcome is Outcome.DENIED and r.items[0].money_charged == 4
    acct = await account(store, ids[1])
    assert acct.money == 996 and acct.bucket("money").reserved == 0  # type: ignore[union-attr]


async def test_commit_uses_the_tariff_stored_with_the_reservation(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917007", opening=1000)
    ok(await ccr(store, ids, "s", 0, INI, [item(requested=10_000)]))
    dearer = Tariff(Unit.OCTETS, (Segment(0, 1000, 7),))
    r = ok(await ccr(store, ids, "s", 1, U, [item(used=10_000, requested=1000, tariff=dearer)]))
    assert r.items[0].money_charged == 10  # the stored tariff, not the new one
    r = ok(await ccr(store, ids, "s", 2, T, [item(used=1000, tariff=dearer)]))
    assert r.items[0].money_charged == 7


async def test_tiered_pricing_follows_the_period_counter(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917008", opening=10_000)
    tiered = Tariff(Unit.UNITS, (Segment(10, 1, 5), Segment(0, 1, 1)), counter="rg30:2026-09")
    r = ok(await ccr(store, ids, "s", 0, INI, [item(30, requested=8, tariff=tiered)]))
    assert r.items[0].reserved_money == 40
    ok(await ccr(store, ids, "s", 1, U, [item(30, used=8, requested=8, tariff=tiered)]))
    # counter at 8: two more at 5, then 1 each
    r = ok(await ccr(store, ids, "s", 2, T, [item(30, used=8, tariff=tiered)]))
    assert r.items[0].money_charged == 2 * 5 + 6 * 1
    acct = await account(store, ids[1])
    assert acct.counters == {"rg30:2026-09": 16} and acct.money == 10_000 - 40 - 16


async def test_shared_pool_with_member_limit(store: BalanceStore) -> None:
    cust, pool, _ = await make_subscriber(store, "4917009", opening=1000)
    await store.add_buckets("o", pool, [bucket("family-data", 50_000)], now_ms=NOW)
    member = await make_subscriber(
        store, "4917010", customer=cust, parent=pool, pool_limit={"octets": 20_000, "money": 5}
    )
    r = ok(await ccr(store, member, "m", 0, INI, [item(requested=100_000)]))
    assert r.items[0].granted == 25_000 and r.items[0].final
    assert r.items[0].reserved == 20_000 and r.items[0].reserved_money == 5
    r = ok(await ccr(store, member, "m", 1, T, [item(used=22_000)]))
    assert r.items[0].charged == {f"{pool}/family-data": 20_000, f"{pool}/money": 2}
    acct = await account(store, pool)
    assert acct.money == 998 and acct.bucket("family-data").balance == 30_000  # type: ignore[union-attr]
    # the member's monthly limit is now spent on data; money left: 3
    r = ok(await ccr(store, member, "m2", 0, INI, [item(requested=100_000)]))
    assert (r.items[0].granted, r.items[0].reserved) == (3000, 0)
    assert [s.session_id for s in await store.live_sessions(pool)] == ["m2"]


async def test_money_items_and_thresholds_emit_events(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917011", opening=100, low_balance=50)
    await store.add_buckets("o", ids[1], [bucket("d", 1000, thresholds=(50, 80))], now_ms=NOW)
    ok(
        await ccr(
            store, ids, "s", 0, INI, [item(requested=900), item(40, requested=60, tariff=None)]
        )
    )
    ok(await ccr(store, ids, "s", 1, T, [item(used=900), item(40, used=60, tariff=None)]))
    events = await read_partition(store, store.partition_of(ids[0]))
    marks = [(e.data["kind"], e.data["mark"]) for e in events if e.type is EventType.THRESHOLD]
    assert marks == [("used_percent", 50), ("used_percent", 80), ("low_balance", 50)]
    last = [e for e in events if e.type is EventType.SESSION][-1]
    assert last.id == "session:s:1"
    assert last.data["balances"] == {"d": 100, "money": 40}
    assert [i["charged"] for i in last.data["items"]] == [{"d": 900}, {"money": 60}]


async def test_pool_limit_starts_again_each_month(store: BalanceStore) -> None:
    cust, pool, _ = await make_subscriber(store, "4917012", opening=1000)
    member = await make_subscriber(
        store, "4917013", customer=cust, parent=pool, pool_limit={"money": 5}
    )
    sept, octo = NOW, NOW + 30 * 86_400_000  # 2026-09-21 and 2026-10-21
    r = ok(await ccr(store, member, "a", 0, INI, [item(requested=100_000)], now=sept))
    assert r.items[0].granted == 5000
    ok(await ccr(store, member, "a", 1, T, [item(used=5000)], now=sept))
    r = ok(await ccr(store, member, "b", 0, INI, [item(requested=100_000)], now=sept))
    assert r.items[0].outcome is Outcome.NO_CREDIT
    r = ok(await ccr(store, member, "c", 0, INI, [item(requested=100_000)], now=octo))
    assert r.items[0].granted == 5000


async def test_a_held_bucket_that_expires_is_committed_then_removed(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917014", opening=0)
    await store.add_buckets("o", ids[1], [bucket("d", 10_000, expires=NOW + 1000)], now_ms=NOW)
    r = ok(await ccr(store, ids, "s", 0, INI, [item(requested=4000)]))
    assert r.items[0].charged == {} and r.items[0].reserved == 4000
    p = store.partition_of(ids[0])
    assert (
        await expiry.sweep(store, p, NOW + 2000)
    ).buckets_expired == 1  # 6000 unreserved forfeited
    d = (await account(store, ids[1])).bucket("d")
    assert d is not None and (d.balance, d.reserved) == (4000, 4000)
    # never an expired bucket for a new grant ...
    r = ok(await ccr(store, ids, "s2", 0, INI, [item(requested=10)], now=NOW + 2000))
    assert r.items[0].outcome is Outcome.NO_CREDIT
    # ... but what was held before expiry is committed
    r = ok(await ccr(store, ids, "s", 1, T, [item(used=3000)], now=NOW + 2000))
    assert r.items[0].charged == {"d": 3000}
    await expiry.sweep(store, p, NOW + 3000)
    assert [b.id for b in (await account(store, ids[1])).buckets] == ["money"]


async def test_held_only_item_commits_against_its_holding_and_nothing_without_one(
    store: BalanceStore,
) -> None:
    """A service that stops rating mid-session still settles what its last grant held."""
    ids = await make_subscriber(store, "4915550001", opening=100)
    granted = await ccr(store, ids, "held-1", 0, RequestType.INITIAL, [item(requested=10_000)])
    assert granted.items[0].granted == 10_000
    settled = await ccr(
        store,
        ids,
        "held-1",
        1,
        RequestType.UPDATE,
        [
            SessionItem(10, None, 4_500, 0, DATA, 60_000, 5_000, reserve=False, held_only=True),
            SessionItem(20, None, 9_000, 0, DATA, 60_000, 5_000, reserve=False, held_only=True),
        ],
    )
    held, unheld = settled.items
    assert (held.used, held.money_charged) == (4_500, 5)  # 5 started blocks of 1000
    assert (unheld.used, unheld.money_charged) == (0, 0)  # no holding: nothing charged
    assert (await account(store, ids[1])).money == 95


async def test_was_final_marks_the_report_of_final_units(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4915550002", opening=3)
    first = await ccr(store, ids, "fin-1", 0, RequestType.INITIAL, [item(requested=10_000)])
    assert first.items[0].granted == 3_000 and first.items[0].final
    assert not first.items[0].was_final
    report = await ccr(
        store, ids, "fin-1", 1, RequestType.UPDATE, [item(used=3_000, reserve=False)]
    )
    assert report.items[0].was_final
    assert report.items[0].money_charged == 3
    again = await ccr(store, ids, "fin-1", 2, RequestType.UPDATE, [item(requested=10_000)])
    assert again.items[0].outcome is Outcome.NO_CREDIT
    assert not again.items[0].was_final


async def test_session_whose_final_units_are_used_waits_for_a_top_up(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4915550003", opening=3)
    await ccr(store, ids, "grace-1", 0, RequestType.INITIAL, [item(requested=10_000)])
    [live] = await store.live_sessions(ids[1])
    assert live.state == "final"
    await ccr(store, ids, "grace-1", 1, RequestType.UPDATE, [item(used=3_000, reserve=False)])
    [live] = await store.live_sessions(ids[1])
    assert live.state == "blocked"  # redirected / restricted until the balance changes
    topped = await store.topup("pay-grace-1", ids[1], 50, "EUR", now_ms=NOW)
    assert [s.session_id for s in topped.sessions] == ["grace-1"]
