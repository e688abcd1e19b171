"""CreditControl over gRPC: a real grpc.aio server on loopback, the real charging core and
redis-server; and the same usage over Diameter Gy charges the same amounts."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from ocs.api.v1 import admin_pb2, common_pb2
from ocs.api.v1 import credit_control_pb2 as cc
from ocs.app import App
from tests.api.conftest import Api, bad_field, msisdn
from tests.gy.conftest import NOW_MS, diameter_port
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc

MB = 1_000_000
Kind = cc.StreamRequest.Kind


def fix_clock(app: App, ms: int = NOW_MS) -> None:
    app.charging.clock = lambda: ms


def item(
    rg: int,
    *,
    request: bool = True,
    used_octets: int = 0,
    used_seconds: int = 0,
    octets: int | None = None,
    reason: int = 0,
) -> cc.UsageItem:
    usage = cc.UsageItem(rating_group=rg, reporting_reason=reason)  # type: ignore[arg-type]
    if request:
        usage.requested.CopyFrom(
            common_pb2.ServiceUnits(total_octets=octets) if octets else common_pb2.ServiceUnits()
        )
    if used_octets:
        usage.used.append(common_pb2.ServiceUnits(total_octets=used_octets))
    if used_seconds:
        usage.used.append(common_pb2.ServiceUnits(time_seconds=used_seconds))
    return usage


def session(sid: str, rn: int, *items: cc.UsageItem, subscriber: str = "") -> cc.SessionRequest:
    request = cc.SessionRequest(
        session_id=sid,
        request_number=rn,
        service_context_id="32251@3gpp.org",
        items=list(items),
        client_id="pgw-grpc",
    )
    if subscriber:
        request.subscriber.CopyFrom(msisdn(subscriber))
    return request


async def money(app: App, account_id: str) -> int:
    account = await app.balance.get_account(account_id)
    assert account is not None
    return account.money


async def test_a_network_function_runs_a_full_session(api: Api, ocs: App) -> None:
    fix_clock(ocs)
    account = await api.customer("4915100001", money=100)
    md = api.as_nf
    first = await api.cc.Initial(session("s1", 0, item(100), subscriber="4915100001"), metadata=md)
    assert first.result_code == 2001 and first.session_id == "s1"
    data = first.items[0]
    assert (data.rating_group, data.result_code, data.granted.total_octets) == (100, 2001, 10 * MB)
    assert (data.validity_time_seconds, data.quota_threshold) == (3600, 2 * MB)
    assert not data.HasField("final_unit")

    second = await api.cc.Update(session("s1", 1, item(100, used_octets=10 * MB)), metadata=md)
    assert second.items[0].granted.total_octets == 10 * MB
    assert await money(ocs, account) == 80  # 10 started MB at 2 cents
    # a retransmission answers the same and charges nothing again
    again = await api.cc.Update(session("s1", 1, item(100, used_octets=10 * MB)), metadata=md)
    assert again == second
    assert await money(ocs, account) == 80

    last = await api.cc.Terminate(
        session("s1", 2, item(100, request=False, used_octets=3_500_000, reason=3)), metadata=md
    )
    assert last.result_code == 2001 and not last.items[0].HasField("granted")
    assert await money(ocs, account) == 72  # 4 started MB more
    sessions = await ocs.balance.live_sessions(account)
    assert sessions == []

    after = await api.cc.Update(session("s1", 3, item(100)), metadata=md)
    assert after.result_code == 5002  # UNKNOWN_SESSION_ID, as on Diameter


async def test_result_codes_mirror_diameter(api: Api, ocs: App) -> None:
    fix_clock(ocs)
    await api.customer("4915100002", money=10)
    md = api.as_nf
    unknown = await api.cc.Initial(
        session("u1", 0, item(100), subscriber="4915999999"), metadata=md
    )
    assert unknown.result_code == 5030 and unknown.error_message  # USER_UNKNOWN

    first = await api.cc.Initial(session("f1", 0, item(100), subscriber="4915100002"), metadata=md)
    final = first.items[0]
    assert final.granted.total_octets == 5 * MB  # the last 5 MB 10 cents buy
    assert final.final_unit.action == cc.FINAL_UNIT_ACTION_REDIRECT
    assert final.final_unit.redirect_url == "http://topup.demo.local/"

    out_of_order = await api.cc.Update(session("f1", 0, item(100)), metadata=md)
    assert out_of_order.result_code == 2001  # same number: the stored answer (a duplicate)
    await api.cc.Update(session("f1", 2, item(100, used_octets=MB)), metadata=md)
    lower = await api.cc.Update(session("f1", 1, item(100)), metadata=md)
    assert (lower.result_code, lower.failed_field) == (5004, "request_number")
    assert lower.error_message.startswith("request_number ")  # the proto's word, not the AVP's

    not_offered = await api.cc.Initial(
        session("n1", 0, item(100), item(999), subscriber="4915100002"), metadata=md
    )
    assert [i.result_code for i in not_offered.items] == [4012, 5031]  # no credit; no service


async def test_requests_that_cannot_be_understood_name_the_field(api: Api, ocs: App) -> None:
    md = api.as_nf
    cases = [
        (api.cc.Initial(session("", 0, item(100), subscriber="491"), metadata=md), "session_id"),
        (api.cc.Initial(session("x", 0, item(100)), metadata=md), "subscriber"),
        (
            api.cc.Initial(session("x", 0, item(100, octets=2**53), subscriber="491"), metadata=md),
            "items[0].requested.total_octets",
        ),
        (
            api.cc.Event(
                cc.EventRequest(session_id="e", subscriber=msisdn("491"), action=9), metadata=md
            ),  # type: ignore[arg-type]
            "action",
        ),
    ]
    for pending, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pending
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert bad_field(caught.value) == field
        assert field in (caught.value.details() or "")


async def test_events_price_debit_check_and_refund(api: Api, ocs: App) -> None:
    fix_clock(ocs)
    account = await api.customer("4915100003", money=20)
    md = api.as_nf
    sms = cc.UsageItem(
        rating_group=300, requested=common_pb2.ServiceUnits(service_specific_units=1)
    )

    def event(n: int, action: int, usage: cc.UsageItem | None = sms) -> cc.EventRequest:
        request = cc.EventRequest(
            session_id="smsc;1",
            request_number=n,
            subscriber=msisdn("4915100003"),
            service_context_id="32274@3gpp.org",
            action=action,  # type: ignore[arg-type]
        )
        if usage is not None:
            request.item.CopyFrom(usage)
        return request

    price = await api.cc.Event(event(0, cc.REQUESTED_ACTION_PRICE_ENQUIRY), metadata=md)
    assert (price.cost.amount, price.cost.exponent, price.cost.currency) == (9, -2, "EUR")
    assert price.cost.currency_code == 978
    check = await api.cc.Event(event(1, cc.REQUESTED_ACTION_CHECK_BALANCE), metadata=md)
    assert check.check_balance == cc.CHECK_BALANCE_RESULT_ENOUGH_CREDIT
    debit = await api.cc.Event(event(2, cc.REQUESTED_ACTION_DIRECT_DEBITING), metadata=md)
    assert debit.result_code == 2001 and debit.cost.amount == 9
    assert (await api.cc.Event(event(2, cc.REQUESTED_ACTION_DIRECT_DEBITING), metadata=md)) == debit
    assert await money(ocs, account) == 11  # charged once
    assert debit.refund_reference
    unnamed = await api.cc.Event(event(3, cc.REQUESTED_ACTION_REFUND_ACCOUNT), metadata=md)
    assert (unnamed.result_code, unnamed.failed_field) == (5005, "refund_reference")
    named = event(3, cc.REQUESTED_ACTION_REFUND_ACCOUNT)
    named.refund_reference = debit.refund_reference
    refund = await api.cc.Event(named, metadata=md)
    assert refund.result_code == 2001 and refund.cost.amount == 9
    assert await money(ocs, account) == 20
    missing = await api.cc.Event(event(4, cc.REQUESTED_ACTION_DIRECT_DEBITING, None), metadata=md)
    assert (missing.result_code, missing.failed_field) == (5005, "item.requested")
    assert missing.error_message == "item.requested is required"
    await api.cc.Event(event(5, cc.REQUESTED_ACTION_DIRECT_DEBITING), metadata=md)
    await api.cc.Event(event(6, cc.REQUESTED_ACTION_DIRECT_DEBITING), metadata=md)
    broke = await api.cc.Event(event(7, cc.REQUESTED_ACTION_DIRECT_DEBITING), metadata=md)
    assert broke.result_code == 4012 and await money(ocs, account) == 2


async def test_the_stream_answers_a_mix_by_tag_and_goes_on_after_a_bad_request(
    api: Api, ocs: App
) -> None:
    fix_clock(ocs)
    accounts = [await api.customer(f"49151100{n:02d}", money=1000) for n in range(8)]
    requests = []
    for n in range(8):
        requests.append(
            cc.StreamRequest(
                tag=n,
                kind=Kind.KIND_INITIAL,
                request=session(f"st{n}", 0, item(100), subscriber=f"49151100{n:02d}"),
            )
        )
    requests.append(cc.StreamRequest(tag=100, kind=Kind.KIND_UNSPECIFIED))
    requests.append(cc.StreamRequest(tag=101, kind=Kind.KIND_INITIAL, request=session("", 0)))
    requests.append(
        cc.StreamRequest(
            tag=102,
            kind=Kind.KIND_EVENT,
            event=cc.EventRequest(
                session_id="ev",
                subscriber=msisdn("4915110000"),
                action=cc.REQUESTED_ACTION_PRICE_ENQUIRY,
                item=cc.UsageItem(
                    rating_group=300, requested=common_pb2.ServiceUnits(service_specific_units=2)
                ),
            ),
        )
    )
    for n in range(8):
        requests.append(
            cc.StreamRequest(
                tag=200 + n,
                kind=Kind.KIND_TERMINATE,
                request=session(f"st{n}", 1, item(100, request=False, used_octets=MB)),
            )
        )

    initials_answered = asyncio.Event()

    async def source():  # type: ignore[no-untyped-def]
        for request in requests[:11]:
            yield request
        await asyncio.wait_for(initials_answered.wait(), 10)  # a terminate follows its initial
        for request in requests[11:]:
            yield request

    answers = {}
    async for answer in api.cc.Stream(source(), metadata=api.as_nf):
        answers[answer.tag] = answer
        if all(n in answers for n in range(8)):
            initials_answered.set()
    assert sorted(answers) == sorted(r.tag for r in requests)
    for n in range(8):
        assert answers[n].response.items[0].granted.total_octets == 10 * MB
        assert answers[200 + n].response.result_code == 2001
    assert answers[100].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "kind" in answers[100].error.message
    assert answers[101].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert answers[102].event.cost.amount == 18
    for account in accounts:
        assert await money(ocs, account) == 998


async def test_an_unreachable_balance_store_is_unavailable(api: Api, ocs: App) -> None:
    await api.customer("4915100004")
    await ocs.balance.stop()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.cc.Initial(
            session("dn", 0, item(100), subscriber="4915100004"), metadata=api.as_nf
        )
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


# ------------------------------------------------------------------ gRPC == Diameter

SCRIPT = [
    # (request type, per rating group: (requested?, used units))
    (INITIAL, {100: (True, 0), 200: (True, 0)}),
    (UPDATE, {100: (True, 3_500_000), 200: (True, 61)}),
    (UPDATE, {100: (True, 12_000_001), 200: (True, 299)}),
    (UPDATE, {100: (True, 9_999_999), 200: (True, 1)}),
    (TERMINATE, {100: (False, 4_200_000), 200: (False, 130)}),
]


@pytest.mark.parametrize("offers", [("payg",), ("payg", "bundle_s")])
async def test_grpc_and_diameter_charge_the_same_for_the_same_usage(
    api: Api, ocs: App, offers: tuple[str, ...]
) -> None:
    fix_clock(ocs)
    tag = str(len(offers))
    over_grpc = await api.customer(f"49152000{tag}1", money=800)
    over_diameter = await api.customer(f"49152000{tag}2", money=800)
    for msisdn_ in (f"49152000{tag}1", f"49152000{tag}2"):
        for offer in offers[1:]:
            order = await api.admin.PurchaseOffer(
                admin_pb2.PurchaseOfferRequest(
                    order_id=f"o-{msisdn_}", subscriber=msisdn(msisdn_), offer_id=offer
                ),
                metadata=api.as_admin,
            )
            assert order.state == admin_pb2.ORDER_STATE_COMPLETED

    gateway = await Gateway.connect(diameter_port(ocs))
    try:
        sid = gateway.new_session()
        grpc_grants, diameter_grants = [], []
        for rn, (kind, groups) in enumerate(SCRIPT):
            items = [
                item(
                    rg,
                    request=req,
                    used_octets=used if rg == 100 else 0,
                    used_seconds=used if rg == 200 else 0,
                )
                for rg, (req, used) in groups.items()
            ]
            request = session(
                "g-" + sid, rn, *items, subscriber=f"49152000{tag}1" if rn == 0 else ""
            )
            method = {INITIAL: api.cc.Initial, UPDATE: api.cc.Update, TERMINATE: api.cc.Terminate}
            answer = await method[kind](request, metadata=api.as_nf)
            grpc_grants.append(
                {
                    i.rating_group: (
                        i.result_code,
                        i.granted.total_octets or i.granted.time_seconds,
                    )
                    for i in answer.items
                }
            )
            mscc = [
                Mscc(
                    rg,
                    request=req,
                    used_octets=used if rg == 100 and used else None,
                    used_seconds=used if rg == 200 and used else None,
                )
                for rg, (req, used) in groups.items()
            ]
            cca = await gateway.ccr(
                sid, kind, rn, msisdn=f"49152000{tag}2" if rn == 0 else None, mscc=mscc
            )
            diameter_grants.append(
                {rg: (g.result_code, g.granted or 0) for rg, g in cca.grants.items()}
            )
    finally:
        await gateway.close()
    assert grpc_grants == diameter_grants
    g_account = await ocs.balance.get_account(over_grpc)
    d_account = await ocs.balance.get_account(over_diameter)
    assert g_account is not None and d_account is not None
    assert g_account.money == d_account.money
    spent = g_account.money < 800 - 499 * (len(offers) - 1)
    assert spent or any(b.balance < b.initial for b in g_account.buckets if b.id != "money")
    strip = lambda buckets: sorted((b.id.split(".")[:2], b.balance, b.reserved) for b in buckets)  # noqa: E731
    assert strip(g_account.buckets) == strip(d_account.buckets)
