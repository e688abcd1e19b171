"""RFC 6733 section 7: each problem in a well-framed request gets its Result-Code
and the Failed-AVP section 7.5 asks for."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.diameter import avps
from ocs.diameter.codec import Codec, encode_avp
from ocs.diameter.commands import default_grammars
from ocs.diameter.constants import Application, Command, CommandFlag, ResultCode
from ocs.diameter.errors import InvalidMessage
from ocs.diameter.validation import header_problem
from tests.diameter.messages import ccr, ccr_avps, raw_avp


def rejection(data: bytes) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as caught:
        Codec().decode(data)
    return caught.value


def replace(index: int, avp: bytes) -> list[bytes]:
    body = ccr_avps()
    body[index] = avp
    return body


def test_unknown_avp_with_the_m_bit_is_5001_with_the_avp_as_failed_avp() -> None:
    unknown = raw_avp(99999, b"x", flags=0x40)
    error = rejection(ccr([*ccr_avps(), unknown]))
    assert error.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED
    assert error.failed_avps == (unknown,)


def test_unknown_m_bit_avp_nested_in_a_grouped_avp_is_5001_too() -> None:
    unknown = raw_avp(77777, b"abcd", flags=0x40, vendor=10415)
    mscc = encode_avp(avps.MULTIPLE_SERVICES_CREDIT_CONTROL, [(avps.RATING_GROUP, 1), unknown])
    error = rejection(ccr([*ccr_avps(), mscc]))
    assert error.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED
    assert error.failed_avps == (unknown,)


def test_unknown_grouped_avp_without_m_is_opaque_even_with_m_bit_members() -> None:
    inner = raw_avp(77777, b"abcd", flags=0x40)
    outer = raw_avp(88888, inner, flags=0)  # RFC 6733 section 4.4: may simply be ignored
    request = Codec().decode(ccr([*ccr_avps(), outer]))
    assert request.get(88888) == inner


def test_missing_required_avp_is_5005_with_a_zero_filled_example() -> None:
    body = [avp for i, avp in enumerate(ccr_avps()) if i != 7]  # no CC-Request-Number
    error = rejection(ccr(body))
    assert error.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert error.failed_avps == (encode_avp(avps.CC_REQUEST_NUMBER, 0),)
    assert "CC-Request-Number" in error.error_message


def test_missing_member_of_a_grouped_avp_is_5005() -> None:
    subscription = encode_avp(avps.SUBSCRIPTION_ID, [(avps.SUBSCRIPTION_ID_TYPE, 0)])
    error = rejection(ccr(replace(9, subscription)))
    assert error.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert error.failed_avps == (encode_avp(avps.SUBSCRIPTION_ID_DATA, ""),)


def test_session_id_out_of_its_fixed_position_is_5005() -> None:
    body = ccr_avps()
    body[0], body[1] = body[1], body[0]
    error = rejection(ccr(body))
    assert error.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert error.failed_avps == (body[1],)
    assert "must be AVP number 1" in error.error_message


def test_avp_occurring_too_often_is_5009_with_the_first_extra_occurrence() -> None:
    extra = encode_avp(avps.CC_REQUEST_NUMBER, 99)
    error = rejection(ccr([*ccr_avps(), extra]))
    assert error.result_code == ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES
    assert error.failed_avps == (extra,)


def test_avp_not_allowed_by_a_closed_grammar_is_5008() -> None:
    vsai = encode_avp(
        avps.VENDOR_SPECIFIC_APPLICATION_ID,
        [(avps.VENDOR_ID, 10415), (avps.AUTH_APPLICATION_ID, 4), (avps.RESULT_CODE, 2001)],
    )
    cer = [
        encode_avp(avps.ORIGIN_HOST, "pgw"),
        encode_avp(avps.ORIGIN_REALM, "mno"),
        encode_avp(avps.HOST_IP_ADDRESS, "192.0.2.1"),
        encode_avp(avps.VENDOR_ID, 0),
        encode_avp(avps.PRODUCT_NAME, "pgw"),
        vsai,
    ]
    error = rejection(
        ccr(cer, flags=CommandFlag.REQUEST, command=Command.CAPABILITIES_EXCHANGE, application=0)
    )
    assert error.result_code == ResultCode.DIAMETER_AVP_NOT_ALLOWED
    assert error.failed_avps == (encode_avp(avps.RESULT_CODE, 2001),)


def test_enumerated_value_the_grammar_does_not_know_is_5004() -> None:
    error = rejection(ccr(ccr_avps(request_type=7)))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert error.failed_avps == (encode_avp(avps.CC_REQUEST_TYPE, 7),)


@pytest.mark.parametrize("size", [0, 3, 5, 8])
def test_fixed_size_type_with_the_wrong_size_is_5014(size: int) -> None:
    wrong = raw_avp(avps.CC_REQUEST_NUMBER, bytes(size))
    error = rejection(ccr(replace(7, wrong)))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH
    assert error.failed_avps == (wrong,)


def test_avp_length_shorter_than_its_header_is_5014_with_a_repaired_header() -> None:
    bad = raw_avp(avps.CC_REQUEST_NUMBER, bytes(4), length=4)
    error = rejection(ccr(replace(7, bad)))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH
    assert error.failed_avps == (encode_avp(avps.CC_REQUEST_NUMBER, 0),)


def test_avp_length_past_the_end_of_the_message_is_5014() -> None:
    oversized = raw_avp(avps.USER_NAME, b"abcd", length=4000)
    error = rejection(ccr([*ccr_avps(), oversized]))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH
    assert error.failed_avps == (encode_avp(avps.USER_NAME, ""),)


def test_avp_length_past_the_end_of_its_group_is_5014() -> None:
    member = raw_avp(avps.RATING_GROUP, bytes(4), length=40)
    group = raw_avp(avps.MULTIPLE_SERVICES_CREDIT_CONTROL, member + bytes(4))
    error = rejection(ccr([*ccr_avps(), group]))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH


def test_truncated_avp_header_at_the_end_is_5014() -> None:
    error = rejection(ccr([*ccr_avps(), struct.pack(">I", avps.USER_NAME)]))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH


def test_grouped_avps_nested_too_deep_are_5004() -> None:
    nested = encode_avp(avps.RATING_GROUP, 1)
    for _ in range(40):
        nested = encode_avp(avps.FAILED_AVP, [nested])
    error = rejection(ccr([*ccr_avps(), nested]))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert "nested deeper" in error.error_message


@pytest.mark.parametrize(("flags", "vendor"), [(0x41, None), (0x48, None), (0xC0, 0)])
def test_reserved_avp_flags_or_vendor_id_0_are_3009(flags: int, vendor: int | None) -> None:
    bad = raw_avp(avps.USER_NAME, b"user", flags=flags, vendor=vendor)
    error = rejection(ccr([*ccr_avps(), bad]))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_BITS
    assert error.failed_avps == (bad,)


def test_m_bit_on_a_must_not_avp_is_tolerated() -> None:
    product = raw_avp(avps.PRODUCT_NAME, b"pgw", flags=0x40)  # python-diameter does this
    request = Codec().decode(ccr([*ccr_avps(), product]))
    assert request.get(avps.PRODUCT_NAME) == "pgw"


def test_header_problems_are_3008() -> None:
    grammars = default_grammars()
    cer = grammars.command(Application.COMMON, Command.CAPABILITIES_EXCHANGE, True)
    ccr_grammar = grammars.command(Application.CREDIT_CONTROL, Command.CREDIT_CONTROL, True)
    assert header_problem(0xA0, ccr_grammar) == "the E bit is set in a request"
    assert header_problem(0xC0, cer) == "CER must not have the P bit"
    assert header_problem(0xC0, ccr_grammar) is None
    assert header_problem(0x80, ccr_grammar) is None  # a CCR without P is tolerated
    assert header_problem(0x8F, ccr_grammar) is None  # reserved bits are ignored


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_after_a_valid_header_never_escapes_as_another_exception(garbage: bytes) -> None:
    garbage = garbage + b"\x00" * (-len(garbage) & 3)
    data = ccr(garbage and [garbage])
    try:
        message = Codec().decode(data)
    except InvalidMessage as exc:
        assert exc.result_code in {r.value for r in ResultCode}
        for failed in exc.failed_avps:  # what we would send back is itself well formed
            assert len(failed) % 4 == 0 and len(failed) >= 8
    else:
        for avp in message.avps():
            assert avp.to_bytes()
