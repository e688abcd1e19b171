"""Differential tests: our codec and python-diameter read each other's bytes identically.

Messages are random trees of AVPs drawn from the whole dictionary (every data
type, grouped AVPs nested a few levels), encoded by one side and decoded by the
other; every AVP's code, vendor, flags and value must agree.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from diameter.message import Message as PdMessage
from diameter.message import MessageHeader
from diameter.message.avp import Avp as PdAvp
from diameter.message.avp.dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY
from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.diameter.codec import Codec, Message, encode_avp
from ocs.diameter.dictionary import DICTIONARY, AvpDef
from ocs.diameter.grammar import Grammars
from ocs.diameter.values import AvpType, OtherAddress
from tests.diameter.pd_compare import normalize_ours, normalize_pd, same

# Compare against what python-diameter knows; our decoder runs without grammars
# (random trees do not follow them) but with every other section 7 check.
CODEC = Codec(grammars=Grammars())
KNOWN = [
    d
    for d in DICTIONARY
    if (d.vendor == 0 and d.code in AVP_DICTIONARY)
    or (d.vendor and d.code in AVP_VENDOR_DICTIONARY.get(d.vendor, {}))
]
SCALARS = [d for d in KNOWN if d.type is not AvpType.GROUPED]
GROUPED = [d for d in KNOWN if d.type is AvpType.GROUPED]
_PD_SIGNED = {"AvpInteger32", "AvpInteger64"}


def pd_entry(definition: AvpDef) -> dict[str, Any]:
    if definition.vendor:
        return dict(AVP_VENDOR_DICTIONARY[definition.vendor][definition.code])
    return dict(AVP_DICTIONARY[definition.code])


def value_strategy(definition: AvpDef) -> st.SearchStrategy[Any]:
    kind = definition.type
    signed_in_pd = pd_entry(definition)["type"].__name__ in _PD_SIGNED
    if kind in (AvpType.INTEGER32, AvpType.ENUMERATED):
        return st.integers(-(2**31), 2**31 - 1)
    if kind is AvpType.UNSIGNED32:
        return st.integers(0, 2**31 - 1 if signed_in_pd else 2**32 - 1)
    if kind is AvpType.INTEGER64:
        return st.integers(-(2**63), 2**63 - 1)
    if kind is AvpType.UNSIGNED64:
        return st.integers(0, 2**64 - 1)
    if kind is AvpType.FLOAT32:
        return st.floats(width=32, allow_nan=False)
    if kind is AvpType.FLOAT64:
        return st.floats(allow_nan=False)
    if kind is AvpType.OCTET_STRING:
        return st.binary(max_size=40)
    if kind is AvpType.DIAMETER_IDENTITY:
        return st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True)
    if kind in (AvpType.UTF8_STRING, AvpType.DIAMETER_URI):
        return st.text(max_size=30)
    if kind is AvpType.TIME:
        # NTP era 0 only: python-diameter puts era 1 (from 2036-02-07 06:28:16 UTC) at
        # Unix time 2085974896 instead of 2**32 - 2208988800 = 2085978496, one hour off.
        # Ours follows RFC 5905 (tests/diameter/test_values.py checks the boundary).
        return st.datetimes(
            min_value=datetime(1968, 2, 1), max_value=datetime(2036, 2, 6), timezones=st.just(UTC)
        ).map(lambda d: d.replace(microsecond=0))
    if kind is AvpType.ADDRESS:
        return st.one_of(
            st.ip_addresses(),
            st.from_regex(r"[0-9]{5,15}", fullmatch=True).map(
                lambda s: OtherAddress(8, s.encode())
            ),
        )
    raise AssertionError(kind)


Tree = tuple[AvpDef, Any]  # (definition, value or list of member trees)


def trees(depth: int = 3) -> st.SearchStrategy[Tree]:
    scalar = st.sampled_from(SCALARS).flatmap(lambda d: value_strategy(d).map(lambda v: (d, v)))
    if depth == 0:
        return scalar
    grouped = st.tuples(st.sampled_from(GROUPED), st.lists(trees(depth - 1), max_size=4))
    return st.one_of(scalar, scalar, grouped)


def ours_encode(tree: Tree) -> bytes:
    definition, value = tree
    if definition.type is AvpType.GROUPED:
        return definition.encode([ours_encode(member) for member in value])
    return encode_avp(definition.key, value)


def pd_value(definition: AvpDef, value: Any) -> Any:
    """Our value as python-diameter's setter expects it."""
    pd_type = pd_entry(definition)["type"].__name__
    if pd_type == "AvpOctetString" and isinstance(value, str):
        return value.encode()
    if definition.type is AvpType.ADDRESS:
        return value.data.decode() if isinstance(value, OtherAddress) else str(value)
    return value


def pd_build(tree: Tree) -> PdAvp:
    definition, value = tree
    if definition.type is AvpType.GROUPED:
        return PdAvp.new(definition.code, definition.vendor, [pd_build(m) for m in value])
    return PdAvp.new(definition.code, definition.vendor, pd_value(definition, value))


def expected(tree: Tree) -> tuple[int, int, int, Any]:
    definition, value = tree
    if definition.type is AvpType.GROUPED:
        value = [expected(member) for member in value]
    elif isinstance(value, str) and definition.type is AvpType.ADDRESS:
        value = ipaddress.ip_address(value)
    return definition.code, definition.vendor, definition.flags, value


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_what_we_write_python_diameter_reads_identically(forest: list[Tree], hop: int) -> None:
    message = Message(272, 4, flags=0x40, hop_by_hop=hop, end_to_end=hop ^ 0xFFFF)
    message.add_raw(*(ours_encode(tree) for tree in forest))
    data = message.to_bytes()
    parsed = PdMessage.from_bytes(data, plain_msg=True)
    assert parsed.header.length == len(data)
    assert parsed.header.hop_by_hop_identifier == hop
    assert same([normalize_pd(avp) for avp in parsed.avps], [expected(tree) for tree in forest])


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=6), st.booleans())
def test_what_python_diameter_writes_we_read_identically(forest: list[Tree], request: bool) -> None:
    header = MessageHeader(command_code=999999, application_id=16777302, hop_by_hop_identifier=7)
    header.is_request = request
    pd_avps = [pd_build(tree) for tree in forest]
    data = bytes(PdMessage(header, pd_avps).as_bytes())
    ours = CODEC.decode(data)
    assert (ours.command_code, ours.is_request, ours.hop_by_hop) == (999999, request, 7)
    assert same([normalize_ours(avp) for avp in ours.avps()], [normalize_pd(a) for a in pd_avps])
