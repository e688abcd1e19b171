"""Building blocks for balance tests: a customer with one account and one subscriber."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ocs.balance.model import (
    Account,
    Identity,
    Outcome,
    RequestType,
    Segment,
    SessionItem,
    SessionOp,
    SessionResult,
    Tariff,
    Unit,
)
from ocs.balance.store import BalanceStore

NOW = 1_790_000_000_000
"""A fixed clock (2026-09-21T...Z): tests step it by hand."""

# 1 money unit per started 1000 octets
DATA = Tariff(Unit.OCTETS, (Segment(0, 1000, 1),))
# 10 per started minute
VOICE = Tariff(Unit.SECONDS, (Segment(0, 60, 10),))


async def make_subscriber(
    store: BalanceStore,
    name: str,
    *,
    opening: int = 0,
    credit_limit: int = 0,
    currency: str = "EUR",
    parent: str = "",
    customer: str = "",
    pool_limit: dict[str, int] | None = None,
    low_balance: int | None = None,
) -> tuple[str, str, str]:
    """(customer, account, subscriber) ids of a new subscriber with MSISDN ``<name>``."""
    cust = customer or f"C-{name}"
    if not customer:
        assert (await store.create_customer(f"c-{name}", cust, now_ms=NOW)).ok
    acct, sub = f"A-{name}", f"S-{name}"
    result = await store.create_account(
        f"a-{name}",
        acct,
        cust,
        currency=currency,
        now_ms=NOW,
        credit_limit=credit_limit,
        opening_balance=opening,
        parent_id=parent,
        pool_limit=pool_limit,
        low_balance=low_balance,
    )
    assert result.ok, result
    result = await store.create_subscriber(
        f"s-{name}", sub, acct, identities=[Identity("e164", name)], now_ms=NOW
    )
    assert result.ok, result
    return cust, acct, sub


def item(
    rg: int = 10,
    *,
    used: int = 0,
    requested: int = 0,
    tariff: Tariff | None = DATA,
    validity_ms: int = 60_000,
    grace_ms: int = 5_000,
    reserve: bool = True,
) -> SessionItem:
    return SessionItem(rg, None, used, requested, tariff, validity_ms, grace_ms, reserve)


async def ccr(
    store: BalanceStore,
    ids: tuple[str, str, str],
    session_id: str,
    rn: int,
    rt: RequestType,
    items: Sequence[SessionItem],
    *,
    now: int = NOW,
    partition: int | None = None,
    **extra: Any,
) -> SessionResult:
    cust, acct, sub = ids
    if partition is None:
        partition = store.partition_of(cust)
    op = SessionOp(
        session_id=session_id,
        request_number=rn,
        request_type=rt,
        partition=partition,
        customer_id=cust,
        account_id=acct,
        subscriber_id=sub,
        now_ms=now,
        items=tuple(items),
        origin_host="pgw.test",
        origin_realm="test",
        **extra,
    )
    return await store.session(op)


async def account(store: BalanceStore, account_id: str) -> Account:
    found = await store.get_account(account_id)
    assert found is not None
    return found


def ok(result: SessionResult) -> SessionResult:
    assert result.outcome is Outcome.OK, result
    return result
