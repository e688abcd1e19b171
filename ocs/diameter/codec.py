"""Diameter messages: decode from bytes, read AVPs by key, build and encode.

No sockets here: :meth:`Codec.decode` takes one framed message (see
``framing``) and returns a :class:`Message`; :meth:`Message.to_bytes` gives one
back. AVPs are addressed by key (``vendor << 32 | code``, see
``ocs.diameter.avps``)::

    request = codec.decode(data)
    request.get(avps.CC_REQUEST_NUMBER)             # first value, typed, or None
    for mscc in request.groups(avps.MULTIPLE_SERVICES_CREDIT_CONTROL):
        usage = mscc.group(avps.USED_SERVICE_UNIT)  # a Group: the same read API
    answer = request.answer(ResultCode.DIAMETER_SUCCESS, identity)
    answer.add(avps.CC_REQUEST_TYPE, 2)
    data = answer.to_bytes()

Decoding is lazy where it can be: the walk records where each AVP is (and
checks RFC 6733 section 7, see ``validation``); values are decoded when read,
and a value that does not fit its type raises :class:`InvalidAvpValue` (5004)
then. Requests whose AVP headers match a layout seen before (same length, same
header octets at the same places, verified exactly by one masked integer
compare) reuse that layout, including its validation, instead of walking again.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ocs.diameter.constants import (
    DIAMETER_VERSION,
    HEADER_LENGTH,
    CommandFlag,
    ResultCode,
)
from ocs.diameter.dictionary import DICTIONARY, AvpDef, Dictionary
from ocs.diameter.errors import EncodeError, FramingError, InvalidAvpValue, InvalidMessage
from ocs.diameter.grammar import Grammars
from ocs.diameter.validation import (
    DATA,
    DECODE,
    DEF,
    DEFAULT_MAX_DEPTH,
    END,
    FLAGS,
    KEY,
    SUB,
    GroupLayout,
    Layout,
    Slot,
    analyze,
    check_values,
    raw_avp,
    refuse_identity,
)
from ocs.diameter.values import AvpType

HEADER = struct.Struct(">IIIII")
_REQUEST = int(CommandFlag.REQUEST)
_PROXIABLE = int(CommandFlag.PROXIABLE)
_ERROR = int(CommandFlag.ERROR)

_SESSION_ID = DICTIONARY.find("Session-Id")
_RESULT_CODE = DICTIONARY.find("Result-Code")
_ORIGIN_HOST = DICTIONARY.find("Origin-Host")
_ORIGIN_REALM = DICTIONARY.find("Origin-Realm")
_PROXY_INFO = DICTIONARY.find("Proxy-Info")
_ERROR_MESSAGE = DICTIONARY.find("Error-Message")
_FAILED_AVP = DICTIONARY.find("Failed-AVP")
_RESULT_CODE_AVPS: dict[int, bytes] = {}
_SESSION_ID_KEY = _SESSION_ID.key
_RESULT_CODE_KEY = _RESULT_CODE.key
_PROXY_INFO_KEY = _PROXY_INFO.key
_new_message = object.__new__


def encode_avp(
    key: int,
    value: Any,
    vendor: int = 0,
    *,
    mandatory: bool | None = None,
    dictionary: Dictionary = DICTIONARY,
) -> bytes:
    """One AVP on the wire from a Python value typed per the dictionary.

    A Grouped value is an iterable of members, each encoded AVP ``bytes`` or a
    ``(key, value)`` pair encoded recursively.
    """
    if vendor:
        key |= vendor << 32
    definition = dictionary.by_key(key)
    if definition is None:
        raise EncodeError(f"AVP {key & 0xFFFFFFFF} vendor {key >> 32} is not in the dictionary")
    if definition.type is AvpType.GROUPED:
        value = [
            member if isinstance(member, bytes) else encode_avp(*member, dictionary=dictionary)
            for member in value
        ]
    try:
        if mandatory is None:
            return definition.encode(value)
        return definition.encode_flags(value, mandatory=mandatory)
    except (TypeError, ValueError) as exc:
        raise EncodeError(f"{definition.name}: {exc}") from None


def result_code_avp(result_code: int) -> bytes:
    avp = _RESULT_CODE_AVPS.get(result_code)
    if avp is None:
        avp = _RESULT_CODE_AVPS[result_code] = _RESULT_CODE.encode(int(result_code))
    return avp


class Identity:
    """Our Origin-Host and Origin-Realm, encoded once for every answer and request."""

    __slots__ = ("avps", "host", "realm")

    def __init__(self, host: str, realm: str) -> None:
        self.host = host
        self.realm = realm
        self.avps = _ORIGIN_HOST.encode(host) + _ORIGIN_REALM.encode(realm)


class Avp:
    """One AVP of a decoded message, for inspection (hot paths read by key)."""

    __slots__ = ("_buf", "_slot")

    def __init__(self, buf: bytes, slot: Slot) -> None:
        self._buf = buf
        self._slot = slot

    @property
    def key(self) -> int:
        return self._slot[KEY]

    @property
    def code(self) -> int:
        return self._slot[KEY] & 0xFFFFFFFF

    @property
    def vendor(self) -> int:
        return self._slot[KEY] >> 32

    @property
    def flags(self) -> int:
        return self._slot[FLAGS]

    @property
    def definition(self) -> AvpDef | None:
        return self._slot[DEF]

    @property
    def name(self) -> str:
        definition = self._slot[DEF]
        return definition.name if definition else f"Unknown-{self.code}"

    @property
    def data(self) -> bytes:
        return self._buf[self._slot[DATA] : self._slot[END]]

    @property
    def value(self) -> Any:
        """The typed value; for a grouped AVP, its member :class:`Avp` list."""
        sub = self._slot[SUB]
        if sub is not None:
            return [Avp(self._buf, slot) for slot in sub.slots]
        return _decode(self._buf, self._slot)

    def to_bytes(self) -> bytes:
        return raw_avp(self._buf, self._slot)

    def __repr__(self) -> str:
        return f"Avp({self.name}={self.value!r})"


def _decode(buf: bytes, slot: Slot) -> Any:
    try:
        return slot[DECODE](buf, slot[DATA], slot[END])
    except ValueError as exc:
        definition = slot[DEF]
        name = definition.name if definition else str(slot[KEY])
        raise InvalidAvpValue(
            ResultCode.DIAMETER_INVALID_AVP_VALUE, [raw_avp(buf, slot)], f"{name}: {exc}"
        ) from None


class Group:
    """The AVPs of a message or of one grouped AVP, read by key."""

    __slots__ = ("_buf", "_layout")

    def __init__(self, buf: bytes, layout: GroupLayout) -> None:
        self._buf = buf
        self._layout: GroupLayout | None = layout

    def _materialize(self) -> GroupLayout:
        raise AssertionError("a decoded group always has its layout")

    def get(self, key: int, vendor: int = 0, default: Any = None) -> Any:
        """The value of the first AVP with this key, or ``default``."""
        if vendor:
            key |= vendor << 32
        try:
            slot = self._layout.first.get(key)  # type: ignore[union-attr]
        except AttributeError:  # a message being built: encode it first
            slot = self._materialize().first.get(key)
        if slot is None:
            return default
        try:
            return slot[DECODE](self._buf, slot[DATA], slot[END])
        except ValueError:
            return _decode(self._buf, slot)

    def values(self) -> dict[int, Any]:
        """The value of the first AVP of every key present, in one pass (grouped AVPs as
        :class:`Group`): cheaper than several :meth:`get` calls when most are absent."""
        buf = self._buf
        found: dict[int, Any] = {}
        for key, slot in (self._layout or self._materialize()).first.items():
            sub = slot[SUB]
            if sub is not None:
                group = _new_message(Group)
                group._buf = buf
                group._layout = sub
                found[key] = group
                continue
            try:
                found[key] = slot[DECODE](buf, slot[DATA], slot[END])
            except ValueError:
                found[key] = _decode(buf, slot)
        return found

    def get_all(self, key: int, vendor: int = 0) -> list[Any]:
        if vendor:
            key |= vendor << 32
        slots = (self._layout or self._materialize()).every.get(key, ())
        return [_decode(self._buf, slot) for slot in slots]

    def group(self, key: int, vendor: int = 0) -> Group | None:
        """The first grouped AVP with this key, as a :class:`Group`, or ``None``."""
        if vendor:
            key |= vendor << 32
        slot = (self._layout or self._materialize()).first.get(key)
        if slot is None or slot[SUB] is None:
            return None
        group = _new_message(Group)
        group._buf = self._buf
        group._layout = slot[SUB]
        return group

    def groups(self, key: int, vendor: int = 0) -> list[Group]:
        if vendor:
            key |= vendor << 32
        buf = self._buf
        groups = []
        for slot in (self._layout or self._materialize()).every.get(key, ()):
            if slot[SUB] is not None:
                group = _new_message(Group)
                group._buf = buf
                group._layout = slot[SUB]
                groups.append(group)
        return groups

    def raw(self, key: int, vendor: int = 0) -> bytes | None:
        """The first AVP with this key as encoded (header, data, padding)."""
        if vendor:
            key |= vendor << 32
        slot = (self._layout or self._materialize()).first.get(key)
        return None if slot is None else raw_avp(self._buf, slot)

    def __contains__(self, key: int) -> bool:
        return key in (self._layout or self._materialize()).first

    def keys(self) -> list[int]:
        """The keys of all AVPs, in order."""
        return [slot[KEY] for slot in (self._layout or self._materialize()).slots]

    def avps(self) -> list[Avp]:
        return [Avp(self._buf, slot) for slot in (self._layout or self._materialize()).slots]


class Message(Group):
    """A Diameter message: header fields plus its AVPs.

    Decoded messages read their AVPs from the received bytes. Messages being
    built collect encoded AVPs with :meth:`add`; reading one first encodes it.
    """

    __slots__ = (
        "_chunks",
        "_result_code",
        "application_id",
        "command_code",
        "end_to_end",
        "flags",
        "hop_by_hop",
    )

    def __init__(
        self,
        command_code: int,
        application_id: int = 0,
        *,
        flags: int = 0,
        hop_by_hop: int = 0,
        end_to_end: int = 0,
    ) -> None:
        self.command_code = command_code
        self.application_id = application_id
        self.flags = flags
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self._buf = b""
        self._layout = None
        self._chunks: list[bytes] | None = []
        self._result_code: int | None = None

    @classmethod
    def request(
        cls, command_code: int, application_id: int = 0, *, proxiable: bool = False
    ) -> Message:
        return cls(command_code, application_id, flags=_REQUEST | (_PROXIABLE if proxiable else 0))

    @classmethod
    def _decoded(cls, header: tuple[int, ...], buf: bytes, layout: GroupLayout) -> Message:
        message = _new_message(cls)
        _, command, message.application_id, message.hop_by_hop, message.end_to_end = header
        message.flags = command >> 24
        message.command_code = command & 0xFFFFFF
        message._buf = buf
        message._layout = layout
        message._chunks = None
        message._result_code = None
        return message

    @property
    def is_request(self) -> bool:
        return bool(self.flags & _REQUEST)

    @property
    def is_proxiable(self) -> bool:
        return bool(self.flags & _PROXIABLE)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & _ERROR)

    @property
    def is_retransmitted(self) -> bool:
        return bool(self.flags & CommandFlag.RETRANSMITTED)

    @property
    def result_code(self) -> int | None:
        """The Result-Code AVP (known without reading when built by :meth:`answer`)."""
        if self._result_code is not None:
            return self._result_code
        value = self.get(_RESULT_CODE_KEY)
        return value if isinstance(value, int) else None

    def __repr__(self) -> str:
        kind = "request" if self.is_request else "answer"
        return (
            f"Message({kind} command={self.command_code} app={self.application_id} "
            f"flags=0x{self.flags:02x} hbh=0x{self.hop_by_hop:08x} e2e=0x{self.end_to_end:08x})"
        )

    def _materialize(self) -> GroupLayout:
        data = self.to_bytes()
        layout = analyze(data, None, DICTIONARY, Grammars(), validate=False).top
        self._buf = data
        self._layout = layout
        return layout

    def _body_chunks(self) -> list[bytes]:
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = [self._buf[HEADER_LENGTH:]]
        self._layout = None
        return chunks

    def add(
        self, key: int, value: Any, vendor: int = 0, *, mandatory: bool | None = None
    ) -> Message:
        """Append one AVP encoded from ``value`` (see :func:`encode_avp`); returns self."""
        self._body_chunks().append(encode_avp(key, value, vendor, mandatory=mandatory))
        return self

    def add_raw(self, *avps: bytes) -> Message:
        """Append already encoded AVPs; returns self."""
        self._body_chunks().extend(avps)
        return self

    def to_bytes(self) -> bytes:
        chunks = self._chunks
        body = self._buf[HEADER_LENGTH:] if chunks is None else b"".join(chunks)
        length = HEADER_LENGTH + len(body)
        if length > 0xFFFFFF:
            raise EncodeError(f"message of {length} octets exceeds the 24-bit length field")
        return (
            HEADER.pack(
                DIAMETER_VERSION << 24 | length,
                self.flags << 24 | self.command_code,
                self.application_id,
                self.hop_by_hop,
                self.end_to_end,
            )
            + body
        )

    def answer(
        self,
        result_code: int | None = None,
        identity: Identity | None = None,
        *,
        error_message: str = "",
        failed_avps: Sequence[bytes] = (),
    ) -> Message:
        """The answer to this request (RFC 6733 section 6.2).

        Same command, application, hop-by-hop and end-to-end ids, the P bit
        copied, the E bit set for protocol errors (3xxx), then Session-Id first,
        Result-Code, Origin-Host/Realm of ``identity``, the request's Proxy-Info
        AVPs in order, and Error-Message/Failed-AVP when given.
        """
        answer = _new_message(Message)
        answer.command_code = self.command_code
        answer.application_id = self.application_id
        answer.flags = self.flags & _PROXIABLE
        answer.hop_by_hop = self.hop_by_hop
        answer.end_to_end = self.end_to_end
        answer._buf = b""
        answer._layout = None
        answer._result_code = result_code
        layout = self._layout or self._materialize()  # fills _buf for a built message
        buf = self._buf
        session = layout.first.get(_SESSION_ID_KEY)
        chunks = answer._chunks = [] if session is None else [raw_avp(buf, session)]
        if result_code is not None:
            avp = _RESULT_CODE_AVPS.get(result_code)
            chunks.append(avp if avp is not None else result_code_avp(result_code))
            if 3000 <= result_code < 4000:  # protocol error: the E bit (section 7.2)
                answer.flags |= _ERROR
        if identity is not None:
            chunks.append(identity.avps)
        if _PROXY_INFO_KEY in layout.first:
            chunks.extend(raw_avp(buf, slot) for slot in layout.every[_PROXY_INFO_KEY])
        if error_message:
            chunks.append(_ERROR_MESSAGE.encode(error_message))
        if failed_avps:
            chunks.append(_FAILED_AVP.encode(failed_avps))
        return answer


class LayoutCache:
    """Layouts of recent requests, reused when a request's AVP headers match exactly.

    Keyed by command, application, R bit and length; each entry verifies with
    ``int.from_bytes(message) & mask == expected``, the mask covering every AVP
    header octet the walk read, so a match means the walk would read the very
    same headers, find the same structure and reach the same verdict. Bounded:
    ``capacity`` keys of at most ``per_key`` layouts, messages of at most
    ``max_message`` octets.
    """

    def __init__(self, capacity: int = 1024, per_key: int = 8, max_message: int = 4096) -> None:
        self.capacity = capacity
        self.per_key = per_key
        self.max_message = max_message
        self._entries: dict[int, list[Layout]] = {}

    def find(self, key: int, data: bytes) -> Layout | None:
        candidates = self._entries.get(key)
        if candidates is None:
            return None
        value = int.from_bytes(data, "big")
        for layout in candidates:
            if value & layout.mask == layout.expected:
                return layout
        return None

    def add(self, key: int, data: bytes, layout: Layout) -> None:
        if len(data) > self.max_message or not self.capacity:
            return
        mask = bytearray(len(data))
        for start, stop in layout.spans:
            mask[start:stop] = b"\xff" * (stop - start)
        layout.mask = int.from_bytes(mask, "big")
        layout.expected = int.from_bytes(data, "big") & layout.mask
        candidates = self._entries.get(key)
        if candidates is None:
            if len(self._entries) >= self.capacity:
                del self._entries[next(iter(self._entries))]
            candidates = self._entries[key] = []
        elif len(candidates) >= self.per_key:
            del candidates[0]
        candidates.append(layout)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return sum(len(candidates) for candidates in self._entries.values())


class Codec:
    """Decodes framed messages against a dictionary and the registered grammars."""

    def __init__(
        self,
        dictionary: Dictionary = DICTIONARY,
        grammars: Grammars | None = None,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        cache: LayoutCache | None = None,
    ) -> None:
        from ocs.diameter.commands import default_grammars

        self.dictionary = dictionary
        self.grammars = grammars if grammars is not None else default_grammars()
        self.max_depth = max_depth
        self.cache = cache if cache is not None else LayoutCache()
        self._grammars_version = self.grammars.version

    def decode(self, data: bytes, *, validate: bool | None = None) -> Message:
        """Decode one framed message; requests are validated unless told otherwise.

        Raises :class:`InvalidMessage` (with the Result-Code and Failed-AVP to
        answer) for section 7 problems; :class:`FramingError` if ``data`` is not
        one well-framed message.
        """
        if len(data) < HEADER_LENGTH:
            raise FramingError("length", f"{len(data)} octets is shorter than a header")
        header = HEADER.unpack_from(data)
        version_length, command = header[0], header[1]
        if version_length >> 24 != DIAMETER_VERSION or version_length & 0xFFFFFF != len(data):
            raise FramingError("length", "header version/length does not match the data")
        if validate is None:
            validate = bool(command & 0x80000000)
        if not validate:
            layout = analyze(data, None, self.dictionary, self.grammars, validate=False)
            return Message._decoded(header, data, layout.top)
        if self.grammars.version != self._grammars_version:
            self.cache.clear()
            self._grammars_version = self.grammars.version
        # The layout (and its verdict) depends on command, R bit, application, length.
        cache_key = (command & 0x80FFFFFF) << 56 | header[2] << 24 | len(data)
        found = self.cache.find(cache_key, data)
        if found is None:
            grammar = self.grammars.command(
                header[2], command & 0xFFFFFF, bool(command & 0x80000000)
            )
            found = analyze(data, grammar, self.dictionary, self.grammars, max_depth=self.max_depth)
            self.cache.add(cache_key, data, found)
        elif found.checks:
            check_values(data, found.checks)
        if found.identity is not None:
            refuse_identity(data, found)
        return Message._decoded(header, data, found.top)


__all__ = [
    "Avp",
    "Codec",
    "Group",
    "Identity",
    "InvalidAvpValue",
    "InvalidMessage",
    "LayoutCache",
    "Message",
    "encode_avp",
    "result_code_avp",
]
