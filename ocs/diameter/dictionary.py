"""The AVP dictionary: (code, vendor) -> name, data type and M-bit rule.

The data is python-diameter's (``AVP_DICTIONARY`` for vendor 0 and
``AVP_VENDOR_DICTIONARY`` for the vendors, 3GPP's 10415 among them: Ro/Gy per
TS 32.299 and Sy per TS 29.219), read once at import. Codes are not retyped here.
python-diameter flattens some types and M-bit rules, so a short overlay
(:data:`_TYPE_FIXES`, :data:`_MUST_NOT_M`, :data:`_RENAMES`, :data:`_ADDITIONS`)
corrects them, each entry citing its standard; ``tests/diameter/test_dictionary.py``
checks the result against the RFC 6733 and RFC 8506 AVP tables and checks the
whole dictionary (unique names and codes per vendor, every type known).

An AVP is identified by its *key*, ``vendor << 32 | code``: for vendor-less
AVPs the key is just the code. The codec indexes messages by key.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from diameter.message import constants as pd_constants
from diameter.message.avp import avp as pd_avp
from diameter.message.avp.dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY

from ocs.diameter.constants import VENDOR_3GPP, AvpFlag
from ocs.diameter.values import DECODERS, ENCODERS, FIXED_SIZE, AvpType, Decoder, Encoder

_HEADER = struct.Struct(">II")
_VENDOR_HEADER = struct.Struct(">III")
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
"""Indexed by ``len(data) & 3``: the zero octets that align the next AVP."""
# Plain ints: IntFlag arithmetic costs a microsecond per operation.
_V = int(AvpFlag.VENDOR)
_M = int(AvpFlag.MANDATORY)
_P = int(AvpFlag.PROTECTED)


def avp_key(code: int, vendor: int = 0) -> int:
    """The dictionary/codec key of an AVP: ``vendor << 32 | code``."""
    return vendor << 32 | code


def frame_avp(code: int, flags: int, vendor: int, data: bytes) -> bytes:
    """One AVP on the wire: header (with Vendor-Id when ``vendor``), data, padding."""
    size = len(data)
    if vendor:
        header = _VENDOR_HEADER.pack(code, (flags | _V) << 24 | (12 + size), vendor)
    else:
        header = _HEADER.pack(code, (flags & ~_V & 0xFF) << 24 | (8 + size))
    return header + data + _PADDING[size & 3]


class AvpDef:
    """One dictionary entry, with its encoder and decoder ready to use."""

    __slots__ = (
        "_encode_data",
        "_prefix",
        "code",
        "decode",
        "flags",
        "key",
        "mandatory",
        "must_not_mandatory",
        "name",
        "type",
        "vendor",
    )

    def __init__(
        self,
        code: int,
        vendor: int,
        name: str,
        avp_type: AvpType,
        *,
        mandatory: bool,
        must_not_mandatory: bool = False,
    ) -> None:
        self.code = code
        self.vendor = vendor
        self.name = name
        self.type = avp_type
        self.mandatory = mandatory
        """The M bit MUST be set (and is set when we encode)."""
        self.must_not_mandatory = must_not_mandatory
        """The M bit MUST NOT be set: receiving it is DIAMETER_INVALID_AVP_BITS."""
        self.key = avp_key(code, vendor)
        self.flags = (_V if vendor else 0) | (_M if mandatory else 0)
        self.decode: Decoder = DECODERS[avp_type]
        self._encode_data: Encoder = ENCODERS[avp_type]
        size = FIXED_SIZE.get(avp_type)
        # Fixed-size values (never padded) with the default flags: the header is a constant.
        self._prefix: bytes | None = None
        if size is not None:
            if vendor:
                self._prefix = _VENDOR_HEADER.pack(code, self.flags << 24 | (12 + size), vendor)
            else:
                self._prefix = _HEADER.pack(code, self.flags << 24 | (8 + size))

    def __repr__(self) -> str:
        vendor = f" vendor={self.vendor}" if self.vendor else ""
        return f"AvpDef({self.name} code={self.code}{vendor} type={self.type.name})"

    def encode(self, value: Any) -> bytes:
        """The AVP with ``value`` on the wire, flags per the dictionary.

        A Grouped value is an iterable of encoded member AVPs (``bytes``).
        Raises ``TypeError``/``ValueError`` for a value the type cannot hold.
        """
        prefix = self._prefix
        if prefix is not None:
            try:
                return prefix + self._encode_data(value)
            except struct.error as exc:
                raise ValueError(f"{value!r} does not fit {self.type.name}: {exc}") from None
        if self.type is AvpType.GROUPED:
            return frame_avp(self.code, self.flags, self.vendor, b"".join(value))
        return frame_avp(self.code, self.flags, self.vendor, self._encode_data(value))

    def encode_flags(
        self, value: Any, *, mandatory: bool | None = None, protected: bool = False
    ) -> bytes:
        """Like :meth:`encode`, overriding the M bit or setting the P bit."""
        flags = self.flags
        if mandatory is not None:
            flags = flags | _M if mandatory else flags & ~_M
        if protected:
            flags |= _P
        try:
            data = b"".join(value) if self.type is AvpType.GROUPED else self._encode_data(value)
        except struct.error as exc:
            raise ValueError(f"{value!r} does not fit {self.type.name}: {exc}") from None
        return frame_avp(self.code, flags, self.vendor, data)


class Dictionary:
    """AVP definitions by key and by name.

    Names are unique per vendor. :meth:`find` without a vendor resolves a name
    in this order: the base (vendor 0), 3GPP (10415), then any other vendor if
    the name is unique among them.
    """

    def __init__(self, defs: Iterable[AvpDef]) -> None:
        self._by_key: dict[int, AvpDef] = {}
        self._by_name: dict[tuple[str, int], AvpDef] = {}
        for definition in defs:
            if definition.key in self._by_key:
                raise ValueError(f"two definitions for {definition!r}")
            if (definition.name, definition.vendor) in self._by_name:
                raise ValueError(f"two AVPs named {definition.name} for vendor {definition.vendor}")
            self._by_key[definition.key] = definition
            self._by_name[definition.name, definition.vendor] = definition

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[AvpDef]:
        return iter(self._by_key.values())

    def get(self, code: int, vendor: int = 0) -> AvpDef | None:
        return self._by_key.get(vendor << 32 | code)

    def by_key(self, key: int) -> AvpDef | None:
        return self._by_key.get(key)

    def find(self, name: str, vendor: int | None = None) -> AvpDef:
        """The AVP called ``name``; ``KeyError`` naming it if there is none (or several)."""
        if vendor is not None:
            found = self._by_name.get((name, vendor))
            if found is None:
                raise KeyError(f"no AVP named {name!r} for vendor {vendor}")
            return found
        for preferred in (0, VENDOR_3GPP):
            found = self._by_name.get((name, preferred))
            if found is not None:
                return found
        others = [d for (n, v), d in self._by_name.items() if n == name]
        if len(others) != 1:
            raise KeyError(f"no AVP named {name!r}" if not others else f"{name!r} is ambiguous")
        return others[0]

    def key(self, name: str, vendor: int | None = None) -> int:
        return self.find(name, vendor).key


_PD_TYPES: dict[type, AvpType] = {
    pd_avp.AvpOctetString: AvpType.OCTET_STRING,
    pd_avp.AvpInteger32: AvpType.INTEGER32,
    pd_avp.AvpInteger64: AvpType.INTEGER64,
    pd_avp.AvpUnsigned32: AvpType.UNSIGNED32,
    pd_avp.AvpUnsigned64: AvpType.UNSIGNED64,
    pd_avp.AvpFloat32: AvpType.FLOAT32,
    pd_avp.AvpFloat64: AvpType.FLOAT64,
    pd_avp.AvpGrouped: AvpType.GROUPED,
    pd_avp.AvpAddress: AvpType.ADDRESS,
    pd_avp.AvpTime: AvpType.TIME,
    pd_avp.AvpUtf8String: AvpType.UTF8_STRING,
}
"""python-diameter's type classes (its Enumerated is an alias of AvpInteger32)."""

_TYPE_FIXES: dict[tuple[int, int], AvpType] = {
    # RFC 6733 section 4.5: python-diameter types DiameterIdentity as OctetString,
    # DiameterURI as UTF8String and some Unsigned32 AVPs as Integer32.
    (264, 0): AvpType.DIAMETER_IDENTITY,  # Origin-Host
    (296, 0): AvpType.DIAMETER_IDENTITY,  # Origin-Realm
    (293, 0): AvpType.DIAMETER_IDENTITY,  # Destination-Host
    (283, 0): AvpType.DIAMETER_IDENTITY,  # Destination-Realm
    (294, 0): AvpType.DIAMETER_IDENTITY,  # Error-Reporting-Host
    (280, 0): AvpType.DIAMETER_IDENTITY,  # Proxy-Host
    (282, 0): AvpType.DIAMETER_IDENTITY,  # Route-Record
    (292, 0): AvpType.DIAMETER_URI,  # Redirect-Host
    (268, 0): AvpType.UNSIGNED32,  # Result-Code
    (291, 0): AvpType.UNSIGNED32,  # Authorization-Lifetime
    (299, 0): AvpType.UNSIGNED32,  # Inband-Security-Id
    (270, 0): AvpType.UNSIGNED32,  # Session-Binding
}

_MUST_NOT_M: set[tuple[int, int]] = {
    # RFC 6733 section 4.5: the M bit MUST NOT be set on these.
    (281, 0),  # Error-Message
    (294, 0),  # Error-Reporting-Host
    (267, 0),  # Firmware-Revision
    (269, 0),  # Product-Name
}

_RENAMES: dict[tuple[int, int], str] = {
    (50, 0): "Acct-Multi-Session-Id",  # RFC 6733 section 9.8.5 (python-diameter: Accounting-)
    (872, VENDOR_3GPP): "Reporting-Reason",  # TS 32.299 section 7.2.175
    (3815, VENDOR_3GPP): "ProSe-Validity-Timer",  # python-diameter's constant; it names it
    # Application-Specific-Data, the name of 3458
}

_ADDITIONS: list[tuple[int, int, str, AvpType, bool]] = [
    # RFC 8506 sections 8.58-8.63, missing in python-diameter (M bit: MAY, not set).
    (659, 0, "Subscription-Id-Extension", AvpType.GROUPED, False),
    (660, 0, "Subscription-Id-E164", AvpType.UTF8_STRING, False),
    (661, 0, "Subscription-Id-IMSI", AvpType.UTF8_STRING, False),
    (662, 0, "Subscription-Id-SIP-URI", AvpType.UTF8_STRING, False),
    (663, 0, "Subscription-Id-NAI", AvpType.UTF8_STRING, False),
    (664, 0, "Subscription-Id-Private", AvpType.UTF8_STRING, False),
]


def _enumerated_names() -> set[str]:
    """Upper-snake AVP names that python-diameter lists enumeration values for (``E_*``)."""
    prefixes: set[str] = set()
    for constant in dir(pd_constants):
        if constant.startswith("E_"):
            parts = constant[2:].split("_")
            for end in range(1, len(parts)):
                prefixes.add("_".join(parts[:end]))
    return prefixes


def _snake(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", name.upper())


def _from_python_diameter() -> Iterator[AvpDef]:
    enumerated = _enumerated_names()
    tables = [(0, AVP_DICTIONARY)] + [(v, t) for v, t in AVP_VENDOR_DICTIONARY.items() if v]
    for vendor, table in tables:
        for code, info in table.items():
            where = (code, vendor)
            name = _RENAMES.get(where, info["name"])
            avp_type = _TYPE_FIXES.get(where) or _PD_TYPES[info["type"]]
            if avp_type is AvpType.INTEGER32 and _snake(name) in enumerated:
                avp_type = AvpType.ENUMERATED
            must_not = where in _MUST_NOT_M
            yield AvpDef(
                code,
                vendor,
                name,
                avp_type,
                mandatory=bool(info.get("mandatory")) and not must_not,
                must_not_mandatory=must_not,
            )
    for code, vendor, name, avp_type, mandatory in _ADDITIONS:
        yield AvpDef(code, vendor, name, avp_type, mandatory=mandatory)


DICTIONARY = Dictionary(_from_python_diameter())
"""The dictionary ocs uses: python-diameter's data plus the overlay above."""
