"""Caller-chosen idempotency keys (payment ids, adjustment ids) are scoped to the account they
act on, a key reused with other parameters is refused naming it, and no balance passes 2^53."""

from __future__ import annotations

import grpc
import pytest

from ocs.api.v1 import admin_pb2, balance_pb2
from ocs.app import App
from ocs.balance.events import read_partition
from tests.api.conftest import Api, error_info
from tests.api.test_balance import account

MAX = 2**53 - 1


def field_of(error: grpc.aio.AioRpcError) -> str:
    """The field an error names (google.rpc.ErrorInfo metadata)."""
    return str(error_info(error).metadata["field"])


async def _events(ocs: App, account_id: str, kind: str) -> list[str]:
    store = ocs.balance
    found = await store.account_keys(account_id)
    assert found is not None
    events = await read_partition(store, found[0].partition)
    return [e.id for e in events if e.type.value == kind and e.data.get("acct") == account_id]


async def test_one_payment_id_on_two_accounts_is_two_top_ups_with_two_events(
    api: Api, ocs: App
) -> None:
    first, second = await api.customer("4917100001", money=0), await api.customer("4917100002")
    assert ocs.balance.partition_of("C-4917100001") != ocs.balance.partition_of("C-4917100002")
    md = api.as_care
    for own in (first, second):
        reply = await api.balance.TopUp(
            balance_pb2.TopUpRequest(account=account(own), payment_id="pay-7", amount_minor=500),
            metadata=md,
        )
        assert not reply.replayed
    assert (await ocs.balance.get_account(first)).money == 500  # type: ignore[union-attr]
    assert (await ocs.balance.get_account(second)).money == 1500  # type: ignore[union-attr]
    ids = await _events(ocs, first, "topup") + await _events(ocs, second, "topup")
    assert ids == [f"topup:{first}:pay-7", f"topup:{second}:pay-7"]  # unique as the effects are


async def test_a_payment_id_reused_with_another_amount_is_refused_naming_it(
    api: Api, ocs: App
) -> None:
    own = await api.customer("4917100003", money=0)
    md = api.as_care
    first = await api.balance.TopUp(
        balance_pb2.TopUpRequest(account=account(own), payment_id="pay-1", amount_minor=500),
        metadata=md,
    )
    assert first.balance_minor == 500
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.balance.TopUp(
            balance_pb2.TopUpRequest(account=account(own), payment_id="pay-1", amount_minor=700),
            metadata=md,
        )
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert field_of(caught.value) == "payment_id"
    assert "500 EUR" in (caught.value.details() or "")
    same = await api.balance.TopUp(
        balance_pb2.TopUpRequest(account=account(own), payment_id="pay-1", amount_minor=500),
        metadata=md,
    )
    assert same.replayed and same.balance_minor == 500
    assert (await ocs.balance.get_account(own)).money == 500  # type: ignore[union-attr]


async def test_adjustment_ids_are_scoped_and_checked_like_payment_ids(api: Api, ocs: App) -> None:
    first, second = await api.customer("4917100004"), await api.customer("4917100005")
    md = api.as_admin

    def adjust(own: str, amount: int) -> admin_pb2.AdjustBalanceRequest:
        return admin_pb2.AdjustBalanceRequest(
            adjustment_id="fix-1", account_id=own, amount=amount, reason="goodwill"
        )

    assert (await api.admin.AdjustBalance(adjust(first, 100), metadata=md)).balance == 1100
    assert (await api.admin.AdjustBalance(adjust(second, 100), metadata=md)).balance == 1100
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.admin.AdjustBalance(adjust(first, -100), metadata=md)
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert field_of(caught.value) == "adjustment_id"
    assert (await api.admin.AdjustBalance(adjust(first, 100), metadata=md)).replayed
    assert (await ocs.balance.get_account(first)).money == 1100  # type: ignore[union-attr]
    assert await _events(ocs, first, "adjust") == [f"adjust:{first}:fix-1"]
    assert await _events(ocs, second, "adjust") == [f"adjust:{second}:fix-1"]


async def test_no_write_takes_a_balance_past_2_to_the_53(api: Api, ocs: App) -> None:
    own = await api.customer("4917100006", money=0)
    care, admin = api.as_care, api.as_admin
    full = await api.balance.TopUp(
        balance_pb2.TopUpRequest(account=account(own), payment_id="big", amount_minor=MAX),
        metadata=care,
    )
    assert full.balance_minor == MAX
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.balance.TopUp(
            balance_pb2.TopUpRequest(account=account(own), payment_id="cent", amount_minor=1),
            metadata=care,
        )
    assert caught.value.code() is grpc.StatusCode.OUT_OF_RANGE
    assert field_of(caught.value) == "amount_minor"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.admin.AdjustBalance(
            admin_pb2.AdjustBalanceRequest(adjustment_id="a", account_id=own, amount=1, reason="x"),
            metadata=admin,
        )
    assert caught.value.code() is grpc.StatusCode.OUT_OF_RANGE
    refund = await ocs.balance.refund("r", own, now_ms=1, amount=1, unreferenced_cap=10)
    assert refund.outcome.value == "OUT_OF_RANGE"
    assert (await ocs.balance.get_account(own)).money == MAX  # type: ignore[union-attr]
    assert await _events(ocs, own, "topup") == [f"topup:{own}:big"]
