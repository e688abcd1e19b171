"""RFC 6733 section 7 checks of a framed message, and the layout they produce.

:func:`analyze` walks every AVP of a message, grouped AVPs to any depth (bounded
by ``max_depth``), and checks in order of appearance:

* lengths: an AVP header that does not fit, a length shorter than the header or
  running past its message/group, a fixed-size type (Unsigned32, Time, ...)
  with the wrong data size -> 5014 DIAMETER_INVALID_AVP_LENGTH;
* an unknown AVP with the M bit -> 5001 DIAMETER_AVP_UNSUPPORTED (unknown AVPs
  without it are kept, as opaque octets, and ignored);
* AVP flag bits no RFC defines, or the V bit with Vendor-Id 0 (section 4.1.1
  forbids it) -> 3009 DIAMETER_INVALID_AVP_BITS. The M bit on an AVP whose rule
  says MUST NOT (Product-Name, ...) is tolerated: python-diameter and others
  set it, and rejecting their CER would only break interoperability;
* grouped AVPs nested deeper than ``max_depth`` -> 5004 DIAMETER_INVALID_AVP_VALUE;
* the command's grammar and each grouped AVP's grammar -> 5005, 5008, 5009, and
  5004 for an Enumerated value the grammar does not accept;
* the identities of a request (:func:`identity_problem`: Session-Id, Origin-Host/Realm,
  Destination-Host/Realm) empty or longer than their bound -> 5004. They key duplicate
  detection, sessions and routing. Like every value, whether their octets are UTF-8 is
  checked when they are read (the codec's ``InvalidAvpValue``, 5004 too).

The first problem raises :class:`InvalidMessage` with the Failed-AVP RFC 6733
section 7.5 asks for. Without ``validate`` (answers to our own requests, which
cannot be rejected) only the structural checks apply.

The result is a :class:`Layout`: per message and grouped AVP, the position of
each AVP (a *slot*), indexed by key. Reads use it; the codec caches it, keyed by
a mask of the header octets it was derived from (see ``codec.LayoutCache``).
"""

from __future__ import annotations

import struct
from typing import Final

from ocs.diameter.constants import HEADER_LENGTH, AvpFlag, ResultCode
from ocs.diameter.dictionary import DICTIONARY, AvpDef, Dictionary, frame_avp
from ocs.diameter.errors import InvalidMessage
from ocs.diameter.grammar import Grammar, Grammars
from ocs.diameter.values import DECODERS, FIXED_SIZE, MIN_SIZE, AvpType, Decoder

# A slot is a plain tuple (cheap to build and read on the hot path); its fields:
KEY: Final = 0
FLAGS: Final = 1
START: Final = 2
DATA: Final = 3
END: Final = 4
DECODE: Final = 5
SUB: Final = 6
DEF: Final = 7
"""``(key, flags, start, data_start, data_end, decode, sub_layout, avp_def)``:
``start`` is the AVP header's offset, ``buf[data_start:data_end]`` its data,
``sub_layout`` the :class:`GroupLayout` of a grouped AVP, ``avp_def`` ``None``
for an AVP the dictionary does not know."""
Slot = tuple[int, int, int, int, int, Decoder, "GroupLayout | None", AvpDef | None]

_AVP_HEADER = struct.Struct(">II")
_U32 = struct.Struct(">I")
_MANDATORY = int(AvpFlag.MANDATORY)
_VENDOR = int(AvpFlag.VENDOR)
_RESERVED = 0xFF & ~int(AvpFlag.VENDOR | AvpFlag.MANDATORY | AvpFlag.PROTECTED)
_OCTETS = DECODERS[AvpType.OCTET_STRING]
_GROUPED = AvpType.GROUPED

DEFAULT_MAX_DEPTH = 16

MAX_IDENTITY_OCTETS: Final = 255
"""DiameterIdentity (Origin-Host, Origin-Realm ...): an FQDN or realm, at most 255 octets
(RFC 1035 section 2.3.4)."""
MAX_SESSION_ID_OCTETS: Final = 512
"""Session-Id (RFC 6733 section 8.8: ``<DiameterIdentity>;<high>;<low>[;<optional>]``)."""

IDENTITIES: Final = tuple(
    (DICTIONARY.key(name), name, limit)
    for name, limit in (
        ("Session-Id", MAX_SESSION_ID_OCTETS),
        ("Origin-Host", MAX_IDENTITY_OCTETS),
        ("Origin-Realm", MAX_IDENTITY_OCTETS),
        ("Destination-Host", MAX_IDENTITY_OCTETS),
        ("Destination-Realm", MAX_IDENTITY_OCTETS),
    )
)
"""``(key, name, most octets)`` of the identities :func:`check_identities` checks."""


class GroupLayout:
    """The AVPs of one message body or grouped AVP: in order, and by key."""

    __slots__ = ("every", "first", "slots")

    def __init__(self, slots: list[Slot]) -> None:
        self.slots = slots
        self.first: dict[int, Slot] = {}
        self.every: dict[int, list[Slot]] = {}
        for slot in slots:
            key = slot[KEY]
            if key in self.first:
                self.every[key].append(slot)
            else:
                self.first[key] = slot
                self.every[key] = [slot]


class Layout:
    """A whole message's layout plus what must be re-checked on every reuse."""

    __slots__ = ("checks", "expected", "identity", "mask", "spans", "top")

    def __init__(
        self,
        top: GroupLayout,
        checks: list[tuple[Slot, frozenset[int], str]],
        spans: list[tuple[int, int]],
        identity: tuple[Slot, str] | None = None,
    ) -> None:
        self.top = top
        self.identity = identity
        """An empty or oversized identity of a validated request (see identity_problem)."""
        self.checks = checks
        """Enumerated values to check: they live in the data, not in the layout."""
        self.spans = spans
        """``(start, end)`` of every AVP header: the octets this layout depends on."""
        self.mask = 0
        self.expected = 0


def raw_avp(buf: bytes, slot: Slot) -> bytes:
    """The AVP of ``slot`` as it came, re-padded (for Failed-AVP and copies)."""
    start, end = slot[START], slot[END]
    return buf[start:end] + b"\x00" * (-(end - start) & 3)


def example_avp(definition: AvpDef) -> bytes:
    """An AVP with a zero-filled payload of the type's minimum size (section 7.5)."""
    data = b"\x00" * MIN_SIZE.get(definition.type, 0)
    return frame_avp(definition.code, definition.flags, definition.vendor, data)


def check_values(buf: bytes, checks: list[tuple[Slot, frozenset[int], str]]) -> None:
    for slot, accepted, where in checks:
        value = slot[DECODE](buf, slot[DATA], slot[END])
        if value not in accepted:
            definition = slot[DEF]
            name = definition.name if definition else str(slot[KEY])
            raise InvalidMessage(
                ResultCode.DIAMETER_INVALID_AVP_VALUE,
                [raw_avp(buf, slot)],
                f"{where}: {name} has no value {value}",
            )


def identity_problem(top: GroupLayout) -> tuple[Slot, str] | None:
    """The first of a request's Session-Id, Origin-Host, Origin-Realm, Destination-Host and
    Destination-Realm that is empty or longer than its bound, and what is wrong with it.

    Sizes only, so the verdict belongs to the layout (the codec caches it with it). Whether
    the octets are UTF-8 is found when they are read, like every other value's fit."""
    first = top.first
    for key, name, limit in IDENTITIES:
        slot = first.get(key)
        if slot is None:
            continue  # the grammar says whether it must be there
        size = slot[END] - slot[DATA]
        if size == 0:
            return slot, f"{name} is empty"
        if size > limit:
            return slot, f"{name} is {size} octets long, more than {limit}"
    return None


class _Walk:
    """One walk over one message; collects header spans for the layout mask."""

    def __init__(
        self, buf: bytes, dictionary: Dictionary, grammars: Grammars, validate: bool, max_depth: int
    ) -> None:
        self.buf = buf
        self.by_key = dictionary.by_key
        self.grammars = grammars
        self.validate = validate
        self.max_depth = max_depth
        self.spans: list[tuple[int, int]] = []
        self.checks: list[tuple[Slot, frozenset[int], str]] = []

    def group(self, pos: int, end: int, depth: int, grammar: Grammar | None) -> GroupLayout:
        buf = self.buf
        validate = self.validate
        slots: list[Slot] = []
        while pos < end:
            if end - pos < 8:
                self._bad_length(pos, end, "truncated AVP header")
            code, flags_length = _AVP_HEADER.unpack_from(buf, pos)
            flags = flags_length >> 24
            length = flags_length & 0xFFFFFF
            if flags & _VENDOR:
                if end - pos < 12:
                    self._bad_length(pos, end, "truncated AVP header")
                key = _U32.unpack_from(buf, pos + 8)[0] << 32 | code
                data = pos + 12
            else:
                key = code
                data = pos + 8
            self.spans.append((pos, data))
            stop = pos + length
            if stop < data or stop > end:
                self._bad_length(pos, end, f"AVP {code} length {length} does not fit")
            if validate and (flags & _RESERVED or (key == code and flags & _VENDOR)):
                raise InvalidMessage(
                    ResultCode.DIAMETER_INVALID_AVP_BITS,
                    [buf[pos:stop] + b"\x00" * (-length & 3)],
                    f"AVP {code} has flags 0x{flags:02x}: reserved bits or Vendor-Id 0",
                )
            definition = self.by_key(key)
            sub = None
            if definition is None:
                if validate and flags & _MANDATORY:
                    raise InvalidMessage(
                        ResultCode.DIAMETER_AVP_UNSUPPORTED,
                        [buf[pos:stop] + b"\x00" * (-length & 3)],
                        f"unknown AVP {code}"
                        + (f" vendor {key >> 32}" if key >> 32 else "")
                        + " with the M bit",
                    )
                decode: Decoder = _OCTETS
            else:
                decode = definition.decode
                kind = definition.type
                size = FIXED_SIZE.get(kind)
                if size is not None and stop - data != size:
                    raise InvalidMessage(
                        ResultCode.DIAMETER_INVALID_AVP_LENGTH,
                        [buf[pos:stop] + b"\x00" * (-length & 3)],
                        f"{definition.name} needs {size} octets of data, got {stop - data}",
                    )
                if kind is _GROUPED:
                    if depth >= self.max_depth:
                        raise InvalidMessage(
                            ResultCode.DIAMETER_INVALID_AVP_VALUE,
                            [frame_avp(code, flags, key >> 32, b"")],
                            f"grouped AVPs nested deeper than {self.max_depth} levels",
                        )
                    sub = self.group(data, stop, depth + 1, self.grammars.avp(key))
            slots.append((key, flags, pos, data, stop, decode, sub, definition))
            # Data is padded to 32 bits; lenient about the last AVP of a group whose
            # length leaves its padding out (pos may then pass end, which ends the loop).
            pos = stop + (-length & 3)
        layout = GroupLayout(slots)
        if grammar is not None and validate:
            self.check_grammar(grammar, layout)
        return layout

    def check_grammar(self, grammar: Grammar, layout: GroupLayout) -> None:
        slots = layout.slots
        violation = grammar.check([slot[KEY] for slot in slots])
        if violation is not None:
            if violation.occurrence is not None:
                failed = raw_avp(self.buf, slots[violation.occurrence])
            else:
                definition = self.by_key(violation.key)
                assert definition is not None  # grammars only name known AVPs
                failed = example_avp(definition)
            raise InvalidMessage(violation.result_code, [failed], violation.message)
        for key, accepted in grammar.values.items():
            for slot in layout.every.get(key, ()):
                self.checks.append((slot, accepted, grammar.name))

    def _bad_length(self, pos: int, end: int, detail: str) -> None:
        header = self.buf[pos : min(end, pos + 12)].ljust(8, b"\x00")
        code, flags_length = _AVP_HEADER.unpack_from(header)
        flags = flags_length >> 24
        vendor = _U32.unpack_from(header.ljust(12, b"\x00"), 8)[0] if flags & _VENDOR else 0
        definition = self.by_key(vendor << 32 | code)
        size = MIN_SIZE.get(definition.type, 0) if definition else 0
        raise InvalidMessage(
            ResultCode.DIAMETER_INVALID_AVP_LENGTH,
            [frame_avp(code, flags, vendor, b"\x00" * size)],
            detail,
        )


def analyze(
    buf: bytes,
    grammar: Grammar | None,
    dictionary: Dictionary,
    grammars: Grammars,
    *,
    validate: bool = True,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Layout:
    """Walk and check the AVPs of the message in ``buf`` (header already checked)."""
    walk = _Walk(buf, dictionary, grammars, validate, max_depth)
    top = walk.group(HEADER_LENGTH, len(buf), 0, grammar)
    if walk.checks:
        check_values(buf, walk.checks)
    return Layout(top, walk.checks, walk.spans, identity_problem(top) if validate else None)


def refuse_identity(buf: bytes, layout: Layout) -> None:
    """Raise the 5004 of the layout's bad identity, with the AVP of ``buf`` as Failed-AVP."""
    assert layout.identity is not None
    slot, problem = layout.identity
    raise InvalidMessage(ResultCode.DIAMETER_INVALID_AVP_VALUE, [raw_avp(buf, slot)], problem)


def header_problem(flags: int, grammar: Grammar | None) -> str | None:
    """Why a request's header bits are invalid (3008), or ``None``.

    The E bit must not be set in a request (section 3), and a command whose
    CCF lacks ``PXY`` (CER, DWR, DPR) must not carry the P bit.
    """
    if flags & 0x20:
        return "the E bit is set in a request"
    if flags & 0x40 and grammar is not None and not grammar.proxiable:
        return f"{grammar.name} must not have the P bit"
    return None
