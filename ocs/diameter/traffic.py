"""What happens to a received request, without I/O: Erlang/OTP's ``diameter_traffic``.

The peer state machine (:mod:`ocs.diameter.peer`) hands over requests that passed the
section 7 checks; :class:`Traffic` decides, in this order:

1. a retransmission (same Origin-Host and End-to-End id, T flag or not) gets the first
   request's answer from the duplicate cache, or waits for it while the first is in
   progress; the handler does not run again;
2. admission: while stopping, or over the per-connection or process in-flight bound, the
   answer is 3004 DIAMETER_TOO_BUSY;
3. handler lookup: a command nobody handles (any longer) is 3001;
4. the handler runs: it returns the answer, or an awaitable of it, which the transport
   awaits and hands back to :meth:`Traffic.finish` / :meth:`Traffic.fail`;
5. errors become answers: ``DiameterError`` is the answer it describes (Result-Code,
   Error-Message, Failed-AVP); anything else, a handler returning something that is not a
   Message, or an answer that cannot be encoded, is 5012 DIAMETER_UNABLE_TO_COMPLY and one
   ERROR log line. Nothing one request does can raise out of here, so it can never cost
   another request its answer or the connection its life.

Every request admitted gets exactly one answer, and the duplicate cache keeps it (unless it
is a 3xxx: a retransmission may then be tried anew). No sockets, no event loop, no clock:
``now`` comes in, answers go out as bytes through the :class:`Link` they arrived on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from ocs.diameter import avps
from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Identity, Message
from ocs.diameter.constants import ResultCode, command_name
from ocs.diameter.duplicates import DuplicateCache, Entry, with_hop_by_hop
from ocs.diameter.errors import DiameterError
from ocs.diameter.metrics import DUPLICATES, HANDLER_ERRORS, IN_FLIGHT_NOW, TOO_BUSY

log = logging.getLogger("ocs.diameter")

Handler = Callable[[Message, PeerInfo], Message | Awaitable[Message]]
"""``handler(request, peer)`` returns the answer, or an awaitable of it."""

Reply = tuple[bytes, int | None]
"""An encoded answer and its Result-Code (None when unknown), to send on the request's link."""

_ORIGIN_HOST = avps.ORIGIN_HOST
_TOO_BUSY = ResultCode.DIAMETER_TOO_BUSY
_UNABLE = ResultCode.DIAMETER_UNABLE_TO_COMPLY


class Link(Protocol):
    """The connection a request came on, as dispatch sees it."""

    in_flight: int
    """Requests of this connection being handled (dispatch counts them)."""

    def send_answer(self, data: bytes, request: Message, result_code: int | None) -> None:
        """Queue an answer on this connection (for retransmissions answered later)."""


class Flight:
    """A request whose handler returned an awaitable: ``pending``, to be awaited by the
    transport, then handed to :meth:`Traffic.finish`, :meth:`Traffic.fail` or
    :meth:`Traffic.cancelled`."""

    __slots__ = ("entry", "link", "origin", "pending", "request")

    def __init__(
        self,
        request: Message,
        origin: str,
        entry: Entry | None,
        link: Link,
        pending: Awaitable[Message],
    ) -> None:
        self.request = request
        self.origin = origin
        self.entry = entry
        self.link = link
        self.pending = pending


def quoted(text: str) -> str:
    """A log value that may hold spaces, as ``"..."``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Traffic:
    """Dispatch of the requests of every connection of one server (see the module doc)."""

    def __init__(
        self,
        local: Identity,
        duplicates: DuplicateCache,
        *,
        max_in_flight: int,
        max_in_flight_per_peer: int,
    ) -> None:
        self.local = local
        self.duplicates = duplicates
        self.max_in_flight = max_in_flight
        self.max_in_flight_per_peer = max_in_flight_per_peer
        self.handlers: dict[tuple[int, int], Handler] = {}
        self.in_flight = 0
        """Requests being handled, over every link."""
        self.stopping = False
        """Set when the server stops: new requests are answered 3004."""
        self.on_idle: Callable[[], None] | None = None
        """Called whenever ``in_flight`` drops to 0 (the server's shutdown waits for it)."""

    def register(self, application_id: int, command_code: int, handler: Handler) -> None:
        self.handlers[int(application_id), int(command_code)] = handler

    # -- a request arrives ------------------------------------------------------------------

    def receive(
        self, request: Message, peer: PeerInfo, link: Link, now: float
    ) -> Reply | Flight | None:
        """Dispatch one request: its answer now, a :class:`Flight` to await, or ``None``
        when it is a retransmission that will be answered once the first one is."""
        try:
            duplicates = self.duplicates
            origin = ""
            if duplicates.enabled:
                # not empty (the codec checked); not UTF-8: InvalidAvpValue, 5004 (below)
                origin = request.get(_ORIGIN_HOST, default="")
                entry = duplicates.seen(origin, request.end_to_end, now)
                if entry is not None:
                    DUPLICATES.inc()
                    if entry.answer is not None:
                        return with_hop_by_hop(entry.answer, request.hop_by_hop), None
                    entry.waiters.append((request.hop_by_hop, partial(_send_later, link, request)))
                    return None
            reason = self._too_busy(link)
            if reason is not None:
                TOO_BUSY.inc()
                return self._answer(request, _TOO_BUSY, reason)
            handler = self.handlers.get((request.application_id, request.command_code))
            if handler is None:  # unregistered since the peer checked
                return self._answer(request, ResultCode.DIAMETER_COMMAND_UNSUPPORTED, "")
            entry = duplicates.begin(origin, request.end_to_end, now) if origin else None
            link.in_flight += 1
            self.in_flight += 1
            IN_FLIGHT_NOW.value += 1
        except DiameterError as exc:  # Origin-Host, read for the duplicate key, is not UTF-8
            return self._error_answer(request, exc).to_bytes(), exc.result_code
        except Exception as exc:  # a bug on the way to the handler: still one answer
            return self._unexpected(request, exc, "dispatch failed")
        try:
            result = handler(request, peer)
        except Exception as exc:
            return self._done(request, origin, entry, link, self._error_answer(request, exc))
        if isinstance(result, Message):
            return self._done(request, origin, entry, link, result)
        return Flight(request, origin, entry, link, result)

    def _too_busy(self, link: Link) -> str | None:
        """Why a new request must be answered 3004 now, or ``None``."""
        if self.stopping:
            return "shutting down"
        if link.in_flight >= self.max_in_flight_per_peer:
            return f"{link.in_flight} requests in progress from this peer"
        if self.in_flight >= self.max_in_flight:
            return f"{self.in_flight} requests in progress"
        return None

    # -- its handler is done ----------------------------------------------------------------

    def finish(self, flight: Flight, answer: object) -> Reply:
        """The awaitable of ``flight`` gave ``answer``."""
        if not isinstance(answer, Message):
            error = TypeError(f"handler returned {type(answer).__name__}, not a Message")
            answer = self._error_answer(flight.request, error)
        return self._done(flight.request, flight.origin, flight.entry, flight.link, answer)

    def fail(self, flight: Flight, exc: Exception) -> Reply:
        """The awaitable of ``flight`` raised ``exc``."""
        answer = self._error_answer(flight.request, exc)
        return self._done(flight.request, flight.origin, flight.entry, flight.link, answer)

    def cancelled(self, flight: Flight) -> Reply:
        """The awaitable of ``flight`` was cancelled (the server stopped waiting for it)."""
        TOO_BUSY.inc()
        answer = flight.request.answer(_TOO_BUSY, self.local, error_message="shutting down")
        return self._done(flight.request, flight.origin, flight.entry, flight.link, answer)

    def _done(
        self, request: Message, origin: str, entry: Entry | None, link: Link, answer: Message
    ) -> Reply:
        link.in_flight -= 1
        self.in_flight -= 1
        IN_FLIGHT_NOW.value -= 1
        try:
            data = answer.to_bytes()
            result_code = answer.result_code
        except Exception as exc:  # e.g. an answer longer than 2**24 octets
            data, result_code = self._unexpected(request, exc, "answer cannot be encoded")
        if entry is not None:
            keep = result_code is None or not 3000 <= result_code < 4000
            self.duplicates.finish(origin, request.end_to_end, entry, data if keep else None)
        if not self.in_flight and self.on_idle is not None:
            self.on_idle()
        return data, result_code

    # -- errors to answers --------------------------------------------------------------------

    def _error_answer(self, request: Message, exc: Exception) -> Message:
        if isinstance(exc, DiameterError):
            return request.answer(
                exc.result_code,
                self.local,
                error_message=exc.error_message,
                failed_avps=exc.failed_avps,
            )
        HANDLER_ERRORS.inc()
        log.error(
            "handler failed command=%s error=%s",
            command_name(request.command_code, True),
            quoted(f"{type(exc).__name__}: {exc}"),
        )
        return request.answer(_UNABLE, self.local)

    def _answer(self, request: Message, result_code: int, error: str) -> Reply:
        return request.answer(result_code, self.local, error_message=error).to_bytes(), result_code

    def _unexpected(self, request: Message, exc: Exception, what: str) -> Reply:
        """5012 for a request that met a bug; the bug goes to the log with its traceback."""
        HANDLER_ERRORS.inc()
        log.error(
            "%s command=%s error=%s",
            what,
            command_name(request.command_code, True),
            quoted(f"{type(exc).__name__}: {exc}"),
            exc_info=exc,
        )
        # Built from the header alone, which cannot fail: the AVPs are what went wrong.
        bare = Message(
            request.command_code,
            request.application_id,
            flags=request.flags,
            hop_by_hop=request.hop_by_hop,
            end_to_end=request.end_to_end,
        )
        return bare.answer(_UNABLE, self.local).to_bytes(), _UNABLE


def _send_later(link: Link, request: Message, data: bytes) -> None:
    link.send_answer(data, request, None)


__all__ = ["Flight", "Handler", "Link", "Reply", "Traffic", "quoted"]
