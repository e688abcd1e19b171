"""Debit, refund, top-up, adjust and provisioning: outcomes, idempotency, nothing half-written."""

from __future__ import annotations

import asyncio

from ocs.balance import expiry
from ocs.balance.events import EventType, read_partition
from ocs.balance.model import Bucket, DebitItem, Identity, Locator, Outcome, Status, Unit
from ocs.balance.store import BalanceStore
from tests.balance.helpers import DATA, NOW, account, make_subscriber

SMS = DebitItem(50, 1, 1, None)


async def test_debit_is_all_or_nothing_per_item_and_idempotent(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4918001", opening=25)
    await store.add_buckets("o", ids[1], [Bucket("d", Unit.OCTETS, 3000)], now_ms=NOW)
    big = DebitItem(10, None, 50_000, DATA)  # 3000 from "d", 47 money: too much
    small = DebitItem(10, None, 5_500, DATA)  # 3000 from "d", 3 money
    r = await store.debit(
        "d1", ids[1], [big, small, SMS.__class__(50, 1, 10, None)], now_ms=NOW, subscriber_id=ids[2]
    )
    assert [i.outcome for i in r.items] == [Outcome.NO_CREDIT, Outcome.OK, Outcome.OK]
    assert r.items[1].charged == {"d": 3000, "money": 3}
    assert r.items[2].charged == {"money": 10}
    assert r.outcome is Outcome.NO_CREDIT and r.balance_after == 12
    again = await store.debit(
        "d1", ids[1], [big, small, SMS.__class__(50, 1, 10, None)], now_ms=NOW + 1
    )
    assert again.replayed and again.items == r.items
    other = await store.debit("d1", ids[1], [small], now_ms=NOW + 1, subscriber_id=ids[2])
    assert (other.outcome, other.field, other.replayed) == (Outcome.ALREADY_EXISTS, "op_id", False)
    assert (await account(store, ids[1])).money == 12


async def test_refund_reverses_a_debit_exactly_once(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4918002", opening=100)
    await store.add_buckets("o", ids[1], [Bucket("d", Unit.OCTETS, 3000)], now_ms=NOW)
    await store.debit("d1", ids[1], [DebitItem(10, None, 5000, DATA)], now_ms=NOW)
    r = await store.refund("r1", ids[1], now_ms=NOW, refund_of="d1", reason="care")
    assert r.ok and r.details == {"d": 3000, "money": 2} and r.balance == 100
    twice = await store.refund("r2", ids[1], now_ms=NOW, refund_of="d1")
    assert twice.outcome is Outcome.INVALID and twice.field == "refund_of"
    assert (await store.refund("r1", ids[1], now_ms=NOW, refund_of="d1")).replayed
    off = await store.refund("r3", ids[1], now_ms=NOW, amount=7)
    assert (off.outcome, off.field) == (Outcome.INVALID, "refund_of")
    capped = await store.refund("r3", ids[1], now_ms=NOW, amount=7, unreferenced_cap=10)
    assert capped.ok and capped.balance == 107
    acct = await account(store, ids[1])
    assert acct.money == 107 and acct.bucket("d").balance == 3000  # type: ignore[union-attr]


async def test_topup_is_idempotent_by_payment_id_and_checks_currency(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4918003", opening=0)
    first = await store.topup("pay-1", ids[1], 500, "EUR", now_ms=NOW)
    again = await store.topup("pay-1", ids[1], 500, "EUR", now_ms=NOW + 10)
    assert (first.balance, again.balance, again.replayed) == (500, 500, True)
    wrong = await store.topup("pay-2", ids[1], 500, "USD", now_ms=NOW)
    assert wrong.outcome is Outcome.CURRENCY_MISMATCH
    assert (await store.topup("pay-3", "A-none", 1, "EUR", now_ms=NOW)).outcome is (
        Outcome.UNKNOWN_ACCOUNT
    )
    assert (await account(store, ids[1])).money == 500


async def test_adjust_never_crosses_the_credit_floor(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4918004", opening=10, credit_limit=20)
    bad = await store.adjust("j1", ids[1], "money", -31, reason="fix", actor="ops", now_ms=NOW)
    assert bad.outcome is Outcome.INVALID and bad.field == "amount"
    good = await store.adjust("j2", ids[1], "money", -30, reason="fix", actor="ops", now_ms=NOW)
    assert good.ok and good.balance == -20
    events = await read_partition(store, store.partition_of(ids[0]))
    adjust = [e for e in events if e.type is EventType.ADJUST]
    assert [(e.data["reason"], e.data["actor"], e.data["amount"]) for e in adjust] == [
        ("fix", "ops", -30)
    ]


async def test_identity_taken_leaves_nothing_half_written(store: BalanceStore) -> None:
    cust, acct, sub = await make_subscriber(store, "4918005")
    r = await store.create_subscriber(
        "s-x",
        "S-x",
        acct,
        identities=[Identity("imsi", "26201x"), Identity("e164", "4918005")],
        now_ms=NOW,
    )
    assert r.outcome is Outcome.ALREADY_EXISTS and r.field == "identities[1]"
    assert await store.get_subscriber("S-x") is None
    assert await store.lookup("imsi", "26201x") is None
    assert (await account(store, acct)).subscribers == (sub,)
    found = await store.lookup("e164", "4918005")
    assert found == Locator(sub, acct, cust, store.partition_of(cust))


async def test_identity_race_undoes_the_loser(store: BalanceStore) -> None:
    _, acct, _ = await make_subscriber(store, "4918006")
    results = await asyncio.gather(
        *(
            store.create_subscriber(
                f"op-{n}", f"S-r{n}", acct, identities=[Identity("nai", "user@realm")], now_ms=NOW
            )
            for n in range(4)
        )
    )
    assert sorted(r.outcome for r in results).count(Outcome.OK) == 1
    winner = next(n for n, r in enumerate(results) if r.ok)
    loc = await store.lookup("nai", "user@realm")
    assert loc is not None and loc.subscriber_id == f"S-r{winner}"
    assert [await store.get_subscriber(f"S-r{n}") is not None for n in range(4)] == [
        n == winner for n in range(4)
    ]


async def test_identity_cache_is_invalidated_across_processes(store: BalanceStore) -> None:
    _, acct, _ = await make_subscriber(store, "4918007")
    other = BalanceStore(store.target, store.config, store.partitions)
    await other.start()
    try:
        assert await other.lookup("sip", "sip:bob@example.org") is None  # cached miss
        assert other.identities is not None
        seen = other.identities.invalidations
        await store.create_subscriber(
            "s-bob", "S-bob", acct, identities=[Identity("sip", "sip:bob@example.org")], now_ms=NOW
        )
        async with asyncio.timeout(10):
            await other.identities.wait_invalidation(seen)
        found = await other.lookup("sip", "sip:bob@example.org")
        assert found is not None and found.subscriber_id == "S-bob"
    finally:
        await other.stop()


async def test_provisioning_outcomes(store: BalanceStore) -> None:
    cust, acct, sub = await make_subscriber(store, "4918008")
    assert (await store.create_customer("c-again", cust, now_ms=NOW)).outcome is (
        Outcome.ALREADY_EXISTS
    )
    assert (await store.create_customer("c-4918008", cust, now_ms=NOW)).replayed
    r = await store.create_account("a-orphan", "A-orphan", "C-none", currency="EUR", now_ms=NOW)
    assert r.outcome is Outcome.INVALID and r.field == "customer_id"
    r = await store.create_subscriber("s-n", "S-n", "A-none", identities=[], now_ms=NOW)
    assert r.outcome is Outcome.UNKNOWN_ACCOUNT
    assert (await store.set_account_status("st", acct, Status.BARRED, now_ms=NOW)).ok
    view = await account(store, acct)
    assert view.status is Status.BARRED and view.currency == "EUR"
    customer = await store.get_customer(cust)
    assert customer is not None and customer.accounts == (acct,)
    subscriber = await store.get_subscriber(sub)
    assert subscriber is not None and subscriber.identities == (Identity("e164", "4918008"),)


async def test_bucket_cancel_and_expiry_forfeit_only_the_unreserved_part(
    store: BalanceStore,
) -> None:
    ids = await make_subscriber(store, "4918009", opening=0)
    offer = [Bucket("a", Unit.OCTETS, 1000, expires=NOW + 1000), Bucket("b", Unit.OCTETS, 500)]
    assert (await store.add_buckets("order-1", ids[1], offer, now_ms=NOW)).ok
    assert (await store.add_buckets("order-1", ids[1], offer, now_ms=NOW)).replayed
    dup = await store.add_buckets("order-2", ids[1], offer[:1], now_ms=NOW)
    assert dup.outcome is Outcome.ALREADY_EXISTS
    gone = await store.remove_buckets("cancel-1", ids[1], ["b"], now_ms=NOW)
    assert gone.ok and gone.details == {"b": 500}
    p = store.partition_of(ids[0])
    assert (await expiry.sweep(store, p, NOW + 999)).buckets_expired == 0
    assert (await expiry.sweep(store, p, NOW + 1000)).buckets_expired == 1
    assert (await expiry.sweep(store, p, NOW + 1000)).buckets_expired == 0
    assert [b.id for b in (await account(store, ids[1])).buckets] == ["money"]
    expired = [e for e in await read_partition(store, p) if e.type is EventType.EXPIRE]
    assert [e.data["forfeited"] for e in expired] == [{"a": 1000}]


async def test_script_calls_are_counted_by_script_and_outcome(store: BalanceStore) -> None:
    from prometheus_client import REGISTRY

    def calls(outcome: str) -> float:
        labels = {"script": "topup", "outcome": outcome}
        return REGISTRY.get_sample_value("ocs_balance_script_calls_total", labels) or 0.0

    ids = await make_subscriber(store, "4918010")
    ok_before, bad_before = calls("OK"), calls("CURRENCY_MISMATCH")
    await store.topup("m1", ids[1], 5, "EUR", now_ms=NOW)
    await store.topup("m2", ids[1], 5, "GBP", now_ms=NOW)
    assert (calls("OK") - ok_before, calls("CURRENCY_MISMATCH") - bad_before) == (1, 1)


async def test_a_sim_swap_moves_the_identity_and_every_cache_follows(store: BalanceStore) -> None:
    cust, acct, sub = await make_subscriber(store, "4918011")
    await store.create_subscriber(
        "s-o", "S-other", acct, identities=[Identity("imsi", "taken")], now_ms=NOW
    )
    old, new = Identity("imsi", "262010000000001"), Identity("imsi", "262010000000002")
    assert (await store.change_identities("id1", sub, add=[old], now_ms=NOW)).ok
    other = BalanceStore(store.target, store.config, store.partitions)
    await other.start()
    try:
        assert other.identities is not None
        assert await other.lookup("imsi", old.value) is not None  # cached in the other process
        assert await other.lookup("imsi", new.value) is None
        refused = await store.change_identities(
            "id2", sub, add=[new, Identity("imsi", "taken")], remove=[old], now_ms=NOW
        )
        assert refused.outcome is Outcome.ALREADY_EXISTS and refused.field == "add[1]"
        assert await store.lookup("imsi", new.value) is None  # the claim was undone
        seen = other.identities.invalidations
        swap = await store.change_identities("id3", sub, add=[new], remove=[old], now_ms=NOW)
        assert swap.ok
        async with asyncio.timeout(10):  # one message per changed identity
            await other.identities.wait_invalidation(seen + 1)
        assert await other.lookup("imsi", old.value) is None
        found = await other.lookup("imsi", new.value)
        assert found == Locator(sub, acct, cust, store.partition_of(cust))
        subscriber = await store.get_subscriber(sub)
        assert subscriber is not None
        assert subscriber.identities == (Identity("e164", "4918011"), new)
    finally:
        await other.stop()
