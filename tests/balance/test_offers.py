"""A subscriber's offers change in one script (orders), and every process's rating profile
of the subscriber is dropped at once; customer profiles and status reasons are recorded."""

from __future__ import annotations

import asyncio

from ocs.balance.errors import InvalidRequest
from ocs.balance.events import read_partition
from ocs.balance.model import Outcome, Status
from ocs.balance.store import BalanceStore
from ocs.charging.profiles import Profiles
from tests.balance.helpers import NOW, make_subscriber


async def offers_of(store: BalanceStore, subscriber_id: str) -> tuple[str, ...]:
    found = await store.get_subscriber(subscriber_id)
    assert found is not None
    return found.offers


async def test_offers_are_added_and_removed_once_each(store: BalanceStore) -> None:
    cust, _, sub = await make_subscriber(store, "4919001")
    added = await store.change_offers("o-1", sub, now_ms=NOW, add=["payg", "bundle_s"])
    assert added.ok and not added.replayed
    assert await offers_of(store, sub) == ("payg", "bundle_s")
    assert (await store.change_offers("o-1", sub, now_ms=NOW, add=["payg", "bundle_s"])).replayed
    # an offer already held is not listed twice; add and remove in one step
    both = await store.change_offers(
        "o-2", sub, now_ms=NOW, add=["roam_eu", "payg"], remove=["bundle_s"]
    )
    assert both.ok
    assert await offers_of(store, sub) == ("payg", "roam_eu")

    events = [e for e in await read_partition(store, store.partition_of(cust))]
    changes = [e.data for e in events if e.data.get("kind") == "offers"]
    assert [(c["added"], c["removed"], c["offers"]) for c in changes] == [
        (["payg", "bundle_s"], [], ["payg", "bundle_s"]),
        (["roam_eu", "payg"], ["bundle_s"], ["payg", "roam_eu"]),
    ]
    assert changes[0]["sub"] == sub and changes[0]["acct"] == "A-4919001"


async def test_removing_an_offer_not_held_changes_nothing(store: BalanceStore) -> None:
    _, _, sub = await make_subscriber(store, "4919002")
    assert (await store.change_offers("o-3", sub, now_ms=NOW, add=["payg"])).ok
    refused = await store.change_offers(
        "o-4", sub, now_ms=NOW, add=["roam_eu"], remove=["bundle_m"]
    )
    assert (refused.outcome, refused.field) == (Outcome.INVALID, "remove[0]")
    assert "bundle_m" in refused.message
    assert await offers_of(store, sub) == ("payg",)
    # a refusal is not stored: the corrected request under the same id succeeds
    assert (await store.change_offers("o-4", sub, now_ms=NOW, add=["roam_eu"])).ok
    unknown = await store.change_offers("o-5", "S-nobody", now_ms=NOW, add=["payg"])
    assert unknown.outcome is Outcome.UNKNOWN_SUBSCRIBER


async def test_offer_lists_are_checked_before_redis(store: BalanceStore) -> None:
    for kwargs, field in (
        ({"add": ["payg", "payg"]}, "add"),
        ({"add": ["payg"], "remove": ["payg"]}, "remove"),
        ({"add": [""]}, "add[0]"),
    ):
        try:
            await store.change_offers("o-bad", "S-x", now_ms=NOW, **kwargs)  # type: ignore[arg-type]
        except InvalidRequest as exc:
            assert exc.field == field
        else:
            raise AssertionError(f"{kwargs} was accepted")


async def test_every_process_drops_its_profile_when_offers_change(store: BalanceStore) -> None:
    _, acct, sub = await make_subscriber(store, "4919003")
    assert (await store.change_offers("o-6", sub, now_ms=NOW, add=["payg"])).ok
    other = BalanceStore(store.target, store.config, store.partitions)
    profiles = Profiles(other, ttl=3600)  # listens before the other "process" starts
    await other.start()
    try:
        locator = await other.lookup("e164", "4919003")
        assert locator is not None
        cached = await profiles.of(locator)
        assert cached is not None and cached.offers == ("payg",)
        seen = profiles.invalidations
        assert (await store.change_offers("o-7", sub, now_ms=NOW, add=["bundle_s"])).ok
        for _ in range(1000):  # up to 10 s
            if profiles.invalidations > seen:
                break
            await asyncio.sleep(0.01)
        assert profiles.invalidations > seen
        fresh = await profiles.of(locator)
        assert fresh is not None and fresh.offers == ("payg", "bundle_s")
        assert fresh.account_id == acct
    finally:
        await other.stop()


async def test_customer_profile_and_status_reason_are_kept(store: BalanceStore) -> None:
    created = await store.create_customer(
        "c-prof", "C-prof", now_ms=NOW, name="Ada", profile={"email": "ada@example.org"}
    )
    assert created.ok
    customer = await store.get_customer("C-prof")
    assert customer is not None and customer.profile == {"email": "ada@example.org"}
    cust, _, sub = await make_subscriber(store, "4919004")
    changed = await store.set_subscriber_status(
        "st-1", sub, Status.SUSPENDED, now_ms=NOW, actor="care:bob", reason="lost phone"
    )
    assert changed.ok
    events = await read_partition(store, store.partition_of(cust))
    status = [e.data for e in events if e.data.get("kind") == "status"]
    assert status[-1]["reason"] == "lost phone" and status[-1]["status"] == "suspended"
    assert status[-1]["actor"] == "care:bob"
