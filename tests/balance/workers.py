"""Code that runs in child processes of the concurrency and crash tests (spawned, so it must be
importable and its arguments picklable)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import uvloop

from ocs.balance.cluster import ClusterNodes
from ocs.balance.engine import RedisTarget
from ocs.balance.model import DebitItem, Outcome, RequestType, SessionOp
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.balance.conftest import PARTITIONS
from tests.balance.helpers import NOW, item


def _run(coro: Any) -> Any:
    return uvloop.run(coro)


async def _store(target: RedisTarget) -> BalanceStore:
    store = BalanceStore(target, BalanceConfig(), PARTITIONS)
    await store.start()
    return store


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def reserve_many(
    target: RedisTarget, ids: tuple[str, str, str], worker: int, count: int, start_at: float
) -> list[str]:
    """``count`` concurrent CCR-I of 1000 octets (price 1 each); returns each outcome."""

    async def main() -> list[str]:
        store = await _store(target)
        cust, acct, sub = ids
        await store.get_account(acct)  # connected and warm before the start line
        _wait_until(start_at)
        ops = [
            SessionOp(
                f"w{worker}-s{n}",
                0,
                RequestType.INITIAL,
                store.partition_of(cust),
                cust,
                acct,
                sub,
                NOW,
                (item(requested=1000),),
                "pgw",
                "realm",
            )
            for n in range(count)
        ]
        results = await asyncio.gather(*(store.session(op) for op in ops))
        await store.stop()
        return [
            f"{r.items[0].outcome.value}:{r.items[0].granted}:{r.items[0].reserved_money}"
            for r in results
        ]

    return _run(main())  # type: ignore[no-any-return]


def pool_traffic(
    target: RedisTarget, worker: int, members: list[str], pool: str, rounds: int, start_at: float
) -> dict[str, int]:
    """Top-ups of the pool and debits by its members, all at once; returns what the API said
    was added and charged."""

    async def main() -> dict[str, int]:
        store = await _store(target)
        await store.get_account(pool)
        _wait_until(start_at)
        calls = []
        for n in range(rounds):
            calls.append(store.topup(f"pay-{worker}-{n}", pool, 7, "EUR", now_ms=NOW))
            for m in members:
                calls.append(
                    store.debit(
                        f"deb-{worker}-{n}-{m}",
                        m,
                        [DebitItem(1, None, 3 + n % 5, None)],
                        now_ms=NOW,
                    )
                )
        results = await asyncio.gather(*calls)
        added = charged = refused = 0
        for r in results:
            if hasattr(r, "sessions"):
                assert r.outcome is Outcome.OK
                added += 7
            elif r.outcome is Outcome.OK:
                charged += sum(sum(i.charged.values()) for i in r.items)
            else:
                refused += 1
        await store.stop()
        return {"added": added, "charged": charged, "refused": refused}

    return _run(main())  # type: ignore[no-any-return]


def debit_then_die(target: RedisTarget, account: str, op_id: str, die_after_send: bool) -> None:
    """Send a debit and SIGKILL this process after the command left the socket but before its
    reply was read (or, with ``die_after_send`` False, before it was sent)."""

    async def main() -> None:
        store = await _store(target)
        await store.get_account(account)  # the connection to the account's node is up
        p = store.keys[(await store.locate_account(account) or ("", 0))[1]]
        executor = store.executor
        if isinstance(executor, ClusterNodes):
            node = executor.node_for_slot(p.slot)
        else:
            node = executor.nodes()[0]
        pending = node._pending
        task = asyncio.ensure_future(
            store.debit(op_id, account, [DebitItem(1, None, 40, None)], now_ms=NOW)
        )
        if not die_after_send:
            os.kill(os.getpid(), signal.SIGKILL)
        transport = node._transport
        assert transport is not None
        while not (pending and transport.get_write_buffer_size() == 0):  # noqa: ASYNC110
            await asyncio.sleep(0)
        # written to the socket, reply not read yet (it would have emptied `pending`)
        os.kill(os.getpid(), signal.SIGKILL)
        await task

    _run(main())
