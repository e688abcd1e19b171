"""Compare a message as python-diameter reads it with how we read it."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from diameter.message import Message as PdMessage
from diameter.message.avp import Avp as PdAvp

from ocs.diameter.codec import Avp, Codec
from ocs.diameter.dictionary import DICTIONARY
from ocs.diameter.values import AvpType, OtherAddress


def normalize_pd(avp: PdAvp) -> tuple[int, int, int, Any]:
    """python-diameter's view of one AVP, in our value types."""
    definition = DICTIONARY.get(avp.code, avp.vendor_id)
    assert definition is not None
    value = avp.value
    kind = definition.type
    if kind is AvpType.GROUPED:
        value = [normalize_pd(member) for member in value]
    elif kind is AvpType.DIAMETER_IDENTITY:
        value = value.decode()
    elif kind is AvpType.TIME:  # python-diameter returns naive local time
        value = datetime.fromtimestamp(value.timestamp(), UTC)
    elif kind is AvpType.ADDRESS:
        family, text = value
        if family in (1, 2):
            value = ipaddress.ip_address(text)
        else:
            value = OtherAddress(family, text.encode())
    elif kind is AvpType.UNSIGNED32:
        value &= 0xFFFFFFFF
    return avp.code, avp.vendor_id, avp.flags, value


def normalize_ours(avp: Avp) -> tuple[int, int, int, Any]:
    value = avp.value
    if isinstance(value, list):
        value = [normalize_ours(member) for member in value]
    return avp.code, avp.vendor, avp.flags, value


def same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (left != left and right != right)
    if isinstance(left, tuple | list) and isinstance(right, tuple | list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def assert_python_diameter_agrees(data: bytes) -> None:
    """python-diameter parses ``data`` into the same AVPs, values and header as we do."""
    theirs = PdMessage.from_bytes(data, plain_msg=True)
    ours = Codec().decode(data, validate=False)
    assert theirs.header.length == len(data)
    assert theirs.header.command_code == ours.command_code
    assert theirs.header.command_flags == ours.flags
    assert theirs.header.hop_by_hop_identifier == ours.hop_by_hop
    assert same([normalize_pd(a) for a in theirs.avps], [normalize_ours(a) for a in ours.avps()])
