"""The asyncio side of one Diameter connection: socket events in, handler calls out.

:class:`Connection` is an ``asyncio.Protocol``: it feeds what it reads to its
:class:`~ocs.diameter.peer.Peer`, writes what the peer has to send, arms one
timer at the peer's next deadline, and turns the peer's events into handler
calls and answers. Everything protocol-related is decided by the peer.

Requests run concurrently and may be answered out of order. A handler returns
the answer, or an awaitable of it: a plain ``asyncio.Future`` gets a callback
(no task), a coroutine is wrapped with ``ensure_future`` and kept in the
server's task set. ``DiameterError`` becomes the answer it describes; any other
exception becomes 5012 DIAMETER_UNABLE_TO_COMPLY and one log line.

Before a handler runs: a retransmission (same Origin-Host and End-to-End id)
gets the first request's answer from the duplicate cache; over the per-peer or
process in-flight bound, or while stopping, the answer is 3004
DIAMETER_TOO_BUSY. Reading pauses while the socket's write buffer is above its
high-water mark.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from ocs.diameter import avps
from ocs.diameter.codec import Message
from ocs.diameter.constants import ResultCode, command_name
from ocs.diameter.duplicates import Entry, with_hop_by_hop
from ocs.diameter.errors import DiameterError, NotConnected
from ocs.diameter.metrics import (
    COUNTER,
    DUPLICATES,
    HANDLER_ERRORS,
    PEERS,
    READING_PAUSED,
    TOO_BUSY,
)
from ocs.diameter.peer import (
    AnswerReceived,
    DisconnectRequested,
    Event,
    Peer,
    PeerClosed,
    PeerOpened,
    PeerState,
    RequestFailed,
    RequestReceived,
    Role,
)

if TYPE_CHECKING:
    from ocs.diameter.server import DiameterServer

log = logging.getLogger("ocs.diameter")
_ORIGIN_HOST = avps.ORIGIN_HOST


def quoted(text: str) -> str:
    """A log value that may hold spaces, as ``"..."``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Connection(asyncio.Protocol):
    """One accepted connection (TCP, TLS or SCTP) of a :class:`DiameterServer`."""

    def __init__(self, server: DiameterServer, transport_name: str) -> None:
        self.server = server
        self.transport_name = transport_name
        self.peer: Peer | None = None
        self.remote = ""
        self.in_flight = 0
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._receiving = False
        self._flush_scheduled = False
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._gauge_state: str | None = None
        self._closed_logged = False
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # -- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        server = self.server
        peername = transport.get_extra_info("peername") or ("", 0)
        sockname = transport.get_extra_info("sockname") or ("", 0)
        self.remote = f"{peername[0]}:{peername[1]}"
        limit = server.config.write_buffer_limit
        transport.set_write_buffer_limits(high=limit, low=limit // 4)
        self.peer = Peer(
            Role.RESPONDER,
            server.local,
            server.codec,
            self._loop.time(),
            settings=server.peer_settings,
            local_address=sockname[0] or None,
            remote_address=(peername[0], peername[1]),
            transport=self.transport_name,
            admit=partial(server.admit, self),
            handled=server.handlers,
            observer=COUNTER,
            end_to_end=server.end_to_end,
        )
        self._set_gauge("wait_cer")
        server.connection_made(self)
        log.info("peer connected transport=%s remote=%s", self.transport_name, self.remote)
        self._rearm()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        assert peer is not None
        self._receiving = True
        try:
            events = peer.receive_data(data, self._loop.time())
            if events:
                self._handle(events)
        finally:
            self._receiving = False
        self._flush()
        self._rearm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.peer is not None:
            reason = f"connection lost: {exc}" if exc else "connection closed by the peer"
            self._handle(self.peer.connection_lost(self._loop.time(), reason))
        self._set_gauge(None)
        self.server.connection_lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self._transport is not None:
            READING_PAUSED.inc()
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    # -- what the server calls ------------------------------------------------

    def send_request(self, message: Message, timeout: float) -> asyncio.Future[Message]:
        """Send one of our requests; the future gets its answer (or the error)."""
        peer = self.peer
        if peer is None:
            raise NotConnected("connection not established")
        request_id = peer.send_request(message, self._loop.time(), timeout)
        future: asyncio.Future[Message] = self._loop.create_future()
        self._waiting[request_id] = future
        future.add_done_callback(partial(self._forget_request, request_id))
        self._schedule_flush()
        self._rearm()
        return future

    def probe(self) -> None:
        """Send a DWR now to find out whether this connection is still alive."""
        if self.peer is not None:
            self.peer.send_watchdog(self._loop.time())
            self._schedule_flush()
            self._rearm()

    def disconnect(self) -> None:
        """Orderly close: DPR when open (the peer answers and we close), else close."""
        if self.peer is None:
            return
        events = self.peer.close(self._loop.time())
        if self.peer.state is PeerState.CLOSING:
            self._set_gauge("closing")
        self._handle(events)
        self._flush()
        self._rearm()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- peer events ----------------------------------------------------------

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RequestReceived):
                self._dispatch(event.message)
            elif isinstance(event, AnswerReceived):
                future = self._waiting.pop(event.request_id, None)
                if future is not None and not future.done():
                    future.set_result(event.message)
            elif isinstance(event, RequestFailed):
                future = self._waiting.pop(event.request_id, None)
                if future is not None and not future.done():
                    future.set_exception(event.error)
            elif isinstance(event, PeerOpened):
                self._set_gauge("open")
                self.server.peer_opened(self, event.info)
            elif isinstance(event, DisconnectRequested):
                self._set_gauge("closing")
                log.info(
                    "peer disconnecting origin_host=%s remote=%s cause=%s",
                    self._origin_host(),
                    self.remote,
                    event.cause,
                )
            elif isinstance(event, PeerClosed):
                self._closed(event.reason)

    def _closed(self, reason: str) -> None:
        if not self._closed_logged:
            self._closed_logged = True
            log.info(
                "peer closed origin_host=%s remote=%s reason=%s",
                self._origin_host(),
                self.remote,
                quoted(reason),
            )
        self.server.peer_closed(self)
        self._flush()
        if self._transport is not None:
            self._transport.close()  # after the buffered answer (CEA, DPA) is written

    def _origin_host(self) -> str:
        info = self.peer.info if self.peer is not None else None
        return info.origin_host if info is not None else "-"

    def _set_gauge(self, state: str | None) -> None:
        if self._gauge_state is not None:
            PEERS.labels(self._gauge_state).dec()
        if state is not None:
            PEERS.labels(state).inc()
        self._gauge_state = state

    # -- requests -------------------------------------------------------------

    def _dispatch(self, request: Message) -> None:
        server = self.server
        peer = self.peer
        assert peer is not None and peer.info is not None
        duplicates = server.duplicates
        origin = ""
        if duplicates.enabled:
            origin = request.get(_ORIGIN_HOST, default="")
            entry = duplicates.seen(origin, request.end_to_end, self._loop.time())
            if entry is not None:
                DUPLICATES.inc()
                if entry.answer is not None:
                    self._send(with_hop_by_hop(entry.answer, request.hop_by_hop), request, None)
                else:
                    entry.waiters.append((request.hop_by_hop, partial(self._send_data, request)))
                return
        reason = server.too_busy(self)
        if reason is not None:
            TOO_BUSY.inc()
            answer = request.answer(
                ResultCode.DIAMETER_TOO_BUSY, peer.info.local, error_message=reason
            )
            self._send(answer.to_bytes(), request, ResultCode.DIAMETER_TOO_BUSY)
            return
        handler = server.handlers.get((request.application_id, request.command_code))
        if handler is None:  # unregistered since the peer checked
            answer = request.answer(ResultCode.DIAMETER_COMMAND_UNSUPPORTED, peer.info.local)
            self._send(answer.to_bytes(), request, ResultCode.DIAMETER_COMMAND_UNSUPPORTED)
            return
        entry = duplicates.begin(origin, request.end_to_end, self._loop.time()) if origin else None
        self.in_flight += 1
        server.request_started()
        try:
            result = handler(request, peer.info)
        except Exception as exc:
            result = self._error_answer(request, exc)
        if isinstance(result, Message):
            self._complete(request, origin, entry, result)
            return
        if not isinstance(result, asyncio.Future):
            result = asyncio.ensure_future(result)
            server.keep(result)
        result.add_done_callback(partial(self._completed, request, origin, entry))

    def _completed(
        self, request: Message, origin: str, entry: Entry | None, future: asyncio.Future[Any]
    ) -> None:
        try:
            answer = future.result()
            if not isinstance(answer, Message):
                raise TypeError(f"handler returned {type(answer).__name__}, not a Message")
        except (Exception, asyncio.CancelledError) as exc:
            answer = self._error_answer(request, exc)
        self._complete(request, origin, entry, answer)

    def _error_answer(self, request: Message, exc: BaseException) -> Message:
        local = self.server.local.identity
        if isinstance(exc, asyncio.CancelledError):  # the server stopped waiting for it
            TOO_BUSY.inc()
            return request.answer(
                ResultCode.DIAMETER_TOO_BUSY, local, error_message="shutting down"
            )
        if isinstance(exc, DiameterError):
            return request.answer(
                exc.result_code,
                local,
                error_message=exc.error_message,
                failed_avps=exc.failed_avps,
            )
        HANDLER_ERRORS.inc()
        log.error(
            "handler failed command=%s origin_host=%s error=%s",
            command_name(request.command_code, True),
            self._origin_host(),
            quoted(f"{type(exc).__name__}: {exc}"),
        )
        return request.answer(ResultCode.DIAMETER_UNABLE_TO_COMPLY, local)

    def _complete(
        self, request: Message, origin: str, entry: Entry | None, answer: Message
    ) -> None:
        self.in_flight -= 1
        self.server.request_finished()
        data = answer.to_bytes()
        result_code = answer.result_code
        if entry is not None:
            keep = result_code is None or not 3000 <= result_code < 4000
            self.server.duplicates.finish(origin, request.end_to_end, entry, data if keep else None)
        self._send(data, request, result_code)

    def _send_data(self, request: Message, data: bytes) -> None:
        self._send(data, request, None)

    def _send(self, data: bytes, request: Message, result_code: int | None) -> None:
        peer = self.peer
        if peer is not None:
            peer.send_answer(data, command_name(request.command_code, False), result_code)
            self._schedule_flush()

    # -- writing and the timer --------------------------------------------------

    def _schedule_flush(self) -> None:
        # While reading, data_received flushes at its end: one write per read.
        if not self._receiving and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        peer, transport = self.peer, self._transport
        if peer is not None and transport is not None:
            data = peer.data_to_send()
            if data and not transport.is_closing():
                transport.write(data)

    def _rearm(self) -> None:
        peer = self.peer
        deadline = peer.next_deadline() if peer is not None else None
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return  # fires earlier; the peer finds the later deadline then
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.peer is not None:
            now = max(self._loop.time(), self._timer_at)
            self._handle(self.peer.handle_timer(now))
            self._flush()
            self._rearm()

    def _forget_request(self, request_id: int, future: asyncio.Future[Message]) -> None:
        self._waiting.pop(request_id, None)
        if future.cancelled() and self.peer is not None:
            self.peer.cancel_request(request_id)
