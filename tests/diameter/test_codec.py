"""Decoding, reading by key, answering and encoding messages."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.diameter import avps
from ocs.diameter.codec import Codec, Identity, LayoutCache, Message, encode_avp
from ocs.diameter.constants import VENDOR_3GPP, Command, ResultCode
from ocs.diameter.errors import EncodeError, FramingError, InvalidAvpValue, InvalidMessage
from tests.diameter.messages import SESSION, ccr, ccr_avps, raw_avp

IDENTITY = Identity("ocs.demo.local", "demo.local")


def test_decode_reads_header_and_values_by_key() -> None:
    request = Codec().decode(ccr())
    assert (request.command_code, request.application_id) == (272, 4)
    assert request.is_request and request.is_proxiable and not request.is_error
    assert (request.hop_by_hop, request.end_to_end) == (0x1111, 0x2222)
    assert request.get(avps.SESSION_ID) == SESSION
    assert request.get(avps.CC_REQUEST_NUMBER) == 1
    assert request.get(avps.EVENT_TIMESTAMP) == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert request.get(avps.USER_NAME) is None
    assert request.get(avps.USER_NAME, default="none") == "none"
    assert request.keys()[0] == avps.SESSION_ID
    assert avps.SUBSCRIPTION_ID in request and avps.USER_NAME not in request


def test_grouped_values_nest_to_any_depth() -> None:
    request = Codec().decode(ccr())
    (mscc,) = request.groups(avps.MULTIPLE_SERVICES_CREDIT_CONTROL)
    assert mscc.get(avps.RATING_GROUP) == 10
    used = mscc.group(avps.USED_SERVICE_UNIT)
    assert used is not None and used.get(avps.CC_TOTAL_OCTETS) == 1048576
    assert mscc.group(avps.GRANTED_SERVICE_UNIT) is None
    service = request.group(avps.SERVICE_INFORMATION)
    assert service is not None
    ps = service.group(avps.PS_INFORMATION)
    assert ps is not None
    assert ps.get(avps.TGPP_RAT_TYPE) == b"\x06"
    assert ps.get(21, vendor=VENDOR_3GPP) == b"\x06"
    assert ps.get(avps.CALLED_STATION_ID) == "internet"


def test_get_all_and_avps_list_every_occurrence() -> None:
    body = [
        *ccr_avps(),
        encode_avp(avps.ROUTE_RECORD, "a.example"),
        encode_avp(avps.ROUTE_RECORD, "b.example"),
    ]
    request = Codec().decode(ccr(body))
    assert request.get_all(avps.ROUTE_RECORD) == ["a.example", "b.example"]
    names = [avp.name for avp in request.avps()]
    assert names[:3] == ["Session-Id", "Origin-Host", "Origin-Realm"]
    subscription = next(a for a in request.avps() if a.name == "Subscription-Id")
    assert [(a.name, a.value) for a in subscription.value] == [
        ("Subscription-Id-Type", 0),
        ("Subscription-Id-Data", "41790000001"),
    ]


def test_unknown_avps_without_the_m_bit_are_kept_and_ignored() -> None:
    unknown = raw_avp(99999, b"opaque", flags=0, vendor=12345)
    request = Codec().decode(ccr([*ccr_avps(), unknown]))
    key = 12345 << 32 | 99999
    assert request.get(key) == b"opaque"
    assert request.raw(key) == unknown
    assert [a.name for a in request.avps()][-1] == "Unknown-99999"


def test_answer_follows_rfc_6733_section_6_2() -> None:
    proxy_1 = encode_avp(avps.PROXY_INFO, [(avps.PROXY_HOST, "p1"), (avps.PROXY_STATE, b"s1")])
    proxy_2 = encode_avp(avps.PROXY_INFO, [(avps.PROXY_HOST, "p2"), (avps.PROXY_STATE, b"s2")])
    request = Codec().decode(ccr([*ccr_avps(), proxy_1, proxy_2]))
    answer = request.answer(ResultCode.DIAMETER_SUCCESS, IDENTITY)
    answer.add(avps.CC_REQUEST_NUMBER, 1)
    decoded = Codec().decode(answer.to_bytes())
    assert not decoded.is_request and decoded.is_proxiable and not decoded.is_error
    assert (decoded.hop_by_hop, decoded.end_to_end) == (0x1111, 0x2222)
    assert decoded.keys()[:4] == [
        avps.SESSION_ID,
        avps.RESULT_CODE,
        avps.ORIGIN_HOST,
        avps.ORIGIN_REALM,
    ]
    assert decoded.get(avps.SESSION_ID) == SESSION
    assert decoded.get(avps.ORIGIN_HOST) == "ocs.demo.local"
    assert decoded.get(avps.RESULT_CODE) == 2001
    assert decoded.get(avps.CC_REQUEST_NUMBER) == 1
    assert [g.get(avps.PROXY_HOST) for g in decoded.groups(avps.PROXY_INFO)] == ["p1", "p2"]


def test_protocol_error_answers_carry_the_e_bit_and_failed_avp() -> None:
    request = Codec().decode(ccr())
    failed = request.raw(avps.CC_REQUEST_TYPE)
    assert failed is not None
    answer = request.answer(
        ResultCode.DIAMETER_TOO_BUSY, IDENTITY, error_message="busy", failed_avps=[failed]
    )
    decoded = Codec().decode(answer.to_bytes())
    assert decoded.is_error
    assert decoded.get(avps.ERROR_MESSAGE) == "busy"
    failed_avp = decoded.group(avps.FAILED_AVP)
    assert failed_avp is not None and failed_avp.get(avps.CC_REQUEST_TYPE) == 2


def test_a_message_being_built_can_be_read_and_extended() -> None:
    message = Message.request(Command.DEVICE_WATCHDOG)
    message.add(avps.ORIGIN_HOST, "ocs.demo.local").add(avps.ORIGIN_STATE_ID, 7)
    assert message.get(avps.ORIGIN_STATE_ID) == 7
    message.add(avps.HOST_IP_ADDRESS, "192.0.2.1")
    assert message.get(avps.HOST_IP_ADDRESS) == ipaddress.IPv4Address("192.0.2.1")
    assert message.keys() == [avps.ORIGIN_HOST, avps.ORIGIN_STATE_ID, avps.HOST_IP_ADDRESS]
    decoded = Codec().decode(message.to_bytes(), validate=False)  # a DWR lacking Origin-Realm
    decoded.add(avps.ORIGIN_REALM, "demo.local")
    assert decoded.get(avps.ORIGIN_REALM) == "demo.local"
    assert decoded.get(avps.ORIGIN_STATE_ID) == 7


def test_reading_a_value_that_does_not_fit_its_type_is_a_5004() -> None:
    bad_utf8 = raw_avp(avps.SERVICE_CONTEXT_ID, b"\xff\xfe context")
    body = ccr_avps()
    body[5] = bad_utf8  # Service-Context-Id
    request = Codec().decode(ccr(body))
    with pytest.raises(InvalidAvpValue) as caught:
        request.get(avps.SERVICE_CONTEXT_ID)
    assert caught.value.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert caught.value.failed_avps == (bad_utf8,)


@pytest.mark.parametrize(
    ("index", "code", "data", "problem"),
    [
        (0, 263, b"", "Session-Id is empty"),
        (0, 263, b"s" * 513, "Session-Id is 513 octets long, more than 512"),
        (1, 264, b"", "Origin-Host is empty"),
        (2, 296, b"r" * 256, "Origin-Realm is 256 octets long, more than 255"),
        (3, 283, b"", "Destination-Realm is empty"),
    ],
)
def test_a_request_with_a_bad_identity_is_refused_when_decoded(
    index: int, code: int, data: bytes, problem: str
) -> None:
    """Identities key duplicates, sessions and routing: checked before anything reads them."""
    body = ccr_avps()
    body[index] = raw_avp(code, data)
    codec = Codec()
    for _ in range(2):  # the verdict is cached with the layout, and holds on reuse
        with pytest.raises(InvalidMessage, match=problem) as caught:
            codec.decode(ccr(body))
        assert caught.value.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE
        assert caught.value.failed_avps == (body[index],)
    assert len(codec.cache) == 1


def test_encode_avp_names_what_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError, match="not in the dictionary"):
        encode_avp(99999, 1)
    with pytest.raises(EncodeError, match="Rating-Group"):
        encode_avp(avps.RATING_GROUP, -1)
    with pytest.raises(EncodeError, match="Session-Id"):
        encode_avp(avps.SESSION_ID, b"bytes")


def test_decode_refuses_data_that_is_not_one_framed_message() -> None:
    data = ccr()
    with pytest.raises(FramingError):
        Codec().decode(data[:10])
    with pytest.raises(FramingError):
        Codec().decode(data + b"\x00\x00\x00\x00")


def test_answers_are_decoded_without_grammar_checks() -> None:
    answer = Message(Command.CREDIT_CONTROL, 4).add(avps.RESULT_CODE, 2001)
    decoded = Codec().decode(answer.to_bytes())  # no Session-Id, no Origin-Host: fine
    assert decoded.get(avps.RESULT_CODE) == 2001


def test_layout_cache_reuses_the_layout_for_same_shaped_requests() -> None:
    codec = Codec()
    first = codec.decode(ccr(ccr_avps(request_number=1)))
    assert len(codec.cache) == 1
    second = codec.decode(ccr(ccr_avps(request_number=2)))
    assert len(codec.cache) == 1
    assert (first.get(avps.CC_REQUEST_NUMBER), second.get(avps.CC_REQUEST_NUMBER)) == (1, 2)
    codec.decode(ccr(ccr_avps(session=SESSION + "-longer")))
    assert len(codec.cache) == 2


def test_a_cached_layout_still_checks_enumerated_values() -> None:
    codec = Codec()
    codec.decode(ccr(ccr_avps(request_type=2)))
    with pytest.raises(InvalidMessage) as caught:
        codec.decode(ccr(ccr_avps(request_type=9)))
    assert caught.value.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE


def test_same_length_but_different_headers_do_not_match_a_cached_layout() -> None:
    codec = Codec()
    codec.decode(ccr())
    body = ccr_avps()
    body[1] = raw_avp(99999, b"pgw1.mno.example", flags=0x40)  # same size, unknown + M bit
    with pytest.raises(InvalidMessage) as caught:
        codec.decode(ccr(body))
    assert caught.value.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED


def test_cache_bounds() -> None:
    cache = LayoutCache(capacity=2, per_key=1, max_message=100000)
    codec = Codec(cache=cache)
    for number in range(5):
        codec.decode(ccr(ccr_avps(session=SESSION + "x" * 4 * number)))
    assert len(cache) == 2


@settings(max_examples=60, deadline=None)
@given(
    sessions=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6),
    numbers=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
    types=st.lists(st.sampled_from([1, 2, 3, 4, 0, 7]), min_size=1, max_size=6),
)
def test_cached_and_uncached_decoding_agree(
    sessions: list[str], numbers: list[int], types: list[int]
) -> None:
    cached = Codec()
    for session, number, request_type in zip(sessions, numbers, types, strict=False):
        data = ccr(ccr_avps(request_type=request_type, request_number=number, session=session))
        uncached = Codec(cache=LayoutCache(capacity=0))
        outcomes = []
        for codec in (cached, uncached):
            try:
                message = codec.decode(data)
                outcomes.append(
                    (
                        message.get(avps.SESSION_ID),
                        message.get(avps.CC_REQUEST_NUMBER),
                        message.keys(),
                    )
                )
            except InvalidMessage as exc:
                outcomes.append((exc.result_code, exc.failed_avps, None))
        assert outcomes[0] == outcomes[1]


def test_answer_to_a_request_built_in_memory_copies_its_session_id() -> None:
    """answer() works on a message built with add() as on a decoded one."""
    request = Message.request(272, 4, proxiable=True)
    request.add(avps.SESSION_ID, "built;1")
    answer = request.answer(2001, Identity("ocs.test", "test"))
    decoded = Codec().decode(answer.to_bytes(), validate=False)
    assert decoded.get(avps.SESSION_ID) == "built;1"
    assert decoded.result_code == 2001


def test_values_reads_the_first_value_of_every_avp_in_one_pass() -> None:
    message = Message.request(272, 4)
    message.add(avps.SESSION_ID, "v;1").add(avps.CC_REQUEST_NUMBER, 7).add(
        avps.CC_REQUEST_NUMBER, 8
    )
    message.add(avps.MULTIPLE_SERVICES_CREDIT_CONTROL, [(avps.RATING_GROUP, 100)])
    decoded = Codec().decode(message.to_bytes(), validate=False)
    values = decoded.values()
    assert values[avps.SESSION_ID] == decoded.get(avps.SESSION_ID) == "v;1"
    assert values[avps.CC_REQUEST_NUMBER] == 7  # the first occurrence, like get()
    group = values[avps.MULTIPLE_SERVICES_CREDIT_CONTROL]
    assert group.get(avps.RATING_GROUP) == 100
    assert set(values) == {
        avps.SESSION_ID,
        avps.CC_REQUEST_NUMBER,
        avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
    }
