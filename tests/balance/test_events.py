"""The outbox: events replay to the balances; the trimmer never drops what billing has not acked."""

from __future__ import annotations

import pytest

from ocs.balance import codec, expiry
from ocs.balance.events import UnsupportedEvent, decode, read_partition, replay
from ocs.balance.model import Bucket, DebitItem, RequestType, Unit
from ocs.balance.store import BalanceStore
from tests.balance.helpers import NOW, ccr, item, make_subscriber, ok


async def test_events_replay_to_the_balances(store: BalanceStore) -> None:
    cust, pool, _ = await make_subscriber(store, "4920001", opening=500)
    member = await make_subscriber(store, "4920002", customer=cust, parent=pool)
    await store.add_buckets(
        "o", pool, [Bucket("d", Unit.OCTETS, 5000, expires=NOW + 5)], now_ms=NOW
    )
    ok(await ccr(store, member, "m", 0, RequestType.INITIAL, [item(requested=9000)]))
    ok(await ccr(store, member, "m", 1, RequestType.TERMINATE, [item(used=7000)]))
    await store.debit("d", pool, [DebitItem(1, None, 30, None)], now_ms=NOW)
    await store.topup("pay", pool, 99, "EUR", now_ms=NOW)
    await store.refund("r", pool, now_ms=NOW, refund_of="d")
    await expiry.sweep(store, store.partition_of(cust), NOW + 10)
    events = await read_partition(store, store.partition_of(cust))
    assert len({e.id for e in events}) == len(events)
    rebuilt = replay(events)
    for acct_id in (pool, member[1]):
        view = await store.get_account(acct_id)
        assert view is not None
        live = {b.id: b.balance for b in view.buckets if b.balance}
        assert {k: v for k, v in rebuilt.get(acct_id, {}).items() if v} == live


@pytest.mark.parametrize(
    "entry",
    [
        {"v": 3, "id": "x", "type": "topup"},
        {"v": 2, "id": "x", "type": "topup"},  # v2 entries are arrays
        {"id": "x", "type": "topup"},
        [3, "session"],
        [2, "topup", "x"],
        "v1",
    ],
)
def test_unknown_schema_versions_are_refused(entry: object) -> None:
    with pytest.raises(UnsupportedEvent):
        decode(b"1-0", {b"e": codec.pack(entry)})


async def test_trim_keeps_entries_billing_has_not_acknowledged(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4920003", opening=100)
    p = store.keys[store.partition_of(ids[0])]
    for n in range(6):
        await store.topup(f"pay-{n}", ids[1], 1, "EUR", now_ms=NOW)
    entries = await store.execute(p.slot, "XRANGE", p.stream, "-", "+")
    assert len(entries) == 9  # customer, account, subscriber, 6 top-ups
    far_future = 2**52
    assert await expiry.trim(store, p.partition, far_future) == 0  # billing has read nothing
    read = await store.execute(
        p.slot, "XREADGROUP", "GROUP", "billing", "c1", "COUNT", 5, "STREAMS", p.stream, ">"
    )
    ids_read = [e[0] for e in read[0][1]]
    assert await expiry.trim(store, p.partition, far_future) == 0  # delivered, still pending
    await store.execute(p.slot, "XACK", p.stream, "billing", *ids_read[:3])
    assert await expiry.trim(store, p.partition, far_future) == 3
    await store.execute(p.slot, "XACK", p.stream, "billing", *ids_read[3:])
    assert await expiry.trim(store, p.partition, far_future) == 2  # the undelivered 4 stay
    assert await expiry.trim(store, p.partition, NOW) == 0  # young entries are kept anyway
    left = await store.execute(p.slot, "XLEN", p.stream)
    assert left == 4
