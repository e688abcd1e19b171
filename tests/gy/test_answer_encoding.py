"""The CCA's MSCCs are encoded once per distinct item answer and reused: a reused MSCC must be
the exact bytes a fresh encoding of that answer gives, whatever came before it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.charging.types import FinalUnit, FinalUnitAction, ItemAnswer, ResultCode, ServiceUnits
from ocs.diameter import avps
from ocs.diameter.codec import encode_avp
from ocs.gy import messages as gy
from ocs.policy.currency import Money

amounts = st.none() | st.integers(min_value=0, max_value=2**40)

units = st.builds(
    ServiceUnits,
    time=st.none() | st.integers(min_value=0, max_value=2**32 - 1),  # CC-Time: Unsigned32
    total_octets=amounts,
    input_octets=amounts,
    output_octets=amounts,
    service_specific=amounts,
    money=st.none()
    | st.builds(
        Money,
        st.integers(min_value=0, max_value=10**9),
        st.sampled_from([-3, -2, 0]),
        st.sampled_from([None, 978, 840]),
    ),
)
finals = st.none() | st.builds(
    FinalUnit,
    action=st.sampled_from(FinalUnitAction),
    redirect_url=st.sampled_from(["", "http://top-up.example/", "http://other.example/"]),
    filter_id=st.sampled_from(["", "top-up-only"]),
)
answers = st.builds(
    ItemAnswer,
    rating_group=st.none() | st.integers(min_value=0, max_value=5),
    service_id=st.none() | st.integers(min_value=0, max_value=3),
    result_code=st.sampled_from(
        [ResultCode.SUCCESS, ResultCode.CREDIT_LIMIT_REACHED, ResultCode.RATING_FAILED]
    ),
    granted=st.none() | units,
    validity_time=st.none() | st.sampled_from([60, 3600]),
    quota_threshold=st.none() | st.integers(min_value=1, max_value=10**6),
    quota_holding_time=st.none() | st.sampled_from([30, 300]),
    final_unit=finals,
)


def fresh(item: ItemAnswer) -> bytes:
    return encode_avp(
        avps.MULTIPLE_SERVICES_CREDIT_CONTROL, gy._item_avps(item, with_result_code=True)
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(answers, min_size=1, max_size=12))
def test_a_reused_mscc_is_the_fresh_encoding_of_its_answer(items: list[ItemAnswer]) -> None:
    for item in items:
        assert gy._mscc(item) == fresh(item)
    for item in reversed(items):  # now from the cache
        assert gy._mscc(item) == fresh(item)


def test_answers_that_differ_in_one_field_get_their_own_mscc() -> None:
    base = ItemAnswer(
        100, None, ResultCode.SUCCESS, ServiceUnits(total_octets=10_000_000), 3600, 2_000_000
    )
    variants = [
        base,
        replace(base, rating_group=101),
        replace(base, granted=ServiceUnits(total_octets=9_999_999)),
        replace(base, granted=ServiceUnits(time=10_000_000)),
        replace(base, quota_threshold=None),
        replace(base, final_unit=FinalUnit(FinalUnitAction.TERMINATE)),
        replace(base, final_unit=FinalUnit(FinalUnitAction.REDIRECT, "http://a.example/")),
        replace(base, final_unit=FinalUnit(FinalUnitAction.REDIRECT, "http://b.example/")),
    ]
    encoded = [gy._mscc(item) for item in variants]
    assert len(set(encoded)) == len(variants)
    assert encoded == [fresh(item) for item in variants]
