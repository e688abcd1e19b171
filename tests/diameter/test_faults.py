"""Faults a gateway can send over a real TCP connection to the whole server (real Redis):
each bad request gets its RFC 6733 answer with a Failed-AVP, changes nothing, and costs no
other request its answer or the connection its life."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocs.app import App
from ocs.diameter import avps
from ocs.diameter.codec import Message, encode_avp
from tests.conftest import app_config
from tests.diameter.messages import raw_avp
from tests.gy.conftest import bucket_balance, diameter_port, subscriber
from tests.gy.gateway import EVENT, INITIAL, TERMINATE, UPDATE, Gateway, Mscc, read_cca

DATA = 100
SMS_CONTEXT = "32274@3gpp.org"  # the catalog's default service for it: SMS, in units


@pytest.fixture
async def ocs(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    app = App(app_config(tmp_path / "state", redis_url))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def gateway(ocs: App) -> AsyncIterator[Gateway]:
    connected = await Gateway.connect(diameter_port(ocs))
    yield connected
    await connected.close()


def refusal(answer: Message) -> tuple[int, tuple[int, bytes], str]:
    """(Result-Code, (code, data) of the AVP inside Failed-AVP, Error-Message) of an answer
    refusing a request. Read by our codec alone: python-diameter cannot read a Failed-AVP
    that holds invalid UTF-8."""
    failed = answer.group(avps.FAILED_AVP)
    assert failed is not None, f"no Failed-AVP in {answer.get(avps.RESULT_CODE)}"
    inner = failed.avps()[0]
    return answer.get(avps.RESULT_CODE), (inner.code, inner.data), answer.get(avps.ERROR_MESSAGE)


def with_origin_host(message: Message, data: bytes) -> Message:
    """``message`` with its Origin-Host replaced by one whose data is ``data`` as given."""
    rebuilt = Message(
        message.command_code,
        message.application_id,
        flags=message.flags,
        end_to_end=message.end_to_end,
    )
    for avp in message.avps():
        if avp.key == avps.ORIGIN_HOST:
            rebuilt.add_raw(raw_avp(avps.ORIGIN_HOST, data))
        else:
            rebuilt.add_raw(avp.to_bytes())
    return rebuilt


async def test_an_origin_host_that_is_not_utf8_is_5004_and_every_other_request_is_answered(
    ocs: App, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """The reported case: 20 pipelined CCR-I around one whose Origin-Host is not UTF-8 closed
    the connection (0 answered, their money left reserved). Now: 5004 for that one, 2001 for
    the others, and every reservation is released by their CCR-T."""
    account = await subscriber(ocs, "999410000001", money=10_000)
    sessions = [gateway.new_session() for _ in range(20)]
    initials = [
        gateway.build(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(DATA, request=True)])
        for sid in sessions
    ]
    bad = with_origin_host(
        gateway.build(gateway.new_session(), INITIAL, 0, msisdn=account, mscc=[Mscc(DATA)]),
        b"\xff\xfepgw1.mno.example",
    )
    with caplog.at_level(logging.WARNING):
        messages = await gateway.client.pipeline([*initials[:10], bad, *initials[10:]])
    code, failed, error = refusal(messages.pop(10))
    assert code == 5004  # DIAMETER_INVALID_AVP_VALUE
    assert failed == (avps.ORIGIN_HOST, b"\xff\xfepgw1.mno.example")
    assert error.startswith("Origin-Host: 'utf-8' codec can't decode byte 0xff")
    assert [read_cca(m).result_code for m in messages] == [2001] * 20
    assert (await bucket_balance(ocs, account, "money"))[1] > 0  # reserved by the 20
    terminals = [gateway.build(sid, TERMINATE, 1, mscc=[Mscc(DATA)]) for sid in sessions]
    closed = [read_cca(m) for m in await gateway.client.pipeline(terminals)]
    assert [a.result_code for a in closed] == [2001] * 20
    assert await bucket_balance(ocs, account, "money") == (10_000, 0)  # nothing stranded
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _event(gateway: Gateway, account: str, session_id: str) -> Message:
    return gateway.build(
        session_id,
        EVENT,
        0,
        msisdn=account,
        requested_action=0,
        top=Mscc(request=True, units=1),
        service_context=SMS_CONTEXT,
    )


def _subscription(data: str) -> bytes:
    return encode_avp(
        avps.SUBSCRIPTION_ID,
        [(avps.SUBSCRIPTION_ID_TYPE, 0), (avps.SUBSCRIPTION_ID_DATA, data)],
    )


@pytest.mark.parametrize(
    ("case", "code", "problem"),
    [
        ("empty Session-Id in a CCR-I", avps.SESSION_ID, "Session-Id is empty"),
        ("empty Session-Id in a CCR-EVENT", avps.SESSION_ID, "Session-Id is empty"),
        ("Session-Id of 513 octets", avps.SESSION_ID, "more than 512"),
        ("empty Origin-Host", avps.ORIGIN_HOST, "Origin-Host is empty"),
        ("Origin-Realm of 256 octets", avps.ORIGIN_REALM, "more than 255"),
        ("empty Subscription-Id-Data", avps.SUBSCRIPTION_ID, "Subscription-Id-Data is empty"),
        ("empty Service-Context-Id", avps.SERVICE_CONTEXT_ID, "Service-Context-Id is empty"),
    ],
)
async def test_an_empty_or_oversized_identity_is_5004_and_changes_nothing(
    ocs: App, gateway: Gateway, caplog: pytest.LogCaptureFixture, case: str, code: int, problem: str
) -> None:
    account = await subscriber(ocs, "999410000002", money=1_000, offers=("payg", "bundle_s"))
    before = await ocs.balance.get_account(account)
    valid = gateway.new_session()
    if case == "empty Session-Id in a CCR-I":
        message = gateway.build("", INITIAL, 0, msisdn=account, mscc=[Mscc(DATA, request=True)])
    elif case == "empty Session-Id in a CCR-EVENT":
        message = _event(gateway, account, "")
    elif case == "Session-Id of 513 octets":
        message = _event(gateway, account, "pgw1.mno.example;" + "1" * 496)
    elif case == "empty Origin-Host":
        message = with_origin_host(_event(gateway, account, gateway.new_session()), b"")
    elif case == "Origin-Realm of 256 octets":
        message = _event(gateway, account, gateway.new_session())
        message = Message(message.command_code, message.application_id, flags=message.flags)
        built = _event(gateway, account, gateway.new_session())
        for avp in built.avps():
            realm = raw_avp(avps.ORIGIN_REALM, b"r" * 256)
            message.add_raw(realm if avp.key == avps.ORIGIN_REALM else avp.to_bytes())
    elif case == "empty Subscription-Id-Data":
        message = gateway.build(
            gateway.new_session(),
            EVENT,
            0,
            requested_action=0,
            top=Mscc(request=True, units=1),
            service_context=SMS_CONTEXT,
            extra=[_subscription("")],
        )
    else:
        message = gateway.build(
            gateway.new_session(),
            EVENT,
            0,
            msisdn=account,
            requested_action=0,
            top=Mscc(request=True, units=1),
            service_context="",
        )
    with caplog.at_level(logging.WARNING):
        refused, served = await gateway.client.pipeline([message, _event(gateway, account, valid)])
    result_code, failed, error = refusal(refused)
    assert result_code == 5004, error
    assert failed[0] == code
    assert problem in error
    assert read_cca(served).result_code == 2001  # the same connection goes on
    after = await ocs.balance.get_account(account)
    assert before is not None and after is not None
    sms = [b.balance for b in after.buckets if b.unit.value == "units"]
    assert sms == [b.balance - 1 for b in before.buckets if b.unit.value == "units"]
    assert after.money == before.money  # the refused one changed nothing
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_amount_beyond_what_ocs_counts_is_5004_naming_the_avp(
    ocs: App, gateway: Gateway
) -> None:
    """A used CC-Total-Octets of 2**60 was 5012 with the balance engine's field path
    (``items[0].used``) as Error-Message: a Diameter peer is told about its AVP."""
    account = await subscriber(ocs, "999410000003", money=1_000)
    sid = gateway.new_session()
    first = await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(DATA, request=True)])
    assert first.result_code == 2001
    held = await bucket_balance(ocs, account, "money")
    answer = await gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(DATA, request=True, used_octets=2**60)])
    code, failed, error = refusal(answer.message)
    assert code == 5004
    assert failed == (avps.CC_TOTAL_OCTETS, (2**60).to_bytes(8, "big"))
    assert "CC-Total-Octets" in error and "items[" not in error
    assert await bucket_balance(ocs, account, "money") == held
    fine = await gateway.ccr(sid, UPDATE, 2, mscc=[Mscc(DATA, request=True, used_octets=1000)])
    assert fine.result_code == 2001
