"""Stateful property test: random sequences of every operation, with repeats of operation ids,
against real Redis (single and cluster). After every step:

- for every bucket: opening + top-ups + refunds + adjustments - committed charges = balance,
  the flows taken only from what the API answered;
- reserved >= 0, and equals exactly what the live sessions' holdings say they hold;
- every live session is in the expiry index, never with a score after its expiry;
- no money bucket below its credit floor, no allowance below zero;
- a pool member never draws (committed + held) more than its monthly limit on the pool;
- the partition's event stream replays to exactly the current balances;
- repeating an operation id returns the stored result and changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ocs.balance import expiry
from ocs.balance.engine import RedisTarget
from ocs.balance.events import read_partition, replay
from ocs.balance.model import (
    Account,
    Bucket,
    DebitItem,
    Outcome,
    RequestType,
    SessionOp,
    Unit,
)
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.balance.conftest import PARTITIONS
from tests.balance.helpers import DATA, NOW, VOICE, item, make_subscriber
from tests.support.redis_cluster import RedisClusterProcesses

pytestmark = pytest.mark.slow

NAMES = ("pool", "member", "solo")
CHECKS = {"invariant": 0, "member_drew": 0, "replays": 0, "no_credit": 0}
"""What the runs exercised: asserted at the end, so a run that misses them fails."""


def flusher(request: pytest.FixtureRequest, target: RedisTarget) -> Callable[[], None]:
    if target.cluster_nodes:
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        return cluster.flush
    server = request.getfixturevalue("redis_server")

    def flush() -> None:
        with server.client() as client:
            client.flushall()

    return flush


class BalanceMachine(RuleBasedStateMachine):
    target: RedisTarget
    flush: Callable[[], None]

    def __init__(self) -> None:
        super().__init__()
        self.flush()
        self.loop = uvloop.new_event_loop()
        self.store = BalanceStore(self.target, BalanceConfig(), PARTITIONS)
        self.run(self.store.start())
        self.now = NOW
        self.ledger: dict[tuple[str, str], int] = defaultdict(int)
        self.credit = {"A-pool": 30, "A-member": 0, "A-solo": 10}
        self.ops: list[tuple[Callable[[], Awaitable[Any]], Any]] = []
        self.sessions: dict[str, tuple[str, int, bool]] = {}  # sid -> (account, last rn, open)
        self.last_session_op: dict[str, tuple[Callable[[], Awaitable[Any]], Any]] = {}
        self.debits: list[tuple[str, str]] = []
        self.member_drew = 0
        self.n = 0
        self.run(self._provision())

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.store.stop())
        self.loop.close()

    async def _provision(self) -> None:
        s = self.store
        cust, pool, _ = await make_subscriber(s, "pool", opening=200, credit_limit=30)
        await make_subscriber(s, "member", customer=cust, parent=pool, pool_limit={"money": 120})
        await make_subscriber(s, "solo", customer=cust, opening=50, credit_limit=10)
        await s.add_buckets(
            "o1", pool, [Bucket("data", Unit.OCTETS, 20_000, priority=5)], now_ms=NOW
        )
        await s.add_buckets(
            "o2",
            "A-solo",
            [Bucket("min", Unit.SECONDS, 120), Bucket("bonus", Unit.MONEY, 15, priority=1)],
            now_ms=NOW,
        )
        self.cust = cust
        self.partition = s.partition_of(cust)
        for acct, bid, amount in [
            ("A-pool", "money", 200),
            ("A-pool", "data", 20_000),
            ("A-solo", "money", 50),
            ("A-solo", "min", 120),
            ("A-solo", "bonus", 15),
        ]:
            self.ledger[(acct, bid)] += amount

    def next_id(self, kind: str) -> str:
        self.n += 1
        return f"{kind}-{self.n}"

    def book(self, account: str, amounts: dict[str, int], sign: int) -> None:
        for label, amount in amounts.items():
            owner, _, bucket = label.rpartition("/")
            self.ledger[(owner or account, bucket)] += sign * amount
            if sign < 0 and account == "A-member" and label == "A-pool/money":
                self.member_drew += amount  # gross: a refund does not give the limit back

    def remember(self, call: Callable[[], Awaitable[Any]], result: Any) -> None:
        """Decisions are stored (OK, and a debit's NO_CREDIT/DENIED); a refusal (INVALID...)
        changed nothing and is not, so only decisions are replayable."""
        if result.outcome is Outcome.OK or hasattr(result, "items"):
            self.ops.append((call, result))

    # -- rules ----------------------------------------------------------------------------------

    @rule(who=st.sampled_from(NAMES), amount=st.integers(1, 150))
    def topup(self, who: str, amount: int) -> None:
        acct, pay = f"A-{who}", self.next_id("pay")

        def call() -> Awaitable[Any]:
            return self.store.topup(pay, acct, amount, "EUR", now_ms=self.now)

        result = self.run(call())
        assert result.outcome is Outcome.OK
        self.ledger[(acct, "money")] += amount
        self.remember(call, result)

    @rule(who=st.sampled_from(NAMES), units=st.integers(0, 40_000), voice=st.booleans())
    def debit(self, who: str, units: int, voice: bool) -> None:
        acct, op = f"A-{who}", self.next_id("debit")
        items = [DebitItem(20 if voice else 10, None, units, VOICE if voice else DATA)]

        def call() -> Awaitable[Any]:
            return self.store.debit(op, acct, items, now_ms=self.now, subscriber_id=f"S-{who}")

        result = self.run(call())
        for it in result.items:
            self.book(acct, dict(it.charged), -1)
        if result.outcome is Outcome.OK:
            self.debits.append((acct, op))
        self.remember(call, result)

    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        op = self.next_id("refund")
        if self.debits and data.draw(st.booleans()):
            acct, of = data.draw(st.sampled_from(self.debits))
            amount = 0
        else:
            acct, of = f"A-{data.draw(st.sampled_from(NAMES))}", ""
            amount = data.draw(st.integers(1, 50))

        def call() -> Awaitable[Any]:
            return self.store.refund(op, acct, now_ms=self.now, refund_of=of, amount=amount)

        result = self.run(call())
        if result.ok:
            self.book(acct, dict(result.details), +1)
        self.remember(call, result)

    @rule(who=st.sampled_from(NAMES), amount=st.integers(-120, 60))
    def adjust(self, who: str, amount: int) -> None:
        acct, op = f"A-{who}", self.next_id("adjust")

        def call() -> Awaitable[Any]:
            return self.store.adjust(
                op, acct, "money", amount, reason="r", actor="t", now_ms=self.now
            )

        result = self.run(call())
        if result.ok:
            self.ledger[(acct, "money")] += amount
        self.remember(call, result)

    @rule(
        who=st.sampled_from(NAMES),
        requested=st.integers(0, 60_000) | st.just(10**7),
        voice=st.booleans(),
    )
    def initial(self, who: str, requested: int, voice: bool) -> None:
        sid = self.next_id("sess")
        self._session(
            sid,
            f"A-{who}",
            0,
            RequestType.INITIAL,
            [
                item(20, requested=requested // 100, tariff=VOICE)
                if voice
                else item(10, requested=requested)
            ],
        )

    @rule(
        data=st.data(),
        used=st.integers(0, 70_000),
        requested=st.integers(0, 60_000),
        terminate=st.booleans(),
    )
    def update(self, data: st.DataObject, used: int, requested: int, terminate: bool) -> None:
        live = sorted(s for s, (_, _, is_open) in self.sessions.items() if is_open)
        if not live:
            return
        sid = data.draw(st.sampled_from(live))
        acct, rn, _ = self.sessions[sid]
        rt = RequestType.TERMINATE if terminate else RequestType.UPDATE
        self._session(
            sid,
            acct,
            rn + 1,
            rt,
            [
                item(10, used=used, requested=requested),
                item(20, used=used // 100, requested=requested // 100, tariff=VOICE),
            ],
        )

    def _session(self, sid: str, acct: str, rn: int, rt: RequestType, items: list[Any]) -> None:
        who = acct[2:]
        op = SessionOp(
            sid,
            rn,
            rt,
            self.partition,
            self.cust,
            acct,
            f"S-{who}",
            self.now,
            tuple(items),
            "pgw",
            "realm",
        )

        def call() -> Awaitable[Any]:
            return self.store.session(op)

        result = self.run(call())
        if result.outcome is not Outcome.OK:
            assert result.outcome is Outcome.UNKNOWN_SESSION  # swept meanwhile
            self.sessions[sid] = (acct, rn, False)
            return
        for it in result.items:
            self.book(acct, dict(it.charged), -1)
            assert it.reserved >= 0 and it.reserved_money >= 0
            CHECKS["no_credit"] += it.outcome is Outcome.NO_CREDIT
        self.sessions[sid] = (acct, rn, rt is not RequestType.TERMINATE)
        self.last_session_op[sid] = (call, result)

    @rule(ms=st.integers(1, 90_000))
    def time_passes_and_sweep(self, ms: int) -> None:
        self.now += ms
        self.run(expiry.sweep(self.store, self.partition, self.now))

    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        candidates = self.ops + list(self.last_session_op.values())
        if not candidates:
            return
        call, original = data.draw(st.sampled_from(candidates))
        before = self.snapshot()
        again = self.run(call())
        if again.outcome in (Outcome.UNKNOWN_SESSION, Outcome.SESSION_EXISTS):
            # the sweeper closed the session: a late duplicate gets no replay, changes nothing
            sid = next(s for s, (c, _) in self.last_session_op.items() if c is call)
            assert self.run(self.store.get_session(sid, self.partition)) is None
            assert self.snapshot() == before
            return
        assert again.replayed, again
        CHECKS["replays"] += 1
        assert again.outcome == original.outcome
        if hasattr(original, "items"):
            assert again.items == original.items
        assert self.snapshot() == before

    # -- invariants -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Account]:
        accounts = {}
        for name in NAMES:
            found = self.run(self.store.get_account(f"A-{name}"))
            assert found is not None
            accounts[found.id] = found
        return accounts

    @invariant()
    def money_is_conserved_and_reservations_are_exact(self) -> None:
        CHECKS["invariant"] += 1
        CHECKS["member_drew"] = max(CHECKS["member_drew"], self.member_drew)
        accounts = self.snapshot()
        held: dict[tuple[str, str], int] = defaultdict(int)
        member_holds = 0
        seen = set()
        keys = self.store.keys[self.partition]
        for acct in accounts:
            for live in self.run(self.store.live_sessions(acct)):
                if live.session_id in seen:
                    continue
                seen.add(live.session_id)
                view = self.run(self.store.get_session(live.session_id, self.partition))
                assert view is not None
                # the expiry index may be early (the sweeper re-checks), never late
                score = self.run(
                    self.store.execute(
                        keys.slot, "ZSCORE", keys.reservation_expiry, view.session_id
                    )
                )
                assert score is not None and int(score) <= view.expires_ms
                for per_bucket in view.holdings.values():
                    for label, amount in per_bucket.items():
                        owner, _, bucket = label.rpartition("/")
                        held[(owner or view.account_id, bucket)] += amount
                        if view.account_id == "A-member" and label == "A-pool/money":
                            member_holds += amount
        for acct in accounts.values():
            for b in acct.buckets:
                assert b.balance == self.ledger[(acct.id, b.id)], (acct.id, b)
                assert b.reserved >= 0
                assert b.reserved == held[(acct.id, b.id)], (acct.id, b, dict(held))
                floor = -self.credit[acct.id] if b.id == "money" else 0
                assert b.balance >= floor and b.balance - b.reserved >= floor
        # the member's monthly limit on the pool's money: drawn + held never above it
        assert self.member_drew + member_holds <= 120
        events = self.run(read_partition(self.store, self.partition))
        rebuilt = replay(events)
        for acct in accounts.values():
            live = {b.id: b.balance for b in acct.buckets if b.balance}
            assert {k: v for k, v in rebuilt.get(acct.id, {}).items() if v} == live


def test_random_operation_sequences_keep_every_invariant(
    request: pytest.FixtureRequest, target: RedisTarget
) -> None:
    CHECKS.update(dict.fromkeys(CHECKS, 0))
    machine = type(
        "Machine",
        (BalanceMachine,),
        {
            "target": target,
            "flush": staticmethod(flusher(request, target)),
        },
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=100,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    print(f"exercised: {CHECKS}")
    assert CHECKS["invariant"] > 2000 and CHECKS["replays"] > 100 and CHECKS["no_credit"] > 0
    assert CHECKS["member_drew"] > 0  # the pool limit invariant was not vacuous
