"""Bad requests get the right Result-Code and Failed-AVP, and change nothing."""

from __future__ import annotations

import secrets
from pathlib import Path

from ocs.app import App
from ocs.balance.model import Status
from ocs.diameter import avps
from ocs.diameter.codec import Message, encode_avp
from ocs.redis_server import RedisServer
from tests.conftest import app_config
from tests.gy.conftest import bucket_balance, diameter_port, money, subscriber
from tests.gy.gateway import EVENT, INITIAL, UPDATE, Cca, Gateway, Mscc


def failed_avp_code(answer: Cca) -> int:
    """The code of the (first) AVP inside the answer's Failed-AVP."""
    failed = answer.message.group(avps.FAILED_AVP)
    assert failed is not None
    return failed.avps()[0].code


async def test_unknown_subscriber_is_user_unknown(ocs: App, gateway: Gateway) -> None:
    answer = await gateway.ccr(
        gateway.new_session(), INITIAL, 0, msisdn="999999999999", mscc=[Mscc(100, request=True)]
    )
    assert answer.result_code == 5030  # DIAMETER_USER_UNKNOWN


async def test_missing_mandatory_avp_names_it_in_failed_avp(ocs: App, gateway: Gateway) -> None:
    answer = await gateway.send(
        gateway.build(
            gateway.new_session(),
            INITIAL,
            0,
            msisdn="999",
            leave_out=frozenset({avps.CC_REQUEST_NUMBER}),
        )
    )
    assert answer.result_code == 5005  # DIAMETER_MISSING_AVP
    assert failed_avp_code(answer) == 415  # CC-Request-Number


async def test_event_without_subscriber_is_missing_subscription_id(
    ocs: App, gateway: Gateway
) -> None:
    answer = await gateway.ccr(
        gateway.new_session(), EVENT, 0, requested_action=0, mscc=[Mscc(300, request=True, units=1)]
    )
    assert answer.result_code == 5005
    assert failed_avp_code(answer) == 443  # Subscription-Id


async def test_unknown_request_type_is_invalid_avp_value(ocs: App, gateway: Gateway) -> None:
    message = gateway.build(
        gateway.new_session(), INITIAL, 0, msisdn="999", leave_out=frozenset({avps.CC_REQUEST_TYPE})
    )
    message.add_raw(encode_avp(avps.CC_REQUEST_TYPE, 9))
    answer = await gateway.send(message)
    assert answer.result_code == 5004  # DIAMETER_INVALID_AVP_VALUE
    assert failed_avp_code(answer) == 416  # CC-Request-Type


async def test_update_of_an_unknown_session(ocs: App, gateway: Gateway) -> None:
    answer = await gateway.ccr(gateway.new_session(), UPDATE, 1, mscc=[Mscc(100, used_octets=1000)])
    assert answer.result_code == 5002  # DIAMETER_UNKNOWN_SESSION_ID


async def test_request_number_going_backwards_changes_nothing(ocs: App, gateway: Gateway) -> None:
    account = await subscriber(ocs, "999400000001", money=100)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    await gateway.ccr(sid, UPDATE, 2, mscc=[Mscc(100, request=True, used_octets=1_000_000)])
    before = await bucket_balance(ocs, account, "money")
    late = await gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=9_000_000)])
    assert late.result_code == 5004
    assert failed_avp_code(late) == 415
    assert await bucket_balance(ocs, account, "money") == before


async def test_suspended_subscriber_is_denied_but_reported_usage_is_charged(
    ocs: App, gateway: Gateway
) -> None:
    account = await subscriber(ocs, "999400000002", money=100)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    assert (
        await ocs.balance.set_subscriber_status("susp-1", account, Status.SUSPENDED, now_ms=1)
    ).ok
    answer = await gateway.ccr(
        sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=3_000_000)]
    )
    assert answer[100].result_code == 4010  # END_USER_SERVICE_DENIED
    assert answer[100].granted is None
    assert await money(ocs, account) == 94


async def test_unreachable_balance_store_answers_too_busy(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis", password=secrets.token_urlsafe(8), appendonly=False)
    redis.start()
    app = App(app_config(tmp_path / "state", redis.url))
    await app.start()
    try:
        await subscriber(app, "999400000003", money=100)
        gateway = await Gateway.connect(diameter_port(app))
        redis.stop()
        try:
            answer = await gateway.ccr(
                gateway.new_session(),
                INITIAL,
                0,
                msisdn="999400000003",
                mscc=[Mscc(100, request=True)],
            )
        finally:
            await gateway.close()
        assert answer.result_code == 3004  # DIAMETER_TOO_BUSY: the client fails over
        assert answer.message.is_error
    finally:
        await app.stop()
        redis.stop()


async def test_service_without_a_tariff_is_rating_failed(ocs: App, gateway: Gateway) -> None:
    account = await subscriber(ocs, "999400000004", money=100)
    answer = await gateway.ccr(
        gateway.new_session(),
        INITIAL,
        0,
        msisdn=account,
        visited_network="20801",  # video is priced at home only
        mscc=[Mscc(500, request=True), Mscc(999, request=True), Mscc(100, request=True)],
    )
    assert answer.result_code == 2001
    assert answer[500].result_code == 5031  # DIAMETER_RATING_FAILED: no tariff in the zone
    assert answer[999].result_code == 5031  # not in the catalog
    assert answer[100].result_code == 2001  # the rest is served


async def test_session_termination_request_is_not_a_dcca_command(
    ocs: App, gateway: Gateway
) -> None:
    str_request = Message.request(275, 4, proxiable=True)
    str_request.add(avps.SESSION_ID, gateway.new_session())
    str_request.add_raw(
        encode_avp(avps.ORIGIN_HOST, gateway.origin_host),
        encode_avp(avps.ORIGIN_REALM, "mno.example"),
        encode_avp(avps.DESTINATION_REALM, "demo.local"),
        encode_avp(avps.AUTH_APPLICATION_ID, 4),
        encode_avp(avps.TERMINATION_CAUSE, 1),
    )
    answer = await gateway.client.request(str_request)
    assert answer.result_code == 3001  # DIAMETER_COMMAND_UNSUPPORTED: CCR-T ends sessions
    assert answer.is_error
