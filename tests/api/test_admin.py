"""The Admin service on the real server: provisioning, status (ASR on terminate), sessions,
offers and orders (including an interrupted fulfilment), adjustments, the customer view."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from ocs.api.v1 import admin_pb2, balance_pb2, common_pb2
from ocs.api.v1 import credit_control_pb2 as cc
from ocs.app import App
from ocs.balance.errors import BalanceUnavailable
from ocs.diameter.constants import Command
from tests.api.conftest import Api, bad_field, msisdn
from tests.gy.conftest import diameter_port
from tests.gy.gateway import INITIAL, UPDATE, Gateway, Mscc

MB = 1_000_000
ACTIVE, SUSPENDED, TERMINATED = (
    admin_pb2.SUBSCRIBER_STATUS_ACTIVE,
    admin_pb2.SUBSCRIBER_STATUS_SUSPENDED,
    admin_pb2.SUBSCRIBER_STATUS_TERMINATED,
)


async def fails(pending: Any, code: grpc.StatusCode, field: str = "") -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await pending
    assert caught.value.code() is code, caught.value.details()
    if field:
        assert bad_field(caught.value) == field
    return caught.value


def initial(sid: str, number: str, rg: int = 100, visited: str = "") -> cc.SessionRequest:
    return cc.SessionRequest(
        session_id=sid,
        subscriber=msisdn(number),
        items=[cc.UsageItem(rating_group=rg, requested=common_pb2.ServiceUnits())],
        service_info=cc.ServiceInfo(visited_network=visited),
        client_id="pgw-grpc",
    )


async def test_an_operator_provisions_a_customer_buys_an_offer_and_sees_the_buckets(
    api: Api,
) -> None:
    md = api.as_admin
    customer = await api.admin.CreateCustomer(
        admin_pb2.CreateCustomerRequest(
            customer_id="C-ada", name="Ada", profile={"email": "ada@example.org"}
        ),
        metadata=md,
    )
    assert (customer.customer_id, customer.profile["email"]) == ("C-ada", "ada@example.org")
    account = await api.admin.CreateAccount(
        admin_pb2.CreateAccountRequest(
            account_id="A-ada",
            customer_id="C-ada",
            opening_balance=2000,
            timezone="Europe/Paris",
            bill_cycle_day=15,
            low_balance=100,
        ),
        metadata=md,
    )
    assert (account.kind, account.currency, account.bill_cycle_day) == (
        admin_pb2.ACCOUNT_KIND_PREPAID,
        "EUR",
        15,
    )
    assert account.low_balance == 100 and account.status == "active"
    subscriber = await api.admin.CreateSubscriber(
        admin_pb2.CreateSubscriberRequest(
            subscriber_id="S-ada",
            account_id="A-ada",
            msisdn="4918000001",
            imsi="001010000000777",
            sip_uris=["sip:ada@ims.example"],
            base_offer="payg",
        ),
        metadata=md,
    )
    assert (subscriber.msisdn, subscriber.imsi, list(subscriber.offers)) == (
        "4918000001",
        "001010000000777",
        ["payg"],
    )
    order = await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(
            order_id="ord-1",
            subscriber=common_pb2.SubscriberRef(imsi="001010000000777"),
            offer_id="bundle_m",
        ),
        metadata=md,
    )
    assert order.state == admin_pb2.ORDER_STATE_COMPLETED and order.charged_minor == 999
    assert sorted(order.bucket_ids) == [
        "bundle_m.data.ord-1",
        "bundle_m.sms.ord-1",
        "bundle_m.voice.ord-1",
    ]
    seen = await api.admin.GetAccount(admin_pb2.GetAccountRequest(account_id="A-ada"), metadata=md)
    buckets = {b.id: b for b in seen.buckets}
    assert buckets["money"].balance == 2000 - 999
    assert buckets["bundle_m.data.ord-1"].balance == 5_000 * MB
    assert list(buckets["bundle_m.data.ord-1"].services) == ["internet", "video"]
    held = await api.admin.GetSubscriber(
        common_pb2.SubscriberRef(subscriber_id="S-ada"), metadata=md
    )
    assert list(held.offers) == ["payg", "bundle_m"]
    assert (
        await api.admin.GetCustomer(admin_pb2.GetCustomerRequest(customer_id="C-ada"), metadata=md)
    ).account_ids == ["A-ada"]


async def test_provisioning_refusals(api: Api) -> None:
    await api.customer("4918000002")
    md = api.as_admin
    A = admin_pb2
    await fails(
        api.admin.CreateCustomer(A.CreateCustomerRequest(customer_id="C-4918000002"), metadata=md),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    await fails(
        api.admin.CreateCustomer(A.CreateCustomerRequest(customer_id="bad/id"), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
        "customer_id",
    )
    account = A.CreateAccountRequest(account_id="A-new", customer_id="C-4918000002")
    for change, field in (
        ({"customer_id": "C-none"}, ""),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"bill_cycle_day": 31}, "bill_cycle_day"),
        ({"kind": A.ACCOUNT_KIND_POSTPAID}, "credit_limit"),
        ({"credit_limit": 100}, "credit_limit"),
        ({"currency": "USD"}, "currency"),
        ({"pool_limits": {"octets": 5}}, "pool_limits"),
    ):
        request = A.CreateAccountRequest()
        request.CopyFrom(account)
        for key, value in change.items():
            if key == "pool_limits":
                request.pool_limits.update(value)  # type: ignore[arg-type]
            else:
                setattr(request, key, value)
        code = grpc.StatusCode.NOT_FOUND if not field else grpc.StatusCode.INVALID_ARGUMENT
        await fails(api.admin.CreateAccount(request, metadata=md), code, field)
    await fails(
        api.admin.CreateAccount(
            A.CreateAccountRequest(account_id="A-4918000002", customer_id="C-4918000002"),
            metadata=md,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    sub = A.CreateSubscriberRequest(subscriber_id="S-new", account_id="A-4918000002")
    await fails(
        api.admin.CreateSubscriber(sub, metadata=md), grpc.StatusCode.INVALID_ARGUMENT, "msisdn"
    )
    taken = A.CreateSubscriberRequest(
        subscriber_id="S-new", account_id="A-4918000002", imsi="00101999", msisdn="4918000002"
    )
    error = await fails(
        api.admin.CreateSubscriber(taken, metadata=md), grpc.StatusCode.ALREADY_EXISTS
    )
    assert "msisdn" in (error.details() or "")
    for change, field, code in (
        ({"base_offer": "bundle_s"}, "base_offer", grpc.StatusCode.INVALID_ARGUMENT),
        ({"base_offer": "gold"}, "", grpc.StatusCode.NOT_FOUND),
        ({"account_id": "A-none"}, "", grpc.StatusCode.NOT_FOUND),
        ({"msisdn": "49-18"}, "msisdn", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        request = A.CreateSubscriberRequest(
            subscriber_id="S-new2", account_id="A-4918000002", msisdn="4918000099"
        )
        for key, value in change.items():
            setattr(request, key, value)
        await fails(api.admin.CreateSubscriber(request, metadata=md), code, field)
    await fails(
        api.admin.GetSubscriber(msisdn("4918999999"), metadata=md), grpc.StatusCode.NOT_FOUND
    )
    await fails(
        api.admin.GetSubscriber(common_pb2.SubscriberRef(), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_suspend_resume_and_terminate(api: Api, ocs: App) -> None:
    await api.customer("4918000003", money=1000)
    md, nf = api.as_care, api.as_nf
    ref = msisdn("4918000003")

    def status(value: int, reason: str = "care call") -> admin_pb2.SetSubscriberStatusRequest:
        return admin_pb2.SetSubscriberStatusRequest(subscriber=ref, status=value, reason=reason)  # type: ignore[arg-type]

    await fails(
        api.admin.SetSubscriberStatus(status(SUSPENDED, ""), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
        "reason",
    )
    suspended = await api.admin.SetSubscriberStatus(status(SUSPENDED), metadata=md)
    assert suspended.status == SUSPENDED
    denied = await api.cc.Initial(initial("sus-1", "4918000003"), metadata=nf)
    assert denied.items[0].result_code == 4010  # END_USER_SERVICE_DENIED
    assert (await api.admin.SetSubscriberStatus(status(ACTIVE), metadata=md)).status == ACTIVE
    granted = await api.cc.Initial(initial("sus-2", "4918000003"), metadata=nf)
    assert granted.items[0].result_code == 2001

    gateway = await Gateway.connect(diameter_port(ocs))
    try:
        sid = gateway.new_session()
        await gateway.ccr(sid, INITIAL, 0, msisdn="4918000003", mscc=[Mscc(100, request=True)])
        sessions = await api.admin.ListSessions(ref, metadata=md)
        gateways = sorted((s.gateway, s.state) for s in sessions.sessions)
        assert gateways == [  # the refused one waits for credit or status
            ("grpc:pgw-grpc", "blocked"),
            ("grpc:pgw-grpc", "ok"),
            ("pgw1.mno.example", "ok"),
        ]
        terminated = await api.admin.SetSubscriberStatus(
            status(TERMINATED, "contract ended"), metadata=md
        )
        assert terminated.status == TERMINATED
        await gateway.wait_for_request(Command.ABORT_SESSION, sid)  # ASR to the Diameter gateway
        after = await gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=1)])
        assert after[100].result_code == 4010
    finally:
        await gateway.close()
    error = await fails(
        api.admin.SetSubscriberStatus(status(ACTIVE), metadata=md),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "terminated" in (error.details() or "")


async def test_a_bought_offer_rates_at_once_and_a_cancel_removes_it(api: Api, ocs: App) -> None:
    own = await api.customer("4918000004", money=1000)
    md, nf = api.as_admin, api.as_nf
    ref = msisdn("4918000004")
    roaming = await api.cc.Initial(initial("r-1", "4918000004", visited="20801"), metadata=nf)
    assert roaming.items[0].granted.total_octets == 10 * MB
    await api.cc.Terminate(
        cc.SessionRequest(
            session_id="r-1",
            request_number=1,
            items=[
                cc.UsageItem(rating_group=100, used=[common_pb2.ServiceUnits(total_octets=10 * MB)])
            ],
        ),
        metadata=nf,
    )
    before = (
        await api.balance.GetBalance(balance_pb2.AccountSelector(account_id=own), metadata=md)
    ).money_available
    assert before == 1000 - 20  # payg EU roaming: 2 cents per MB
    order = await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(order_id="roam-1", subscriber=ref, offer_id="roam_eu"),
        metadata=md,
    )
    assert order.state == admin_pb2.ORDER_STATE_COMPLETED and order.charged_minor == 299
    # the roaming pass's allowance pays for EU data at once (the rating profile was dropped)
    await api.cc.Initial(initial("r-2", "4918000004", visited="20801"), metadata=nf)
    await api.cc.Terminate(
        cc.SessionRequest(
            session_id="r-2",
            request_number=1,
            items=[
                cc.UsageItem(rating_group=100, used=[common_pb2.ServiceUnits(total_octets=10 * MB)])
            ],
        ),
        metadata=nf,
    )
    account = await ocs.balance.get_account(own)
    assert account is not None and account.money == 1000 - 20 - 299
    assert account.bucket("roam_eu.roam-data.roam-1").balance == 990 * MB  # type: ignore[union-attr]

    again = await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(order_id="roam-1", subscriber=ref, offer_id="roam_eu"),
        metadata=md,
    )
    assert again == order  # the same order: nothing charged again
    await fails(
        api.admin.PurchaseOffer(
            admin_pb2.PurchaseOfferRequest(
                order_id="roam-1", subscriber=ref, offer_id="voice_pack"
            ),
            metadata=md,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    cancel = await api.admin.CancelOffer(
        admin_pb2.CancelOfferRequest(order_id="cancel-1", subscriber=ref, offer_id="roam_eu"),
        metadata=md,
    )
    assert cancel.state == admin_pb2.ORDER_STATE_COMPLETED and list(cancel.bucket_ids) == [
        "roam_eu.roam-data.roam-1"
    ]
    account = await ocs.balance.get_account(own)
    assert account is not None and account.bucket("roam_eu.roam-data.roam-1") is None
    held = await api.admin.GetSubscriber(ref, metadata=md)
    assert list(held.offers) == ["payg"]
    await fails(
        api.admin.CancelOffer(
            admin_pb2.CancelOfferRequest(order_id="cancel-2", subscriber=ref, offer_id="roam_eu"),
            metadata=md,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    got = await api.admin.GetOrder(
        admin_pb2.GetOrderRequest(order_id="cancel-1"), metadata=api.as_care
    )
    assert got == cancel
    await fails(
        api.admin.GetOrder(admin_pb2.GetOrderRequest(order_id="nope"), metadata=md),
        grpc.StatusCode.NOT_FOUND,
    )
    base = await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(order_id="b-1", subscriber=ref, offer_id="payg"), metadata=md
    )
    assert base.state == admin_pb2.ORDER_STATE_COMPLETED  # the base offer held: nothing changes


async def test_an_order_without_credit_fails_and_charges_nothing(api: Api, ocs: App) -> None:
    own = await api.customer("4918000005", money=100)
    order = await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(
            order_id="poor-1", subscriber=msisdn("4918000005"), offer_id="bundle_s"
        ),
        metadata=api.as_admin,
    )
    assert (
        order.state == admin_pb2.ORDER_STATE_FAILED
        and order.failure == "no credit for the offer price"
    )
    assert order.charged_minor == 0 and list(order.bucket_ids) == []
    account = await ocs.balance.get_account(own)
    assert account is not None and account.money == 100 and len(account.buckets) == 1


@pytest.mark.parametrize("executed", [True, False], ids=["reply-lost", "never-sent"])
async def test_an_interrupted_order_is_resumed_by_its_id_and_charged_once(
    api: Api, ocs: App, monkeypatch: pytest.MonkeyPatch, executed: bool
) -> None:
    """The connection to Redis drops around the purchase script, after Redis ran it (its
    reply lost) or before it was sent: the order stays ACCEPTED; repeating the request
    completes it, and the price is charged once."""
    own = await api.customer("4918000006", money=1000)
    real = ocs.balance.purchase

    async def lost_connection(*args: Any, **kwargs: Any) -> Any:  # the fault: Redis goes away
        if executed:
            await real(*args, **kwargs)
        raise BalanceUnavailable("connection lost")

    monkeypatch.setattr(ocs.balance, "purchase", lost_connection)
    request = admin_pb2.PurchaseOfferRequest(
        order_id="crash-1", subscriber=msisdn("4918000006"), offer_id="bundle_s"
    )
    await fails(
        api.admin.PurchaseOffer(request, metadata=api.as_admin), grpc.StatusCode.UNAVAILABLE
    )
    halfway = await api.admin.GetOrder(
        admin_pb2.GetOrderRequest(order_id="crash-1"), metadata=api.as_admin
    )
    assert halfway.state == admin_pb2.ORDER_STATE_ACCEPTED
    expected = 501 if executed else 1000
    assert (await ocs.balance.get_account(own)).money == expected  # type: ignore[union-attr]

    monkeypatch.setattr(ocs.balance, "purchase", real)
    done = await api.admin.PurchaseOffer(request, metadata=api.as_admin)
    assert done.state == admin_pb2.ORDER_STATE_COMPLETED and done.charged_minor == 499
    account = await ocs.balance.get_account(own)
    assert account is not None and account.money == 501  # charged once
    assert sorted(b.id for b in account.buckets) == sorted([*done.bucket_ids, "money"])


async def test_adjustments_are_idempotent_and_never_cross_the_floor(api: Api) -> None:
    own = await api.customer("4918000007", money=100)
    md = api.as_care

    def adjust(adjustment: str, amount: int, bucket: str = "", reason: str = "goodwill") -> Any:
        return api.admin.AdjustBalance(
            admin_pb2.AdjustBalanceRequest(
                adjustment_id=adjustment,
                account_id=own,
                amount=amount,
                bucket_id=bucket,
                reason=reason,
            ),
            metadata=md,
        )

    first = await adjust("adj-1", 50)
    assert (first.balance, first.replayed) == (150, False)
    assert (await adjust("adj-1", 50)).replayed
    await fails(adjust("adj-2", -151), grpc.StatusCode.FAILED_PRECONDITION)
    await fails(adjust("adj-3", 5, bucket="nope"), grpc.StatusCode.NOT_FOUND)
    await fails(adjust("adj-4", 5, reason=""), grpc.StatusCode.INVALID_ARGUMENT, "reason")
    await fails(adjust("adj-5", 0), grpc.StatusCode.INVALID_ARGUMENT, "amount")
    assert (await adjust("adj-6", -150)).balance == 0


async def test_the_customer_view_has_everything_in_one_call(api: Api, ocs: App) -> None:
    own = await api.customer("4918000008", money=1000)
    await api.cc.Initial(initial("v-1", "4918000008"), metadata=api.as_nf)
    await api.cc.Terminate(
        cc.SessionRequest(
            session_id="v-1",
            request_number=1,
            items=[
                cc.UsageItem(rating_group=100, used=[common_pb2.ServiceUnits(total_octets=3 * MB)])
            ],
        ),
        metadata=api.as_nf,
    )
    view = await api.admin.GetCustomerView(
        admin_pb2.GetCustomerRequest(customer_id="C-4918000008"), metadata=api.as_care
    )
    assert view.customer.customer_id == "C-4918000008"
    assert [a.account_id for a in view.accounts] == [own]
    assert view.accounts[0].buckets[0].balance == 994
    assert [s.subscriber_id for s in view.subscribers] == ["S-4918000008"]
    usage = [
        (u.subscriber_id, u.service, u.unit, u.units, u.money_minor, u.events)
        for u in view.recent_usage
    ]
    assert usage == [("S-4918000008", "internet", "octets", 3 * MB, 6, 1)]
    assert view.recent_usage_from_ms > 0 and not view.recent_usage_partial
    offers = await api.admin.ListOffers(admin_pb2.ListOffersRequest(), metadata=api.as_care)
    names = {o.offer_id: o for o in offers.offers}
    assert offers.currency == "EUR" and names["bundle_s"].price == 499
    assert [a.id for a in names["bundle_s"].allowances] == ["data", "voice", "sms"]


async def test_a_bought_base_offer_rates_the_very_next_request(api: Api) -> None:
    """The rating profile cached by the first request is dropped by the order (ocs:profiles),
    well before its 30 s TTL: the next request rates with the new offer."""
    await api.customer("4918000009", money=1000, offer="")
    nf = api.as_nf
    before = await api.cc.Initial(initial("p-1", "4918000009"), metadata=nf)
    assert before.items[0].result_code == 4010  # no offer rates internet yet
    order = await api.admin.PurchaseOffer(
        admin_pb2.PurchaseOfferRequest(
            order_id="payg-1", subscriber=msisdn("4918000009"), offer_id="payg"
        ),
        metadata=api.as_admin,
    )
    assert order.state == admin_pb2.ORDER_STATE_COMPLETED and order.charged_minor == 0
    after = await api.cc.Initial(initial("p-2", "4918000009"), metadata=nf)
    assert after.items[0].result_code == 2001 and after.items[0].granted.total_octets == 10 * MB
