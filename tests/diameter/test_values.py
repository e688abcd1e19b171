"""Each AVP data type encodes and decodes its Python values, and refuses the rest."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.diameter.values import (
    DECODERS,
    ENCODERS,
    AvpType,
    OtherAddress,
    datetime_to_ntp,
    ntp_to_datetime,
)


def round_trip(avp_type: AvpType, value: Any) -> Any:
    data = ENCODERS[avp_type](value)
    return DECODERS[avp_type](b"xx" + data, 2, 2 + len(data))


@given(st.integers(0, 2**32 - 1))
def test_unsigned32(value: int) -> None:
    assert round_trip(AvpType.UNSIGNED32, value) == value


@given(st.integers(-(2**31), 2**31 - 1))
def test_integer32_and_enumerated(value: int) -> None:
    assert round_trip(AvpType.INTEGER32, value) == value
    assert round_trip(AvpType.ENUMERATED, value) == value


@given(st.integers(0, 2**64 - 1), st.integers(-(2**63), 2**63 - 1))
def test_64_bit_integers(unsigned: int, signed: int) -> None:
    assert round_trip(AvpType.UNSIGNED64, unsigned) == unsigned
    assert round_trip(AvpType.INTEGER64, signed) == signed


@given(st.floats(width=32, allow_nan=False), st.floats(allow_nan=False))
def test_floats(single: float, double: float) -> None:
    assert round_trip(AvpType.FLOAT32, single) == single
    assert round_trip(AvpType.FLOAT64, double) == double


@given(st.text(), st.binary())
def test_strings_and_octets(text: str, octets: bytes) -> None:
    for avp_type in (AvpType.UTF8_STRING, AvpType.DIAMETER_IDENTITY, AvpType.DIAMETER_URI):
        assert round_trip(avp_type, text) == text
    assert round_trip(AvpType.OCTET_STRING, octets) == octets


@given(
    st.datetimes(
        min_value=datetime(1968, 1, 21), max_value=datetime(2104, 1, 1), timezones=st.just(UTC)
    )
)
def test_time_is_an_aware_utc_datetime_in_both_ntp_eras(value: datetime) -> None:
    decoded = round_trip(AvpType.TIME, value)
    assert decoded.tzinfo is UTC
    assert decoded == value.replace(microsecond=0)


def test_time_wraps_into_ntp_era_1_in_2036() -> None:
    era_end = datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)
    assert datetime_to_ntp(era_end - timedelta(seconds=1)) == 2**32 - 1
    assert datetime_to_ntp(era_end) == 0
    assert ntp_to_datetime(0) == era_end
    assert ntp_to_datetime(3923553600) == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_time_refuses_naive_and_unrepresentable_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        ENCODERS[AvpType.TIME](datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="before 1968"):
        ENCODERS[AvpType.TIME](datetime(1960, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="after 2104"):
        ENCODERS[AvpType.TIME](datetime(2110, 1, 1, tzinfo=UTC))
    with pytest.raises(TypeError):
        ENCODERS[AvpType.TIME](1700000000)


@given(st.ip_addresses())
def test_address_ip_families(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    data = ENCODERS[AvpType.ADDRESS](address)
    assert data[:2] == (b"\x00\x01" if address.version == 4 else b"\x00\x02")
    assert round_trip(AvpType.ADDRESS, address) == address
    assert round_trip(AvpType.ADDRESS, str(address)) == address


def test_address_other_families_keep_their_family_and_data() -> None:
    e164 = OtherAddress(8, b"41790000001")
    assert ENCODERS[AvpType.ADDRESS](e164) == b"\x00\x08" + b"41790000001"
    assert round_trip(AvpType.ADDRESS, e164) == e164


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x01\x0a\x00\x00", b"\x00\x02" + bytes(4)])
def test_address_with_a_wrong_size_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        DECODERS[AvpType.ADDRESS](data, 0, len(data))


def test_invalid_utf8_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        DECODERS[AvpType.UTF8_STRING](b"\xff\xfe", 0, 2)


@pytest.mark.parametrize(
    ("avp_type", "value"),
    [
        (AvpType.OCTET_STRING, "text"),
        (AvpType.UTF8_STRING, b"octets"),
        (AvpType.FLOAT32, "1.0"),
        (AvpType.ADDRESS, 17),
        (AvpType.ADDRESS, "not an address"),
    ],
)
def test_encoders_refuse_values_of_the_wrong_kind(avp_type: AvpType, value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        ENCODERS[avp_type](value)
