"""The asyncio side of one Diameter connection: bytes in and out, one timer.

:class:`Connection` is an ``asyncio.Protocol``: it feeds what it reads to its
:class:`~ocs.diameter.peer.Peer`, writes what the peer has to send, arms one
timer at the peer's next deadline, and hands the requests the peer lets through
to :class:`~ocs.diameter.traffic.Traffic`, which decides their answers. Nothing
protocol-related is decided here.

Requests run concurrently and may be answered out of order. A handler's answer
may come as an awaitable: a plain ``asyncio.Future`` gets a callback (no task),
a coroutine is wrapped with ``ensure_future`` and kept in the server's task set.
Reading pauses while the socket's write buffer is above its high-water mark.

One message never costs another its answer: each event the peer reports is
handled on its own, and anything unexpected is logged with its traceback rather
than allowed to reach the event loop (which would close the connection).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, Protocol, cast

from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Message
from ocs.diameter.constants import command_name
from ocs.diameter.errors import NotConnected
from ocs.diameter.metrics import PEERS, READING_PAUSED
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
)
from ocs.diameter.traffic import Flight, Traffic, quoted

log = logging.getLogger("ocs.diameter")


class Host(Protocol):
    """What a connection needs from the server that accepted it."""

    traffic: Traffic
    write_buffer_limit: int

    def new_peer(
        self,
        connection: Connection,
        now: float,
        local_address: str | None,
        remote_address: tuple[str, int],
    ) -> Peer: ...

    def connection_made(self, connection: Connection) -> None: ...

    def connection_lost(self, connection: Connection) -> None: ...

    def peer_opened(self, connection: Connection, info: PeerInfo) -> None: ...

    def peer_closed(self, connection: Connection) -> None: ...

    def keep(self, task: asyncio.Future[Any]) -> None: ...


class Connection(asyncio.Protocol):
    """One accepted connection (TCP, TLS or SCTP) of a server."""

    def __init__(self, host: Host, transport_name: str) -> None:
        self.host = host
        self.traffic = host.traffic
        self.transport_name = transport_name
        self.peer: Peer | None = None
        self.remote = ""
        self.in_flight = 0
        """Requests of this connection being handled (counted by the traffic)."""
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
        peername = transport.get_extra_info("peername") or ("", 0)
        sockname = transport.get_extra_info("sockname") or ("", 0)
        self.remote = f"{peername[0]}:{peername[1]}"
        limit = self.host.write_buffer_limit
        transport.set_write_buffer_limits(high=limit, low=limit // 4)
        self.peer = self.host.new_peer(
            self, self._loop.time(), sockname[0] or None, (peername[0], peername[1])
        )
        self._set_gauge("wait_cer")
        self.host.connection_made(self)
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
        self.host.connection_lost(self)
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
            try:
                self._event(event)
            except Exception as exc:  # a bug: logged; the other events still run
                log.error(
                    "event failed event=%s remote=%s error=%s",
                    type(event).__name__,
                    self.remote,
                    quoted(f"{type(exc).__name__}: {exc}"),
                    exc_info=exc,
                )

    def _event(self, event: Event) -> None:
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
            self.host.peer_opened(self, event.info)
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
        self.host.peer_closed(self)
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
        peer = self.peer
        assert peer is not None and peer.info is not None
        outcome = self.traffic.receive(request, peer.info, self, self._loop.time())
        if outcome is None:  # a retransmission, answered when the first one is
            return
        if type(outcome) is tuple:
            self.send_answer(outcome[0], request, outcome[1])
            return
        assert isinstance(outcome, Flight)
        pending = outcome.pending
        if not isinstance(pending, asyncio.Future):  # a coroutine: a task, kept until done
            pending = asyncio.ensure_future(pending)
            self.host.keep(pending)
        pending.add_done_callback(partial(self._completed, outcome))

    def _completed(self, flight: Flight, future: asyncio.Future[Any]) -> None:
        traffic = self.traffic
        try:
            answer = future.result()
        except asyncio.CancelledError:
            reply = traffic.cancelled(flight)
        except Exception as exc:
            reply = traffic.fail(flight, exc)
        else:
            reply = traffic.finish(flight, answer)
        self.send_answer(reply[0], flight.request, reply[1])

    def send_answer(self, data: bytes, request: Message, result_code: int | None) -> None:
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
