"""Splits a Diameter byte stream into messages: frame before parsing.

:meth:`Framer.feed` takes whatever a read returned (part of a message, several
messages, both) and returns the complete messages in it. It checks each
header's first word as soon as four octets are there: version 1, a length of at
least 20 that is a multiple of 4 and no more than the configured maximum.
Anything else raises :class:`FramingError`; the connection must then be closed,
since nothing in the stream can be trusted to find the next message. The framer
never scans for a next header ("resync") and never holds more than one
incomplete message (below the maximum), so a peer cannot make it spin or grow.
"""

from __future__ import annotations

import struct

from ocs.diameter.constants import DIAMETER_VERSION, HEADER_LENGTH
from ocs.diameter.errors import FramingError

DEFAULT_MAX_MESSAGE_SIZE = 65536
_FIRST_WORD = struct.Struct(">I").unpack_from


class Framer:
    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < HEADER_LENGTH:
            raise ValueError(f"max_message_size {max_message_size} is below a header's 20 octets")
        self.max_message_size = max_message_size
        self._pending = bytearray()
        self._failed: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets of an incomplete message held back."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[bytes]:
        """The complete messages ``data`` finishes, in order."""
        if self._failed is not None:
            raise self._failed
        pending = self._pending
        if pending:
            pending += data
            buf: bytes | bytearray = pending
        else:
            buf = data
        messages: list[bytes] = []
        pos = 0
        size = len(buf)
        while size - pos >= 4:
            word = _FIRST_WORD(buf, pos)[0]
            length = word & 0xFFFFFF
            if word >> 24 != DIAMETER_VERSION:
                self._fail("version", f"Diameter version {word >> 24}, only 1 exists")
            if length < HEADER_LENGTH or length & 3:
                self._fail("length", f"message length {length} is not a multiple of 4 >= 20")
            if length > self.max_message_size:
                self._fail(
                    "too_large",
                    f"message length {length} exceeds the maximum {self.max_message_size}",
                )
            if size - pos < length:
                break
            if pos == 0 and length == size and buf is data:
                messages.append(data)  # the common case: exactly one message, no copy
            else:
                messages.append(bytes(buf[pos : pos + length]))
            pos += length
        if buf is pending:
            del pending[:pos]
        elif pos < size:
            pending += data[pos:]
        return messages

    def _fail(self, reason: str, detail: str) -> None:
        self._pending.clear()
        self._failed = FramingError(reason, detail)
        raise self._failed
