"""Session calls sent without awaiting (``send_session`` / ``session_reply``): the same
answers as ``session``, and every case they cannot settle left to ``session``, charged once."""

from __future__ import annotations

import asyncio

from ocs.balance.client import Address, NodeConnection, SingleNode
from ocs.balance.model import RequestType, SessionOp, SessionResult
from ocs.balance.store import BalanceStore, SentSession
from tests.balance.helpers import NOW, account, ccr, item, make_subscriber, ok, session_op

INI, U, T = RequestType.INITIAL, RequestType.UPDATE, RequestType.TERMINATE


async def sent_and_read(store: BalanceStore, op: SessionOp) -> SessionResult | None:
    sent = store.send_session(op)
    assert sent is not None
    await asyncio.wait([sent.reply])
    return store.session_reply(sent)


async def test_a_sent_session_answers_exactly_like_an_awaited_one(store: BalanceStore) -> None:
    sent_ids = await make_subscriber(store, "4917101", opening=10_000)
    awaited_ids = await make_subscriber(store, "4917102", opening=10_000)
    steps = [
        (1, U, [item(used=1500, requested=4000), item(20, requested=2000)]),
        (2, U, [item(used=4000, requested=4000), item(20, used=700)]),
        (3, T, [item(used=10), item(20, used=1300)]),
    ]
    ok(await ccr(store, sent_ids, "sent", 0, INI, [item(requested=4000), item(20)]))
    ok(await ccr(store, awaited_ids, "awaited", 0, INI, [item(requested=4000), item(20)]))
    single = isinstance(store.executor, SingleNode)
    for rn, rt, items in steps:
        op = session_op(store, sent_ids, "sent", rn, rt, items, now=NOW + rn)
        if single:
            sent = await sent_and_read(store, op)
        else:  # a cluster routes every call first: always the awaited way
            assert store.send_session(op) is None
            sent = await store.session(op)
        awaited = await ccr(store, awaited_ids, "awaited", rn, rt, items, now=NOW + rn)
        assert sent == awaited and awaited.items[0].used == items[0].used, rn
    assert (await account(store, sent_ids[1])).money == (await account(store, awaited_ids[1])).money


async def test_calls_that_need_more_than_the_script_are_not_sent(store: BalanceStore) -> None:
    ids = await make_subscriber(store, "4917103", opening=100)
    # a CCR-I writes the session's locator too
    assert store.send_session(session_op(store, ids, "s", 0, INI, [item(requested=10)])) is None
    ok(await ccr(store, ids, "s", 0, INI, [item(requested=10)]))
    # and so does every 16th CCR-U, so that the locator outlives a long session
    assert store.send_session(session_op(store, ids, "s", 16, U, [item(used=5)])) is None


async def test_a_stale_route_is_left_to_the_awaited_call(redis_url: str) -> None:
    store = await started(redis_url)
    try:
        cust, pool, _ = await make_subscriber(store, "4917104", opening=1000)
        member = await make_subscriber(store, "4917105", customer=cust, parent=pool)
        ok(await ccr(store, member, "m", 0, INI, [item(requested=3000)]))
        store.remember_parent(member[1], "")  # as if another process had made the pool
        op = session_op(store, member, "m", 1, U, [item(used=2500, requested=3000)])
        assert await sent_and_read(store, op) is None
        assert (await account(store, pool)).money == 1000  # STALE changed nothing
        result = ok(await store.session(op))
        assert result.items[0].charged == {f"{pool}/money": 3} and not result.replayed
        assert (await account(store, pool)).money == 997
    finally:
        await store.stop()


async def test_a_reply_lost_with_the_connection_is_asked_again_and_charged_once(
    redis_url: str,
) -> None:
    store = await started(redis_url)
    sleeper = NodeConnection(Address.from_url(redis_url))
    try:
        ids = await make_subscriber(store, "4917106", opening=100)
        ok(await ccr(store, ids, "s", 0, INI, [item(requested=3000)]))
        op = session_op(store, ids, "s", 1, U, [item(used=2500, requested=3000)])
        # Redis busy for a while: the script waits in its socket while ours drops
        await sleeper.execute("PING")
        busy = sleeper.send(("DEBUG", "SLEEP", "0.3"))
        await asyncio.sleep(0.05)
        sent = store.send_session(op)
        assert isinstance(sent, SentSession)
        await asyncio.sleep(0.05)
        assert isinstance(store.executor, SingleNode)
        store.executor.connection.drop()
        await asyncio.wait([sent.reply])
        assert store.session_reply(sent) is None
        # Redis ran the script from its socket before it saw the close: the second call is
        # answered from the session record, and the usage is charged once
        result = ok(await store.session(op))
        assert result.replayed and result.items[0].charged == {"money": 3}
        assert (await account(store, ids[1])).money == 97
        await busy
    finally:
        await sleeper.close()
        await store.stop()


async def started(redis_url: str) -> BalanceStore:
    from ocs.balance.engine import RedisTarget
    from ocs.config import BalanceConfig

    store = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), partitions=8)
    await store.start()
    return store
