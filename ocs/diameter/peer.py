"""One Diameter connection as a state machine, without I/O (RFC 6733 section 5.6).

Bytes in, events out, like h11: the transport feeds what it reads to
:meth:`Peer.receive_data` and writes what :meth:`Peer.data_to_send` returns.
Time is passed in (``now``); :meth:`Peer.next_deadline` says when to call
:meth:`Peer.handle_timer`. Nothing here touches sockets, asyncio or the clock.

States (``PeerState``): a responder waits for the CER (``WAIT_CER``), an
initiator for the CEA (``WAIT_CEA``); then ``OPEN`` until a DPR/DPA exchange
(``CLOSING``) or a failure ends in ``CLOSED``. Once ``CLOSED``, the transport
flushes what is left to send and closes the connection.

The peer answers by itself: CER (capabilities, admission via ``admit``,
5010 when no application is common), DWR, DPR, and every request it must
refuse: 3008 header bits, 3007 application, 3001 command, the section 7 checks
of the codec, and 3004 while closing. Valid application requests come out as
:class:`RequestReceived`; answers to our requests as :class:`AnswerReceived`,
matched by hop-by-hop id, or :class:`RequestFailed` on timeout or close.

The watchdog is RFC 3539's: after Tw (with jitter) without receiving anything,
send a DWR; another Tw without its DWA makes the connection SUSPECT; a third
closes it. Any received message resets the timer while OKAY.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable, Container
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ocs.diameter import avps
from ocs.diameter.capabilities import (
    LocalNode,
    PeerInfo,
    answer_cer,
    build_cer,
    check_vendor_specific,
    read_capabilities,
)
from ocs.diameter.codec import HEADER, Codec, Message
from ocs.diameter.constants import (
    Application,
    Command,
    DisconnectCause,
    ResultCode,
    command_name,
)
from ocs.diameter.errors import (
    ConnectionClosed,
    DiameterError,
    FramingError,
    InvalidMessage,
    NotConnected,
    PeerError,
    RequestTimeout,
)
from ocs.diameter.framing import DEFAULT_MAX_MESSAGE_SIZE, Framer
from ocs.diameter.validation import header_problem

log = logging.getLogger("ocs.diameter")

_CER = Command.CAPABILITIES_EXCHANGE
_DWR = Command.DEVICE_WATCHDOG
_DPR = Command.DISCONNECT_PEER
_BASE = frozenset({_CER, _DWR, _DPR})


class Role(Enum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


class PeerState(Enum):
    WAIT_CER = "wait_cer"
    WAIT_CEA = "wait_cea"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True)
class PeerSettings:
    watchdog_interval: float = 30.0
    """Tw of RFC 3539 (which asks for at least 6 s)."""
    watchdog_jitter: float = 2.0
    """Each Tw is drawn from Tw +- this (RFC 3539: 2 s)."""
    capabilities_timeout: float = 10.0
    """How long to wait for the CER (responder) or CEA (initiator)."""
    disconnect_timeout: float = 5.0
    """How long to wait for a DPA, or for the peer to close after our DPA."""
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE


@dataclass(frozen=True)
class Rejection:
    """Why ``admit`` refuses a peer: CEA Result-Code and Error-Message."""

    result_code: int
    reason: str


# Events ----------------------------------------------------------------------


@dataclass(frozen=True)
class PeerOpened:
    info: PeerInfo


@dataclass(frozen=True)
class RequestReceived:
    message: Message


@dataclass(frozen=True)
class AnswerReceived:
    request_id: int
    message: Message


@dataclass(frozen=True)
class RequestFailed:
    request_id: int
    error: PeerError


@dataclass(frozen=True)
class DisconnectRequested:
    """The peer sent a DPR; we answered and it should now close the connection."""

    cause: int


@dataclass(frozen=True)
class PeerClosed:
    reason: str


Event = (
    PeerOpened | RequestReceived | AnswerReceived | RequestFailed | DisconnectRequested | PeerClosed
)


class Observer(Protocol):
    """Counts what crosses the connection (the transport plugs metrics in)."""

    def message_in(self, command: str, result_code: int | None) -> None: ...

    def message_out(self, command: str, result_code: int | None) -> None: ...

    def decode_error(self, reason: str) -> None: ...


class _Unobserved:
    def message_in(self, command: str, result_code: int | None) -> None:
        pass

    def message_out(self, command: str, result_code: int | None) -> None:
        pass

    def decode_error(self, reason: str) -> None:
        pass


class EndToEndIds:
    """End-to-End ids (RFC 6733 section 3): low 12 bits of the time, a random low
    20 bits, then counting up, so they stay unique across restarts."""

    def __init__(self, now: float, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self._next = (int(now) & 0xFFF) << 20 | rng.getrandbits(20)

    def __call__(self) -> int:
        value = self._next
        self._next = (value + 1) & 0xFFFFFFFF
        return value


class Peer:
    """The state machine of one connection (see the module docstring)."""

    def __init__(
        self,
        role: Role,
        local: LocalNode,
        codec: Codec,
        now: float,
        *,
        settings: PeerSettings | None = None,
        local_address: str | None = None,
        remote_address: tuple[str, int] | None = None,
        transport: str = "tcp",
        admit: Callable[[PeerInfo], Rejection | None] | None = None,
        handled: Container[tuple[int, int]] = (),
        observer: Observer | None = None,
        end_to_end: EndToEndIds | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.role = role
        self.local = local
        self.codec = codec
        self.settings = settings or PeerSettings()
        self.remote_address = remote_address
        self.transport = transport
        self.state = PeerState.WAIT_CER if role is Role.RESPONDER else PeerState.WAIT_CEA
        self.info: PeerInfo | None = None
        self.close_reason = ""
        self._host_ips: tuple[object, ...] = local.host_ip_addresses or (
            (local_address,) if local_address else ("127.0.0.1",)
        )
        self._admit = admit
        self._handled = handled
        self._applications = local.application_ids | {Application.COMMON}
        self._observer: Observer = observer or _Unobserved()
        self._rng = rng or random.Random()
        self._end_to_end = end_to_end or EndToEndIds(now, self._rng)
        self._framer = Framer(self.settings.max_message_size)
        self._outgoing: list[bytes] = []
        self._next_hop = self._rng.getrandbits(32)
        self._pending: dict[int, float] = {}  # hop-by-hop -> deadline of our requests
        self._deadlines: list[tuple[float, int]] = []  # heap over _pending
        self._state_deadline: float | None = now + self.settings.capabilities_timeout
        self._watchdog_deadline: float | None = None
        self._watchdog_hop: int | None = None  # our DWR awaiting its DWA
        self._suspect = False
        self._tw_drawn = self.settings.watchdog_interval
        self._dpr_hop: int | None = None

    # -- what the transport calls -------------------------------------------

    def connection_made(self, now: float) -> None:
        """The transport connected (initiator): send the CER."""
        if self.role is Role.INITIATOR and self.state is PeerState.WAIT_CEA:
            cer = build_cer(self.local, self._host_ips)
            self._send_request(cer, now)

    def data_to_send(self) -> bytes:
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        return data

    def next_deadline(self) -> float | None:
        times = [t for t in (self._state_deadline, self._watchdog_deadline) if t is not None]
        while self._deadlines and self._deadlines[0][1] not in self._pending:
            heapq.heappop(self._deadlines)
        if self._deadlines:
            times.append(self._deadlines[0][0])
        return min(times) if times else None

    @property
    def in_flight(self) -> int:
        """Our requests still waiting for an answer."""
        return len(self._pending)

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        events: list[Event] = []
        if self.state is PeerState.CLOSED:
            return events
        try:
            frames = self._framer.feed(data)
        except FramingError as exc:
            self._observer.decode_error(exc.reason)
            self._close(f"framing error: {exc}", events)
            return events
        for frame in frames:
            if self.state is PeerState.CLOSED:
                break
            try:
                self._receive_message(frame, now, events)
            except Exception as exc:  # a bug met by one message: the others go on
                self._unexpected(frame, exc)
        return events

    def send_request(self, message: Message, now: float, timeout: float) -> int:
        """Send an application request; returns its id (the hop-by-hop id)."""
        if self.state is not PeerState.OPEN:
            raise NotConnected(f"connection is {self.state.value}, not open")
        hop = self._send_request(message, now)
        deadline = now + timeout
        self._pending[hop] = deadline
        heapq.heappush(self._deadlines, (deadline, hop))
        return hop

    def cancel_request(self, request_id: int) -> None:
        """Forget a request (its caller gave up); a late answer is then discarded."""
        self._pending.pop(request_id, None)

    def send_answer(self, data: bytes, command: str, result_code: int | None) -> None:
        """Queue an encoded answer (dropped once the connection is closed)."""
        if self.state is not PeerState.CLOSED:
            self._outgoing.append(data)
            self._observer.message_out(command, result_code)

    def send_watchdog(self, now: float) -> None:
        """Probe the connection now (e.g. when the same peer connects again)."""
        if self.state is PeerState.OPEN and self._watchdog_hop is None:
            self._send_dwr(now)

    def close(self, now: float, cause: int = DisconnectCause.REBOOTING) -> list[Event]:
        """Start an orderly close: DPR when open, else close at once."""
        events: list[Event] = []
        if self.state is PeerState.OPEN:
            dpr = Message.request(_DPR, Application.COMMON)
            dpr.add_raw(self.local.identity.avps)
            dpr.add(avps.DISCONNECT_CAUSE, int(cause))
            self._dpr_hop = self._send_request(dpr, now)
            self.state = PeerState.CLOSING
            self._state_deadline = now + self.settings.disconnect_timeout
            self._watchdog_deadline = None
        elif self.state is not PeerState.CLOSED:
            self._close("closed locally", events)
        return events

    def connection_lost(self, now: float, reason: str = "connection lost") -> list[Event]:
        events: list[Event] = []
        if self.state is not PeerState.CLOSED:
            self._close(reason, events)
        return events

    def handle_timer(self, now: float) -> list[Event]:
        events: list[Event] = []
        if self.state is PeerState.CLOSED:
            return events
        if self._state_deadline is not None and now >= self._state_deadline:
            waited = {
                PeerState.WAIT_CER: "no CER",
                PeerState.WAIT_CEA: "no CEA",
                PeerState.CLOSING: "no DPA"
                if self._dpr_hop is not None
                else "peer kept open after DPA",
            }.get(self.state, "timeout")
            self._close(f"{waited} within the timeout", events)
            return events
        if self._watchdog_deadline is not None and now >= self._watchdog_deadline:
            self._watchdog_expired(now, events)
        while self._deadlines and self._deadlines[0][0] <= now:
            _, hop = heapq.heappop(self._deadlines)
            if self._pending.pop(hop, None) is not None:
                events.append(RequestFailed(hop, RequestTimeout("no answer within the timeout")))
        return events

    # -- receiving ----------------------------------------------------------

    def _receive_message(self, data: bytes, now: float, events: list[Event]) -> None:
        _, command, application, hop, _ = HEADER.unpack_from(data)
        flags = command >> 24
        code = command & 0xFFFFFF
        is_request = bool(flags & 0x80)
        if self._watchdog_deadline is not None and not self._suspect:
            self._watchdog_deadline = now + self._tw_drawn  # no new draw per message
        state = self.state
        if state is PeerState.WAIT_CER:
            if code == _CER and is_request:
                self._on_cer(data, now, events)
            else:
                self._close(f"{command_name(code, is_request)} before the CER", events)
            return
        if state is PeerState.WAIT_CEA:
            if code == _CER and not is_request:
                self._on_cea(data, now, events)
            else:
                self._close(f"{command_name(code, is_request)} before the CEA", events)
            return
        if code in _BASE:
            self._on_base(data, code, is_request, hop, now, events)
        elif is_request:
            self._on_request(data, flags, code, application, events)
        else:
            self._on_answer(data, code, hop, events)

    def _on_request(
        self, data: bytes, flags: int, code: int, application: int, events: list[Event]
    ) -> None:
        name = command_name(code, True)
        self._observer.message_in(name, None)
        if self.state is not PeerState.OPEN:
            self._refuse(data, ResultCode.DIAMETER_TOO_BUSY, "the connection is closing")
            return
        problem = header_problem(flags, self.codec.grammars.command(application, code, True))
        if problem is not None:
            self._refuse(data, ResultCode.DIAMETER_INVALID_HDR_BITS, problem)
        elif application not in self._applications:
            self._refuse(
                data, ResultCode.DIAMETER_APPLICATION_UNSUPPORTED, f"application {application}"
            )
        elif (application, code) not in self._handled:
            self._refuse(data, ResultCode.DIAMETER_COMMAND_UNSUPPORTED, f"command {code}")
        else:
            try:
                message = self.codec.decode(data)
            except InvalidMessage as exc:
                self._observer.decode_error("invalid_avp")
                self._refuse(data, exc.result_code, exc.error_message, exc.failed_avps)
                return
            events.append(RequestReceived(message))

    def _on_answer(self, data: bytes, code: int, hop: int, events: list[Event]) -> None:
        if hop not in self._pending:
            log.debug("discarded answer with unknown hop-by-hop id 0x%08x", hop)
            return
        del self._pending[hop]
        try:
            message = self.codec.decode(data, validate=False)
        except InvalidMessage as exc:
            self._observer.decode_error("invalid_answer")
            events.append(RequestFailed(hop, PeerError(f"malformed answer: {exc}")))
            return
        self._observer.message_in(command_name(code, False), message.get(avps.RESULT_CODE))
        events.append(AnswerReceived(hop, message))

    def _on_base(
        self, data: bytes, code: int, is_request: bool, hop: int, now: float, events: list[Event]
    ) -> None:
        name = command_name(code, is_request)
        if not is_request:
            result = None
            if hop == self._watchdog_hop or hop == self._dpr_hop:
                try:
                    result = self.codec.decode(data, validate=False).get(avps.RESULT_CODE)
                except InvalidMessage:
                    self._observer.decode_error("invalid_answer")
            self._observer.message_in(name, result)
            if hop == self._watchdog_hop:
                self._watchdog_hop = None
                self._suspect = False
                self._watchdog_deadline = now + self._tw()
            elif hop == self._dpr_hop:
                self._close("disconnected (DPA received)", events)
            else:
                log.debug("discarded %s with unknown hop-by-hop id 0x%08x", name, hop)
            return
        self._observer.message_in(name, None)
        try:
            request = self.codec.decode(data)
        except InvalidMessage as exc:
            self._refuse(data, exc.result_code, exc.error_message, exc.failed_avps)
            return
        if code == _CER:  # a second CER on an open connection: no renegotiation (RFC 6733)
            self._reply(
                request, ResultCode.DIAMETER_UNABLE_TO_COMPLY, "capabilities already exchanged"
            )
        elif code == _DWR:
            self._reply(request, ResultCode.DIAMETER_SUCCESS, state_id=True)
        elif self.state is PeerState.OPEN:  # DPR
            cause = request.get(avps.DISCONNECT_CAUSE, default=DisconnectCause.REBOOTING)
            self._reply(request, ResultCode.DIAMETER_SUCCESS)
            self.state = PeerState.CLOSING
            self._watchdog_deadline = None
            self._state_deadline = now + self.settings.disconnect_timeout
            events.append(DisconnectRequested(cause))
        else:  # DPR crossing our own DPR: answer, and close as the DPR's sender would
            self._reply(request, ResultCode.DIAMETER_SUCCESS)

    def _on_cer(self, data: bytes, now: float, events: list[Event]) -> None:
        self._observer.message_in("CER", None)
        try:
            cer = self.codec.decode(data)
            check_vendor_specific(cer)
            info = read_capabilities(cer, self.local, self.remote_address, self.transport)
        except DiameterError as exc:  # section 7, or a value that is not its type (5004)
            request = self._structure_of(data)
            self._send_cea(request, exc.result_code, exc.error_message, exc.failed_avps)
            self._close(f"invalid CER: {exc.error_message}", events)
            return
        rejection = self._admit(info) if self._admit is not None else None
        if rejection is not None:
            self._send_cea(cer, rejection.result_code, rejection.reason)
            self._close(f"rejected: {rejection.reason}", events)
            return
        if not info.applications:
            advertised = ",".join(str(a) for a in sorted(info.advertised)) or "none"
            reason = f"no common application (peer advertised {advertised})"
            self._send_cea(cer, ResultCode.DIAMETER_NO_COMMON_APPLICATION, reason)
            self._close(reason, events)
            return
        self._send_cea(cer, ResultCode.DIAMETER_SUCCESS)
        self._open(info, now, events)

    def _on_cea(self, data: bytes, now: float, events: list[Event]) -> None:
        try:
            cea = self.codec.decode(data, validate=False)
        except InvalidMessage as exc:
            self._close(f"malformed CEA: {exc.error_message}", events)
            return
        result = cea.get(avps.RESULT_CODE)
        self._observer.message_in("CEA", result)
        if result != ResultCode.DIAMETER_SUCCESS:
            message = cea.get(avps.ERROR_MESSAGE, default="")
            self._close(f"CER refused with {result} {message}".rstrip(), events)
            return
        info = read_capabilities(cea, self.local, self.remote_address, self.transport)
        if not info.applications:
            self._close("no common application in the CEA", events)
            return
        self._open(info, now, events)

    def _open(self, info: PeerInfo, now: float, events: list[Event]) -> None:
        self.info = info
        self.state = PeerState.OPEN
        self._state_deadline = None
        self._watchdog_deadline = now + self._tw()
        events.append(PeerOpened(info))

    # -- sending ------------------------------------------------------------

    def _send_request(self, message: Message, now: float) -> int:
        hop = self._next_hop
        self._next_hop = (hop + 1) & 0xFFFFFFFF
        message.hop_by_hop = hop
        if not message.end_to_end:
            message.end_to_end = self._end_to_end()
        self._outgoing.append(message.to_bytes())
        self._observer.message_out(command_name(message.command_code, True), None)
        return hop

    def _reply(
        self, request: Message, result_code: int, error: str = "", *, state_id: bool = False
    ) -> None:
        answer = request.answer(result_code, self.local.identity, error_message=error)
        if state_id:
            answer.add(avps.ORIGIN_STATE_ID, self.local.origin_state_id)
        self.send_answer(answer.to_bytes(), command_name(request.command_code, False), result_code)

    def _send_cea(
        self, cer: Message, result_code: int, error: str = "", failed: tuple[bytes, ...] = ()
    ) -> None:
        cea = answer_cer(
            cer, result_code, self.local, self._host_ips, error_message=error, failed_avps=failed
        )
        self.send_answer(cea.to_bytes(), "CEA", result_code)

    def _structure_of(self, data: bytes) -> Message:
        """The request as far as it parses: for error answers (Session-Id, Proxy-Info)."""
        try:
            return self.codec.decode(data, validate=False)
        except InvalidMessage:
            _, command, application, hop, end = HEADER.unpack_from(data)
            return Message(
                command & 0xFFFFFF, application, flags=command >> 24, hop_by_hop=hop, end_to_end=end
            )

    def _unexpected(self, data: bytes, exc: Exception) -> None:
        """A bug met by one received message: logged; a request still gets its answer (5012,
        built from the header alone), so the peer does not wait for it in vain."""
        _, command, application, hop, end = HEADER.unpack_from(data)
        code = command & 0xFFFFFF
        log.error("message failed command=%d error=%r", code, exc, exc_info=exc)
        if command & 0x80000000:
            request = Message(
                code, application, flags=command >> 24, hop_by_hop=hop, end_to_end=end
            )
            self._reply(request, ResultCode.DIAMETER_UNABLE_TO_COMPLY)

    def _refuse(
        self, data: bytes, result_code: int, error: str, failed: tuple[bytes, ...] = ()
    ) -> None:
        request = self._structure_of(data)
        answer = request.answer(
            result_code, self.local.identity, error_message=error, failed_avps=failed
        )
        self.send_answer(answer.to_bytes(), command_name(request.command_code, False), result_code)

    # -- timers and closing ---------------------------------------------------

    def _tw(self) -> float:
        """A fresh Tw with jitter (RFC 3539), kept for the resets that follow."""
        jitter = self.settings.watchdog_jitter
        self._tw_drawn = self.settings.watchdog_interval + (
            self._rng.uniform(-jitter, jitter) if jitter else 0.0
        )
        return self._tw_drawn

    def _send_dwr(self, now: float) -> None:
        dwr = Message.request(_DWR, Application.COMMON)
        dwr.add_raw(self.local.identity.avps)
        dwr.add(avps.ORIGIN_STATE_ID, self.local.origin_state_id)
        self._watchdog_hop = self._send_request(dwr, now)
        self._watchdog_deadline = now + self._tw()

    def _watchdog_expired(self, now: float, events: list[Event]) -> None:
        if self._suspect:
            self._close("watchdog: no DWA, peer silent for 3 Tw", events)
        elif self._watchdog_hop is not None:
            self._suspect = True  # RFC 3539: SUSPECT, one more Tw to answer
            self._watchdog_deadline = now + self._tw()
        else:
            self._send_dwr(now)

    def _close(self, reason: str, events: list[Event]) -> None:
        self.state = PeerState.CLOSED
        self.close_reason = reason
        self._state_deadline = self._watchdog_deadline = None
        for hop in list(self._pending):
            events.append(RequestFailed(hop, ConnectionClosed(f"connection closed: {reason}")))
        self._pending.clear()
        self._deadlines.clear()
        events.append(PeerClosed(reason))
