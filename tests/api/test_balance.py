"""The Balance service on the real server: balances, idempotent top-ups under concurrent
retries, usage history from the charge events, and WatchBalance fed by a Diameter session."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import pytest

from ocs.api.v1 import admin_pb2, balance_pb2
from ocs.app import App
from ocs.diameter.constants import Command
from tests.api.conftest import Api, bad_field, msisdn
from tests.gy.conftest import diameter_port
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc

MB = 1_000_000


def account(account_id: str) -> balance_pb2.AccountSelector:
    return balance_pb2.AccountSelector(account_id=account_id)


async def buy(api: Api, number: str, offer: str, order: str = "") -> admin_pb2.Order:
    return await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(
            order_id=order or f"o-{number}-{offer}", subscriber=msisdn(number), offer_id=offer
        ),
        metadata=api.as_admin,
    )


async def test_get_balance_shows_buckets_with_what_they_apply_to(api: Api) -> None:
    own = await api.customer("4917000001", money=1500, credit_limit=500)
    await buy(api, "4917000001", "bundle_s")
    view = await api.balance.GetBalance(account(own), metadata=api.as_subscriber(own))
    assert (view.account_id, view.currency, view.credit_limit) == (own, "EUR", 500)
    assert view.minor_unit_digits == 2
    assert view.money_available == 1500 - 499 + 500  # the bundle's price; credit limit included
    buckets = {b.id.split(".")[1] if "." in b.id else b.id: b for b in view.buckets}
    assert set(buckets) == {"money", "data", "voice", "sms"}
    data = buckets["data"]
    assert (data.unit, data.balance, data.available, data.initial) == (
        "octets",
        500 * MB,
        500 * MB,
        500 * MB,
    )
    assert list(data.applies_to) == [100] and list(data.services) == ["internet"]
    assert data.expires_ms - data.valid_from_ms == 30 * 86_400_000 and data.source == "bundle_s"
    by_subscriber = await api.balance.GetBalance(
        balance_pb2.AccountSelector(subscriber=msisdn("4917000001")), metadata=api.as_care
    )
    assert by_subscriber == view


async def test_top_up_is_idempotent_by_payment_id_under_concurrent_retries(
    api: Api, ocs: App
) -> None:
    own = await api.customer("4917000002", money=0)
    md = api.as_care
    payments = {f"pay-{n}": 100 + n for n in range(5)}

    async def top_up(payment: str) -> balance_pb2.TopUpResponse:
        request = balance_pb2.TopUpRequest(
            account=account(own), payment_id=payment, amount_minor=payments[payment], currency="EUR"
        )
        return await api.balance.TopUp(request, metadata=md)

    attempts = [payment for payment in payments for _ in range(8)]  # 8 retries of each, at once
    replies = await asyncio.gather(*(top_up(p) for p in attempts))
    fresh = Counter(p for p, r in zip(attempts, replies, strict=True) if not r.replayed)
    assert fresh == Counter(set(payments))  # each payment applied exactly once
    final = await ocs.balance.get_account(own)
    assert final is not None and final.money == sum(payments.values())
    again = await top_up("pay-0")
    assert again.replayed and again.balance_minor == replies[0].balance_minor


async def test_top_up_refusals_name_the_field(api: Api) -> None:
    own = await api.customer("4917000003")
    md = api.as_admin
    cases = [
        (
            balance_pb2.TopUpRequest(account=account(own), payment_id="p", amount_minor=0),
            "amount_minor",
        ),
        (balance_pb2.TopUpRequest(account=account(own), amount_minor=5), "payment_id"),
        (balance_pb2.TopUpRequest(payment_id="p", amount_minor=5), "account"),
        (
            balance_pb2.TopUpRequest(
                account=account(own), payment_id="p", amount_minor=5, currency="USD"
            ),
            "currency",
        ),
    ]
    for request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.balance.TopUp(request, metadata=md)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, field
        assert bad_field(caught.value) == field
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.balance.TopUp(
            balance_pb2.TopUpRequest(account=account("A-none"), payment_id="p", amount_minor=5),
            metadata=md,
        )
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_top_up_reauthorizes_a_blocked_diameter_session(api: Api, ocs: App) -> None:
    own = await api.customer("4917000004", money=0)
    gateway = await Gateway.connect(diameter_port(ocs))
    try:
        sid = gateway.new_session()
        refused = await gateway.ccr(
            sid, INITIAL, 0, msisdn="4917000004", mscc=[Mscc(100, request=True)]
        )
        assert refused[100].result_code == 4012
        reply = await api.balance.TopUp(
            balance_pb2.TopUpRequest(account=account(own), payment_id="pay-rar", amount_minor=500),
            metadata=api.as_care,
        )
        assert reply.sessions_reauthorized == 1 and reply.balance_minor == 500
        await gateway.wait_for_request(Command.RE_AUTH, sid)
    finally:
        await gateway.close()


async def test_usage_history_pages_newest_first_and_filters(api: Api, ocs: App) -> None:
    own = await api.customer("4917000005", money=5000)
    gateway = await Gateway.connect(diameter_port(ocs))
    try:
        sid = gateway.new_session()
        await gateway.ccr(
            sid,
            INITIAL,
            0,
            msisdn="4917000005",
            mscc=[Mscc(100, request=True), Mscc(200, request=True)],
        )
        await gateway.ccr(
            sid,
            UPDATE,
            1,
            mscc=[
                Mscc(100, request=True, used_octets=3 * MB),
                Mscc(200, request=True, used_seconds=60),
            ],
        )
        await gateway.ccr(sid, TERMINATE, 2, mscc=[Mscc(100, used_octets=MB)])
    finally:
        await gateway.close()
    await api.balance.TopUp(
        balance_pb2.TopUpRequest(account=account(own), payment_id="pay-h", amount_minor=250),
        metadata=api.as_care,
    )
    md = api.as_subscriber(own)
    everything = await api.balance.ListUsage(
        balance_pb2.ListUsageRequest(account=account(own)), metadata=md
    )
    kinds = [(r.type, r.service, r.units, r.money_minor) for r in everything.records]
    assert kinds[0] == ("topup", "", 0, -250)  # newest first, credits negative
    assert ("session", "internet", MB, 2) in kinds and ("session", "internet", 3 * MB, 6) in kinds
    assert any(k[:3] == ("session", "voice", 60) for k in kinds)
    assert all(r.account_id == own for r in everything.records)
    assert everything.next_page_token == "" and everything.history_from_ms > 0

    pages, token = [], ""
    while True:
        page = await api.balance.ListUsage(
            balance_pb2.ListUsageRequest(account=account(own), page_size=1, page_token=token),
            metadata=md,
        )
        pages.extend(page.records)
        token = page.next_page_token
        if not token:
            break
    assert [r.event_id for r in pages] == [r.event_id for r in everything.records]

    data = await api.balance.ListUsage(
        balance_pb2.ListUsageRequest(account=account(own), service="internet"), metadata=md
    )
    assert [r.units for r in data.records] == [MB, 3 * MB]
    voice = await api.balance.ListUsage(
        balance_pb2.ListUsageRequest(account=account(own), rating_group=200), metadata=md
    )
    assert [r.service for r in voice.records] == ["voice"]
    newest = everything.records[0].time_ms
    later = await api.balance.ListUsage(
        balance_pb2.ListUsageRequest(account=account(own), from_ms=newest + 1), metadata=md
    )
    assert list(later.records) == []
    for request, field in (
        (balance_pb2.ListUsageRequest(account=account(own), page_token="bogus"), "page_token"),
        (balance_pb2.ListUsageRequest(account=account(own), page_size=501), "page_size"),
        (balance_pb2.ListUsageRequest(account=account(own), service="telepathy"), "service"),
        (balance_pb2.ListUsageRequest(account=account(own), from_ms=5, to_ms=5), "to_ms"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.balance.ListUsage(request, metadata=md)
        assert bad_field(caught.value) == field


async def test_watch_balance_sends_the_threshold_when_a_diameter_session_passes_it(
    api: Api, ocs: App
) -> None:
    own = await api.customer("4917000006", money=1000)
    await buy(api, "4917000006", "bundle_s")  # 500 MB, thresholds at 80 and 100 %
    watch = api.balance.WatchBalance(account(own), metadata=api.as_subscriber(own))
    snapshot = await watch.read()
    assert snapshot.type == "snapshot" and snapshot.money_balance == 501
    gateway = await Gateway.connect(diameter_port(ocs))
    try:
        sid = gateway.new_session()
        await gateway.ccr(sid, INITIAL, 0, msisdn="4917000006", mscc=[Mscc(100, request=True)])
        await gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=410 * MB)])
        seen = []
        async with asyncio.timeout(10):
            while True:
                note = await watch.read()
                seen.append(note)
                if note.type == "threshold":
                    break
    finally:
        await gateway.close()
        watch.cancel()
    threshold = seen[-1]
    assert threshold.threshold.kind == "used_percent" and threshold.threshold.percent_used == 80
    assert threshold.threshold.bucket_id.startswith("bundle_s.data.")
    assert threshold.threshold.remaining == 90 * MB
    assert threshold.subscriber_id == "S-4917000006"
    assert [b.id for b in threshold.buckets] == [threshold.threshold.bucket_id]
    assert any(n.type == "session" for n in seen[:-1])


async def test_watchers_see_their_own_account_only(api: Api) -> None:
    own = await api.customer("4917000007")
    other = await api.customer("4917000008")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        watch = api.balance.WatchBalance(account(other), metadata=api.as_subscriber(own))
        await watch.read()
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    watch = api.balance.WatchBalance(account(own), metadata=api.as_subscriber(own))
    assert (await watch.read()).type == "snapshot"
    for target, payment in ((other, "pay-other"), (own, "pay-own")):
        await api.balance.TopUp(
            balance_pb2.TopUpRequest(account=account(target), payment_id=payment, amount_minor=7),
            metadata=api.as_care,
        )
    note = await watch.read()
    assert (note.type, note.money_balance, note.event_id) == ("topup", 1007, f"topup:{own}:pay-own")
    watch.cancel()
