"""One-time events over Gy (RFC 8506 §6): direct debit, refund, balance check, price enquiry."""

from __future__ import annotations

from ocs.app import App
from ocs.diameter.constants import CommandFlag
from tests.gy.conftest import bucket_balance, money, subscriber
from tests.gy.gateway import (
    CHECK_BALANCE,
    DIRECT_DEBITING,
    EVENT,
    PRICE_ENQUIRY,
    REFUND_ACCOUNT,
    Gateway,
    Mscc,
)
from tests.gy.test_sessions import fix_clock

SMS = "32274@3gpp.org"
EUR = 978
ENOUGH_CREDIT, NO_CREDIT = 0, 1


async def test_sms_direct_debit_is_charged_once_even_when_retransmitted(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999300000001", money=100)
    sid = gateway.new_session("smsc.mno.example")
    debit = gateway.build(
        sid,
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=DIRECT_DEBITING,
        mscc=[Mscc(300, request=True, units=1)],
    )
    answer = await gateway.send(debit)
    assert answer.result_code == 2001
    assert (answer[300].result_code, answer[300].units) == (2001, 1)
    assert answer.cost == (9, -2, EUR)
    assert await money(ocs, account) == 91

    again = gateway.build(
        sid,
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=DIRECT_DEBITING,
        mscc=[Mscc(300, request=True, units=1)],
    )
    again.flags |= CommandFlag.RETRANSMITTED
    assert (await gateway.send(again)).cost == (9, -2, EUR)
    assert await money(ocs, account) == 91


async def test_sms_debit_uses_the_bundle_first_then_money_then_refuses(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999300000002", money=10, offers=("payg", "bundle_s"))
    for n in range(50):  # the bundle's 50 SMS
        answer = await gateway.ccr(
            gateway.new_session(),
            EVENT,
            0,
            msisdn=account,
            service_context=SMS,
            requested_action=DIRECT_DEBITING,
            top=Mscc(request=True, units=1),
        )
        assert answer.result_code == 2001, n
    assert (await bucket_balance(ocs, account, "bundle_s.sms."))[0] == 0
    paid = await gateway.ccr(
        gateway.new_session(),
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=DIRECT_DEBITING,
        top=Mscc(request=True, units=1),
    )
    assert paid.result_code == 2001 and paid.top is not None and paid.top.units == 1
    assert await money(ocs, account) == 1
    refused = await gateway.ccr(
        gateway.new_session(),
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=DIRECT_DEBITING,
        top=Mscc(request=True, units=1),
    )
    assert refused.result_code == 4012  # DIAMETER_CREDIT_LIMIT_REACHED, nothing charged
    assert await money(ocs, account) == 1


async def test_refund_credits_the_price_of_the_units(ocs: App, gateway: Gateway) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999300000003", money=50)
    refund = await gateway.ccr(
        gateway.new_session(),
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=REFUND_ACCOUNT,
        mscc=[Mscc(300, request=True, units=2)],
    )
    assert refund.result_code == 2001
    assert refund.cost == (18, -2, EUR)
    assert await money(ocs, account) == 68
    money_refund = await gateway.ccr(
        gateway.new_session(),
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=REFUND_ACCOUNT,
        mscc=[Mscc(300, request=True, money=25)],
    )
    assert money_refund.cost == (25, -2, EUR)
    assert await money(ocs, account) == 93


async def test_check_balance_reserves_nothing(ocs: App, gateway: Gateway) -> None:
    fix_clock(ocs)
    rich = await subscriber(ocs, "999300000004", money=100)
    poor = await subscriber(ocs, "999300000005", money=5)
    for account, verdict in ((rich, ENOUGH_CREDIT), (poor, NO_CREDIT)):
        answer = await gateway.ccr(
            gateway.new_session(),
            EVENT,
            0,
            msisdn=account,
            service_context=SMS,
            requested_action=CHECK_BALANCE,
            mscc=[Mscc(300, request=True, units=1)],
        )
        assert (answer.result_code, answer.check_balance) == (2001, verdict)
    assert await bucket_balance(ocs, rich, "money") == (100, 0)


async def test_price_enquiry_quotes_the_zone_price(ocs: App, gateway: Gateway) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999300000006", money=0)
    quote = await gateway.ccr(
        gateway.new_session(),
        EVENT,
        0,
        msisdn=account,
        visited_network="31026",
        requested_action=PRICE_ENQUIRY,
        mscc=[Mscc(200, request=True, seconds=120)],
    )
    assert quote.result_code == 2001
    assert quote.cost == (198, -2, EUR)  # 2 started minutes at 99 cents in the world zone
    assert await money(ocs, account) == 0
