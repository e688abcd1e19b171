"""One-time events over Gy (RFC 8506 §6): direct debit, refund, balance check, price enquiry."""

from __future__ import annotations

from pathlib import Path

from ocs.app import App
from ocs.diameter import avps
from ocs.diameter.codec import Avp, Message, encode_avp
from ocs.diameter.constants import CommandFlag
from tests.conftest import app_config
from tests.gy.conftest import bucket_balance, diameter_port, money, subscriber
from tests.gy.gateway import (
    CHECK_BALANCE,
    DIRECT_DEBITING,
    EVENT,
    PRICE_ENQUIRY,
    REFUND_ACCOUNT,
    REFUND_INFORMATION,
    Cca,
    Gateway,
    Mscc,
)
from tests.gy.test_sessions import fix_clock

SMS = "32274@3gpp.org"


def failed_avps(answer: Cca) -> list[Avp]:
    failed = answer.message.group(avps.FAILED_AVP)
    assert failed is not None
    return failed.avps()


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


async def test_a_refund_names_its_debit_and_never_credits_more_than_it_charged(
    ocs: App, gateway: Gateway
) -> None:
    """REFUND_ACCOUNT with the Refund-Information of a debit's answer gives back what that
    debit charged (in part with CC-Money, in full without), never more; one naming no debit
    is refused while unreferenced refunds are off (the default): a refund cannot mint money."""
    fix_clock(ocs)
    account = await subscriber(ocs, "999300000003", money=50)
    sid = gateway.new_session("smsc.mno.example")
    debit = await gateway.ccr(
        sid,
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=DIRECT_DEBITING,
        mscc=[Mscc(300, request=True, units=2)],
    )
    assert debit.result_code == 2001 and debit.cost == (18, -2, EUR)
    assert debit.refund_information is not None
    assert await money(ocs, account) == 32
    reference = encode_avp(REFUND_INFORMATION, debit.refund_information)

    def refund(rn: int, **mscc: int) -> Message:
        return gateway.build(
            sid,
            EVENT,
            rn,
            msisdn=account,
            service_context=SMS,
            requested_action=REFUND_ACCOUNT,
            mscc=[Mscc(300, request=True, **mscc)],
            extra=[reference],
        )

    part = await gateway.send(refund(1, money=5, exponent=-2))  # EUR 0.05 of the 0.18
    assert (part.result_code, part.cost) == (2001, (5, -2, EUR))
    assert await money(ocs, account) == 37
    too_much = await gateway.send(refund(2, money=14, exponent=-2))  # only 13 are left
    assert too_much.result_code == 5004 and too_much.failed_avp is not None
    assert "13" in (too_much.error_message or "")
    assert await money(ocs, account) == 37
    rest = await gateway.send(refund(3, units=2))  # no CC-Money: everything that is left
    assert (rest.result_code, rest.cost) == (2001, (13, -2, EUR))
    assert await money(ocs, account) == 50
    again = await gateway.send(refund(4, units=2))
    assert again.result_code == 5004 and "in full" in (again.error_message or "")
    repeat = refund(3, units=2)
    repeat.flags |= CommandFlag.RETRANSMITTED
    assert (await gateway.send(repeat)).cost == (13, -2, EUR)  # answered again, not paid again
    assert await money(ocs, account) == 50

    unreferenced = await gateway.ccr(
        gateway.new_session(),
        EVENT,
        0,
        msisdn=account,
        service_context=SMS,
        requested_action=REFUND_ACCOUNT,
        mscc=[Mscc(300, request=True, money=90_000)],
    )
    assert unreferenced.result_code == 5005  # DIAMETER_MISSING_AVP: Refund-Information
    assert [avp.name for avp in failed_avps(unreferenced)] == ["Refund-Information"]
    assert await money(ocs, account) == 50


async def test_unreferenced_refunds_stay_within_the_monthly_cap(
    tmp_path: Path, redis_url: str
) -> None:
    config = app_config(tmp_path / "state", redis_url, charging={"unreferenced_refund_cap": 100})
    app = App(config)
    await app.start()
    gateway = await Gateway.connect(diameter_port(app))
    try:
        fix_clock(app)
        account = await subscriber(app, "999300000009", money=0)
        codes = []
        for cents in (60, 30, 20, 10):
            answer = await gateway.ccr(
                gateway.new_session(),
                EVENT,
                0,
                msisdn=account,
                service_context=SMS,
                requested_action=REFUND_ACCOUNT,
                mscc=[Mscc(300, request=True, money=cents, exponent=-2)],
            )
            codes.append(answer.result_code)
        assert codes == [2001, 2001, 5012, 2001]  # 60 + 30 + 10 = the cap; 20 would pass it
        assert await money(app, account) == 100
    finally:
        await gateway.close()
        await app.stop()


async def test_cc_money_is_read_in_currency_units_of_its_currency(
    ocs: App, gateway: Gateway
) -> None:
    """RFC 8506 §8.8: Unit-Value is Value-Digits x 10^Exponent currency units; EUR 12.00 is
    (1200, -2) or (12, 0). Another currency than the account's, or a fraction of a cent, is
    refused with 5004 and the AVP at fault, charging nothing."""
    fix_clock(ocs)
    account = await subscriber(ocs, "999300000010", money=5000)

    async def debit(**mscc: int) -> Cca:
        return await gateway.ccr(
            gateway.new_session("as.mno.example"),
            EVENT,
            0,
            msisdn=account,
            service_context=SMS,
            requested_action=DIRECT_DEBITING,
            mscc=[Mscc(300, request=True, **mscc)],
        )

    twelve = await debit(money=1200, exponent=-2)
    assert (twelve.result_code, twelve.cost) == (2001, (1200, -2, EUR))
    assert twelve[300].money == (1200, -2, EUR)
    assert await money(ocs, account) == 3800
    half = await debit(money=1250, exponent=-2, currency=EUR)
    assert (half.result_code, half.cost) == (2001, (1250, -2, EUR))
    assert await money(ocs, account) == 2550
    whole = await debit(money=3)  # no Exponent: EUR 3
    assert (whole.result_code, whole.cost) == (2001, (300, -2, EUR))
    assert await money(ocs, account) == 2250
    tenth = await debit(money=125, exponent=-1)  # EUR 12.5
    assert (tenth.result_code, tenth.cost) == (2001, (1250, -2, EUR))
    assert await money(ocs, account) == 1000

    dollars = await debit(money=100, exponent=-2, currency=840)
    assert dollars.result_code == 5004 and "USD" in (dollars.error_message or "")
    assert [(avp.name, avp.value) for avp in failed_avps(dollars)] == [("Currency-Code", 840)]
    fraction = await debit(money=125, exponent=-3)  # EUR 0.125: not a whole cent
    assert fraction.result_code == 5004
    assert [avp.name for avp in failed_avps(fraction)] == ["Unit-Value"]
    assert await money(ocs, account) == 1000


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
