"""The load generator's CCA scanner reads the same codes and grants as the full codec."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ocs.bench.client import answer_codes
from ocs.diameter import avps
from ocs.diameter.codec import Codec, Identity, Message, encode_avp

CODEC = Codec()
OCS = Identity("ocs.test", "test")


def cca(result: int, mscc: list[tuple[int, int | None]] | None) -> bytes:
    request = Message.request(272, 4, proxiable=True)
    request.add(avps.SESSION_ID, "s;1")
    request.add_raw(OCS.avps)
    answer = request.answer(result, OCS)
    answer.add(avps.AUTH_APPLICATION_ID, 4).add(avps.CC_REQUEST_TYPE, 2)
    for code, granted in mscc or ():
        members = [encode_avp(avps.RATING_GROUP, 100), encode_avp(avps.RESULT_CODE, code)]
        if granted is not None:
            members.insert(
                0,
                encode_avp(
                    avps.GRANTED_SERVICE_UNIT, [(avps.CC_TIME, 5), (avps.CC_TOTAL_OCTETS, granted)]
                ),
            )
        answer.add(avps.MULTIPLE_SERVICES_CREDIT_CONTROL, members)
    return answer.to_bytes()


def codec_view(data: bytes) -> tuple[int | None, int | None, int | None]:
    message = CODEC.decode(data, validate=False)
    mscc = message.group(avps.MULTIPLE_SERVICES_CREDIT_CONTROL)
    if mscc is None:
        return message.result_code, None, None
    gsu = mscc.group(avps.GRANTED_SERVICE_UNIT)
    return (
        message.result_code,
        mscc.get(avps.RESULT_CODE),
        gsu.get(avps.CC_TOTAL_OCTETS) if gsu else None,
    )


def test_success_with_a_grant() -> None:
    assert answer_codes(cca(2001, [(2001, 10_000_000)])) == (2001, 2001, 10_000_000)


def test_mscc_failure_without_grant_and_no_mscc() -> None:
    assert answer_codes(cca(2001, [(4012, None)])) == (2001, 4012, None)
    assert answer_codes(cca(5030, None)) == (5030, None, None)


@given(
    st.sampled_from([2001, 3004, 4010, 4012, 5002, 5030]),
    st.lists(
        st.tuples(st.sampled_from([2001, 4011, 4012, 5031]), st.none() | st.integers(0, 2**63 - 1)),
        max_size=3,
    ),
)
def test_scanner_agrees_with_the_codec(result: int, mscc: list[tuple[int, int | None]]) -> None:
    data = cca(result, mscc)
    assert answer_codes(data) == codec_view(data)
