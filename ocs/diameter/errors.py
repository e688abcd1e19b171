"""The errors of ``ocs.diameter``, in one place.

    OcsError (ocs.errors)
    +-- DiameterError            a request is answered with this Result-Code; carries
    |   |                        the Failed-AVP contents and an Error-Message. Raised
    |   |                        by handlers on purpose, and by the codec:
    |   +-- InvalidMessage       a received message breaks RFC 6733 section 7 (AVP
    |   |                        flags, lengths, grammar): 3009, 5001, 5004, 5005,
    |   |                        5008, 5009, 5014; or its header: 3008
    |   +-- InvalidAvpValue      reading an AVP whose data does not fit its type (bad
    |                            UTF-8, an IPv4 address of 5 octets): 5004
    +-- FramingError             the byte stream cannot be split into messages (bad
    |                            version, length < 20 or not a multiple of 4, above the
    |                            maximum): nothing can be answered, the connection closes
    +-- EncodeError              a Python value cannot be encoded as its AVP type
    +-- PeerError                our own request to a peer failed:
        +-- NotConnected         no open connection to that Origin-Host
        +-- RequestTimeout       no answer in time (also a TimeoutError)
        +-- ConnectionClosed     the connection closed before the answer came

Any other exception a handler raises is answered with 5012
DIAMETER_UNABLE_TO_COMPLY and logged once; no traceback reaches the wire.
"""

from __future__ import annotations

from collections.abc import Iterable

from ocs.errors import OcsError


class DiameterError(OcsError):
    """Answer the request with ``result_code`` (and Failed-AVP, Error-Message)."""

    def __init__(
        self,
        result_code: int,
        failed_avps: Iterable[bytes] = (),
        error_message: str = "",
    ) -> None:
        self.result_code = int(result_code)
        self.failed_avps = tuple(failed_avps)
        """Encoded AVPs for the Failed-AVP AVP (e.g. ``request.raw(key)``)."""
        self.error_message = error_message
        super().__init__(
            f"{self.result_code}: {error_message}" if error_message else str(result_code)
        )


class InvalidMessage(DiameterError):
    """A received message breaks the protocol; answer with the code it names."""


class InvalidAvpValue(DiameterError):
    """An AVP's data does not decode as its type (DIAMETER_INVALID_AVP_VALUE)."""


class FramingError(OcsError):
    """The stream cannot be framed; the connection must be closed."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        """Short label for metrics: ``version``, ``length``, ``too_large``."""
        super().__init__(detail)


class EncodeError(OcsError, ValueError):
    """A Python value cannot be encoded as the AVP's type."""


class PeerError(OcsError):
    """Our own request to a peer did not get an answer."""


class NotConnected(PeerError):
    """No open connection to the Origin-Host the request is for."""


class RequestTimeout(PeerError, TimeoutError):
    """The peer did not answer in time."""


class ConnectionClosed(PeerError):
    """The connection closed while the request waited for its answer."""
