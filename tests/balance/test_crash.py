"""A client killed between sending a script and reading its reply: the retry with the same
operation id charges once."""

from __future__ import annotations

import multiprocessing
import signal

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.model import DebitItem, Outcome
from ocs.balance.store import BalanceStore
from tests.balance import workers
from tests.balance.helpers import NOW, account, make_subscriber

pytestmark = pytest.mark.slow


def run_and_kill(target: RedisTarget, acct: str, op_id: str, after_send: bool) -> None:
    process = multiprocessing.get_context("spawn").Process(
        target=workers.debit_then_die, args=(target, acct, op_id, after_send)
    )
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL


@pytest.mark.parametrize("after_send", [True, False], ids=["killed-after-send", "killed-before"])
async def test_retry_after_a_killed_client_charges_once(
    store: BalanceStore, target: RedisTarget, after_send: bool
) -> None:
    ids = await make_subscriber(store, "4922001", opening=100)
    run_and_kill(target, ids[1], "sms-1", after_send)
    p = store.keys[store.partition_of(ids[0])]
    executed = await store.execute(p.slot, "EXISTS", p.operation(f"debit:{ids[1]}:sms-1"))
    assert executed == (1 if after_send else 0)
    assert (await account(store, ids[1])).money == (60 if after_send else 100)
    retry = await store.debit("sms-1", ids[1], [DebitItem(1, None, 40, None)], now_ms=NOW)
    assert retry.outcome is Outcome.OK and retry.replayed is after_send
    assert retry.items[0].charged == {"money": 40}
    assert (await account(store, ids[1])).money == 60
