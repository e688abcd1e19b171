from __future__ import annotations

from ocs.balance.model import Outcome, RequestType
from ocs.balance.store import BalanceStore
from tests.balance.helpers import DATA, NOW, account, ccr, item, make_subscriber, ok


async def test_reserve_commit_terminate(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "491700000001", opening=1000)
    r = ok(await ccr(store, ids, "s1", 0, RequestType.INITIAL, [item(requested=100_000)]))
    assert r.items[0].granted == 100_000
    assert r.items[0].reserved_money == 100
    acct = await account(store, ids[1])
    assert acct.bucket("money").reserved == 100  # type: ignore[union-attr]
    r = ok(await ccr(store, ids, "s1", 1, RequestType.UPDATE, [item(used=2500, requested=10_000)]))
    assert r.items[0].money_charged == 3
    r = ok(await ccr(store, ids, "s1", 2, RequestType.TERMINATE, [item(used=10_000, tariff=DATA)]))
    assert r.items[0].money_charged == 10
    acct = await account(store, ids[1])
    assert acct.money == 1000 - 13
    assert acct.bucket("money").reserved == 0  # type: ignore[union-attr]
    again = await ccr(store, ids, "s1", 2, RequestType.TERMINATE, [item(used=10_000)], now=NOW + 5)
    assert again.replayed and again.items == r.items
    assert (await account(store, ids[1])).money == 1000 - 13
    assert (
        await ccr(store, ids, "s1", 3, RequestType.UPDATE, [item()])
    ).outcome is Outcome.UNKNOWN_SESSION
