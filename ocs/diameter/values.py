"""AVP data types (RFC 6733 sections 4.2-4.3): Python values to bytes and back.

Each type has a decoder ``(buf, start, end) -> value`` that reads the AVP data
``buf[start:end]`` without copying where it can, and an encoder ``value ->
bytes`` (the data only; header and padding are the codec's job).

Python values: ints for the integer types and Enumerated, floats for Float32/64,
``bytes`` for OctetString, ``str`` for UTF8String, DiameterIdentity and
DiameterURI, an aware UTC ``datetime`` for Time, and for Address an
``ipaddress.IPv4Address``/``IPv6Address`` (families 1 and 2) or an
:class:`OtherAddress` carrying any other family with its raw bytes.

Decoders raise ``ValueError`` for data that does not fit the type (wrong
length, bad UTF-8, an IP family with the wrong size); encoders raise
``ValueError``/``TypeError`` for Python values that cannot be encoded.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, NamedTuple


class AvpType(IntEnum):
    """The data type of an AVP: the basic formats and RFC 6733's derived ones."""

    OCTET_STRING = 1
    INTEGER32 = 2
    INTEGER64 = 3
    UNSIGNED32 = 4
    UNSIGNED64 = 5
    FLOAT32 = 6
    FLOAT64 = 7
    GROUPED = 8
    ADDRESS = 9
    TIME = 10
    UTF8_STRING = 11
    DIAMETER_IDENTITY = 12
    DIAMETER_URI = 13
    ENUMERATED = 14


class OtherAddress(NamedTuple):
    """An Address AVP of a family other than IPv4 (1) and IPv6 (2), e.g. E.164 (8)."""

    family: int
    data: bytes


Decoder = Callable[[bytes, int, int], Any]
Encoder = Callable[[Any], bytes]

_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")
_FAMILY = struct.Struct(">H")

FIXED_SIZE: dict[AvpType, int] = {
    AvpType.INTEGER32: 4,
    AvpType.ENUMERATED: 4,
    AvpType.UNSIGNED32: 4,
    AvpType.FLOAT32: 4,
    AvpType.TIME: 4,
    AvpType.INTEGER64: 8,
    AvpType.UNSIGNED64: 8,
    AvpType.FLOAT64: 8,
}
"""Data sizes that RFC 6733 fixes; any other length is DIAMETER_INVALID_AVP_LENGTH."""

MIN_SIZE: dict[AvpType, int] = {**FIXED_SIZE, AvpType.ADDRESS: 6}
"""Minimum data size of each type, for the zero-filled example of a missing AVP."""


def _fixed(unpack_from: Callable[[bytes, int], tuple[Any, ...]]) -> Decoder:
    # The codec only reads fixed-size values whose length it has checked
    # (DIAMETER_INVALID_AVP_LENGTH otherwise), so the hot path reads straight away.
    def decode(buf: bytes, start: int, end: int) -> Any:
        return unpack_from(buf, start)[0]

    return decode


def _octets(buf: bytes, start: int, end: int) -> bytes:
    return buf[start:end]


def _utf8(buf: bytes, start: int, end: int) -> str:
    return buf[start:end].decode()


# NTP timestamps (RFC 5905 section 6, as RFC 6733 section 4.3.1 requires): seconds
# since 1900-01-01; values with the top bit clear belong to the era starting
# 2036-02-07 06:28:16 UTC, which extends the range to 2104.
_NTP_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)
_NTP_ERA1 = datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)
_ERA_SPLIT = 0x80000000


_NTP_TO_UNIX = 2208988800
"""Seconds from 1900-01-01 to 1970-01-01."""


def ntp_to_datetime(seconds: int) -> datetime:
    if seconds & _ERA_SPLIT:
        return datetime.fromtimestamp(seconds - _NTP_TO_UNIX, UTC)
    return datetime.fromtimestamp(seconds + (1 << 32) - _NTP_TO_UNIX, UTC)


def datetime_to_ntp(value: datetime) -> int:
    if not isinstance(value, datetime):
        raise TypeError(f"Time needs a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("Time needs an aware datetime (UTC), got a naive one")
    seconds = int((value - _NTP_EPOCH).total_seconds())
    if value >= _NTP_ERA1:
        seconds -= 1 << 32
        if seconds >= _ERA_SPLIT:
            raise ValueError(f"{value.isoformat()} is after 2104, the end of NTP era 1")
    elif seconds < _ERA_SPLIT:
        raise ValueError(f"{value.isoformat()} is before 1968-01-20, not representable")
    return seconds


def _time(buf: bytes, start: int, end: int) -> datetime:
    return ntp_to_datetime(_U32.unpack_from(buf, start)[0])


def _address(buf: bytes, start: int, end: int) -> Any:
    if end - start < 2:
        raise ValueError("an Address needs at least its 2-octet family")
    family = _FAMILY.unpack_from(buf, start)[0]
    raw = buf[start + 2 : end]
    if family == 1:
        if len(raw) != 4:
            raise ValueError(f"an IPv4 address has 4 octets, got {len(raw)}")
        return ipaddress.IPv4Address(raw)
    if family == 2:
        if len(raw) != 16:
            raise ValueError(f"an IPv6 address has 16 octets, got {len(raw)}")
        return ipaddress.IPv6Address(raw)
    return OtherAddress(family, raw)


def _encode_address(value: Any) -> bytes:
    if isinstance(value, str):
        value = ipaddress.ip_address(value)
    if isinstance(value, ipaddress.IPv4Address):
        return b"\x00\x01" + value.packed
    if isinstance(value, ipaddress.IPv6Address):
        return b"\x00\x02" + value.packed
    if isinstance(value, OtherAddress):
        return _FAMILY.pack(value.family) + bytes(value.data)
    raise TypeError(f"Address needs an IP address or OtherAddress, got {type(value).__name__}")


def _encode_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"OctetString needs bytes, got {type(value).__name__}")


def _encode_str(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    return value.encode()


def _checked_int(pack: Callable[[Any], bytes]) -> Encoder:
    """The bare ``Struct.pack``: it rejects non-integers and out-of-range values
    itself (``struct.error``, which :meth:`AvpDef.encode` reports as ValueError)."""
    return pack


def _encode_float(pack: Callable[[Any], bytes]) -> Encoder:
    def encode(value: Any) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected float, got {type(value).__name__}")
        try:
            return pack(float(value))
        except (struct.error, OverflowError) as exc:
            raise ValueError(f"{value!r} does not fit: {exc}") from None

    return encode


def _encode_time(value: Any) -> bytes:
    return _U32.pack(datetime_to_ntp(value))


def _no_grouped_value(value: Any) -> bytes:
    raise TypeError("a Grouped AVP is encoded from its member AVPs, not from one value")


def _no_grouped_decoder(buf: bytes, start: int, end: int) -> Any:
    raise TypeError("a Grouped AVP is read with group()/groups(), not get()")


DECODERS: dict[AvpType, Decoder] = {
    AvpType.OCTET_STRING: _octets,
    AvpType.INTEGER32: _fixed(_I32.unpack_from),
    AvpType.ENUMERATED: _fixed(_I32.unpack_from),
    AvpType.INTEGER64: _fixed(_I64.unpack_from),
    AvpType.UNSIGNED32: _fixed(_U32.unpack_from),
    AvpType.UNSIGNED64: _fixed(_U64.unpack_from),
    AvpType.FLOAT32: _fixed(_F32.unpack_from),
    AvpType.FLOAT64: _fixed(_F64.unpack_from),
    AvpType.GROUPED: _no_grouped_decoder,
    AvpType.ADDRESS: _address,
    AvpType.TIME: _time,
    AvpType.UTF8_STRING: _utf8,
    AvpType.DIAMETER_IDENTITY: _utf8,
    AvpType.DIAMETER_URI: _utf8,
}

ENCODERS: dict[AvpType, Encoder] = {
    AvpType.OCTET_STRING: _encode_bytes,
    AvpType.INTEGER32: _checked_int(_I32.pack),
    AvpType.ENUMERATED: _checked_int(_I32.pack),
    AvpType.INTEGER64: _checked_int(_I64.pack),
    AvpType.UNSIGNED32: _checked_int(_U32.pack),
    AvpType.UNSIGNED64: _checked_int(_U64.pack),
    AvpType.FLOAT32: _encode_float(_F32.pack),
    AvpType.FLOAT64: _encode_float(_F64.pack),
    AvpType.GROUPED: _no_grouped_value,
    AvpType.ADDRESS: _encode_address,
    AvpType.TIME: _encode_time,
    AvpType.UTF8_STRING: _encode_str,
    AvpType.DIAMETER_IDENTITY: _encode_str,
    AvpType.DIAMETER_URI: _encode_str,
}
