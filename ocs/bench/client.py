"""A lean Diameter client for load generation: one asyncio Protocol per connection.

It frames by the header's length, matches answers by hop-by-hop id, answers
the server's DWR/DPR, and builds CCRs from pre-encoded AVPs so that the load
generator is never the bottleneck. Everything it sends is still an ordinary,
well-formed Diameter message made with ocs's codec.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import struct
import time
from collections.abc import Callable
from typing import cast

from ocs.diameter import avps
from ocs.diameter.capabilities import Advertised, LocalNode, build_cer
from ocs.diameter.codec import Codec, Identity, Message, encode_avp
from ocs.diameter.constants import Application, Command

_HEADER = struct.Struct(">IIIII")
_REQUEST_FLAGS = 0xC0  # R and P
_CCR = Command.CREDIT_CONTROL
_DWR = Command.DEVICE_WATCHDOG
_DPR = Command.DISCONNECT_PEER
_DECODER = Codec()  # for the rare messages from ocs: CEA, DWR, DPR


class BenchConnection(asyncio.Protocol):
    """One connection to ocs, after CER/CEA; ``request(body)`` returns the answer's bytes."""

    def __init__(self, origin_host: str, origin_realm: str) -> None:
        self.node = LocalNode(
            Identity(origin_host, origin_realm),
            product_name="ocs-bench",
            applications=(Advertised(Application.CREDIT_CONTROL),),
        )
        self.identity = self.node.identity
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.callbacks: dict[int, Callable[[bytes | None], None]] = {}
        self.sent_at: dict[int, float] = {}
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self.hops = itertools.count(1)
        self.end_to_end = itertools.count(int(time.time()) << 20 & 0xFFFFFFFF)
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[None] = self.loop.create_future()

    @classmethod
    async def connect(
        cls, host: str, port: int, origin_host: str, origin_realm: str = "bench.local"
    ) -> BenchConnection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: cls(origin_host, origin_realm), host, port
        )
        await asyncio.wait_for(connection.opened, 10)
        return connection

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        cer = build_cer(self.node, (ipaddress.ip_address("127.0.0.1"),))
        cer.hop_by_hop = next(self.hops)
        cer.end_to_end = next(self.end_to_end) & 0xFFFFFFFF
        self.transport.write(cer.to_bytes())

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 20:
            length = int.from_bytes(buffer[1:4], "big")
            if len(buffer) < length:
                return
            message = bytes(buffer[:length])
            del buffer[:length]
            self._dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection to ocs lost"))
        self.pending.clear()
        callbacks = list(self.callbacks.values())
        self.callbacks.clear()
        for callback in callbacks:
            callback(None)
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before CEA"))
        if not self.closed.done():
            self.closed.set_result(None)

    def _dispatch(self, message: bytes) -> None:
        flags = message[4]
        command = int.from_bytes(message[5:8], "big")
        if flags & 0x80:  # a request from ocs
            if command in (_DWR, _DPR):
                request = _DECODER.decode(message, validate=False)
                assert self.transport is not None
                self.transport.write(request.answer(2001, self.identity).to_bytes())
            return
        hop = int.from_bytes(message[12:16], "big")
        if command == Command.CAPABILITIES_EXCHANGE:
            if not self.opened.done():
                answer = _DECODER.decode(message, validate=False)
                if answer.result_code == 2001:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(ConnectionError(f"CEA {answer.result_code}"))
            return
        self.sent_at.pop(hop, None)
        callback = self.callbacks.pop(hop, None)
        if callback is not None:
            callback(message)
            return
        future = self.pending.pop(hop, None)
        if future is not None and not future.done():
            future.set_result(message)

    # -- requests ------------------------------------------------------------------------

    def _write(self, body: bytes, command: int, application: int) -> int:
        hop = next(self.hops) & 0xFFFFFFFF
        header = _HEADER.pack(
            0x01000000 | (20 + len(body)),
            _REQUEST_FLAGS << 24 | command,
            application,
            hop,
            next(self.end_to_end) & 0xFFFFFFFF,
        )
        self.sent_at[hop] = self.loop.time()
        self._out.append(header)
        self._out.append(body)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        return hop

    def _flush(self) -> None:
        """One write (one syscall) for every request queued during a loop iteration."""
        self._flush_scheduled = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def request(
        self, body: bytes, command: int = _CCR, application: int = 4
    ) -> asyncio.Future[bytes]:
        """Send a request made of encoded AVPs; the future gets the answer's bytes."""
        future: asyncio.Future[bytes] = self.loop.create_future()
        self.pending[self._write(body, command, application)] = future
        return future

    def send(self, body: bytes, callback: Callable[[bytes | None], None]) -> None:
        """Send a CCR; ``callback`` gets the answer's bytes (None: lost or timed out).

        The load generator's hot path: no future, no task; a session's next request
        is sent from inside the callback."""
        self.callbacks[self._write(body, _CCR, 4)] = callback

    def expire(self, timeout: float) -> None:
        """Fail requests unanswered for ``timeout`` seconds (one sweep instead of a timer each)."""
        limit = self.loop.time() - timeout
        for hop in [hop for hop, sent in self.sent_at.items() if sent < limit]:
            del self.sent_at[hop]
            callback = self.callbacks.pop(hop, None)
            if callback is not None:
                callback(None)
            future = self.pending.pop(hop, None)
            if future is not None and not future.done():
                future.set_exception(TimeoutError(f"no answer within {timeout:.0f} s"))

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            dpr = Message.request(_DPR)
            dpr.add_raw(self.identity.avps)
            dpr.add(avps.DISCONNECT_CAUSE, 0)
            try:
                await asyncio.wait_for(self.request(dpr.to_bytes()[20:], _DPR, 0), 2)
            except (TimeoutError, ConnectionError):
                pass
            self.transport.close()


class CcrBuilder:
    """CCRs for one Origin-Host, assembled from AVPs encoded once."""

    def __init__(self, identity: Identity, service_context: str = "32251@3gpp.org") -> None:
        self.static = b"".join(
            [
                identity.avps,
                encode_avp(avps.DESTINATION_REALM, "ocs.bench"),
                encode_avp(avps.AUTH_APPLICATION_ID, 4),
                encode_avp(avps.SERVICE_CONTEXT_ID, service_context),
            ]
        )
        self.request_types = {kind: encode_avp(avps.CC_REQUEST_TYPE, kind) for kind in (1, 2, 3, 4)}
        self.indicator = encode_avp(avps.MULTIPLE_SERVICES_INDICATOR, 1)
        self._numbers: dict[int, bytes] = {}
        self._mscc: dict[tuple[int, bool, int | None], bytes] = {}

    def build(
        self,
        session_avp: bytes,
        request_type: int,
        number: int,
        *,
        subscriber: bytes = b"",
        rating_group: int = 100,
        requested: bool = True,
        used_octets: int | None = None,
        extra: bytes = b"",
    ) -> bytes:
        """A CCR body; ``extra`` is appended as is (e.g. :func:`service_information_avp`)."""
        number_avp = self._numbers.get(number)
        if number_avp is None:
            number_avp = self._numbers[number] = encode_avp(avps.CC_REQUEST_NUMBER, number)
        mscc_key = (rating_group, requested, used_octets)
        mscc = self._mscc.get(mscc_key)
        if mscc is None:
            members: list[tuple[int, object]] = []
            if requested:
                members.append((avps.REQUESTED_SERVICE_UNIT, []))
            if used_octets is not None:
                members.append((avps.USED_SERVICE_UNIT, [(avps.CC_TOTAL_OCTETS, used_octets)]))
            members.append((avps.RATING_GROUP, rating_group))
            mscc = self._mscc[mscc_key] = encode_avp(avps.MULTIPLE_SERVICES_CREDIT_CONTROL, members)
        return b"".join(
            (
                session_avp,
                self.static,
                self.request_types[request_type],
                number_avp,
                subscriber,
                self.indicator if request_type == 1 else b"",
                mscc,
                extra,
            )
        )


class EventBuilder:
    """CCR-EVENTs (direct debiting, RFC 8506 6.3) of SMS for one Origin-Host: rating group 300
    of the SMS service context, one service-specific unit each."""

    def __init__(self, identity: Identity) -> None:
        self.static = b"".join(
            [
                identity.avps,
                encode_avp(avps.DESTINATION_REALM, "ocs.bench"),
                encode_avp(avps.AUTH_APPLICATION_ID, 4),
                encode_avp(avps.SERVICE_CONTEXT_ID, "32274@3gpp.org"),
                encode_avp(avps.CC_REQUEST_TYPE, 4),
                encode_avp(avps.CC_REQUEST_NUMBER, 0),
                encode_avp(avps.REQUESTED_ACTION, 0),
                encode_avp(
                    avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
                    [
                        (avps.REQUESTED_SERVICE_UNIT, [(avps.CC_SERVICE_SPECIFIC_UNITS, 1)]),
                        (avps.RATING_GROUP, 300),
                    ],
                ),
            ]
        )

    def build(self, session_avp: bytes, subscriber: bytes) -> bytes:
        return b"".join((session_avp, subscriber, self.static))


def session_avp(session_id: str) -> bytes:
    return encode_avp(avps.SESSION_ID, session_id)


def service_information_avp(visited_network: str, apn: str = "internet") -> bytes:
    """Service-Information with PS-Information: the serving network (MCC-MNC) and APN."""
    ps = [(avps.TGPP_SGSN_MCC_MNC, visited_network), (avps.CALLED_STATION_ID, apn)]
    return encode_avp(avps.SERVICE_INFORMATION, [(avps.PS_INFORMATION, ps)])


def subscriber_avp(msisdn: str) -> bytes:
    return encode_avp(
        avps.SUBSCRIPTION_ID, [(avps.SUBSCRIPTION_ID_TYPE, 0), (avps.SUBSCRIPTION_ID_DATA, msisdn)]
    )


_RESULT_CODE = avps.RESULT_CODE
_MSCC = avps.MULTIPLE_SERVICES_CREDIT_CONTROL
_GSU = avps.GRANTED_SERVICE_UNIT
_TOTAL_OCTETS = avps.CC_TOTAL_OCTETS
_UNPACK_AVP = struct.Struct(">II").unpack_from
_TOP = frozenset({_RESULT_CODE, _MSCC})
_INNER = frozenset({_RESULT_CODE, _GSU})
_UNITS = frozenset({_TOTAL_OCTETS})


def _scan(data: bytes, start: int, end: int, wanted: frozenset[int]) -> dict[int, tuple[int, int]]:
    """First occurrence of the ``wanted`` vendor-less AVP codes in ``data[start:end]`` ->
    (data offset, end); stops as soon as all were found."""
    found: dict[int, tuple[int, int]] = {}
    offset = start
    while offset + 8 <= end and len(found) < len(wanted):
        code, flags_length = _UNPACK_AVP(data, offset)
        length = flags_length & 0xFFFFFF
        header = 12 if flags_length & 0x80000000 else 8
        if length < header:
            break
        if code in wanted and not flags_length & 0x80000000 and code not in found:
            found[code] = (offset + header, offset + length)
        offset += (length + 3) & ~3
    return found


def _unsigned(data: bytes, where: tuple[int, int] | None) -> int | None:
    if where is None:
        return None
    return int.from_bytes(data[where[0] : where[1]], "big")


def answer_codes(answer: bytes) -> tuple[int | None, int | None, int | None]:
    """(Result-Code, the first MSCC's Result-Code, its granted octets) of a CCA.

    A direct scan of the few AVPs the load generator needs (the full codec is
    tested elsewhere and costs several times more)."""
    top = _scan(answer, 20, len(answer), _TOP)
    result = _unsigned(answer, top.get(_RESULT_CODE))
    mscc = top.get(_MSCC)
    if mscc is None:
        return result, None, None
    inner = _scan(answer, *mscc, _INNER)
    gsu = inner.get(_GSU)
    octets = _unsigned(answer, _scan(answer, *gsu, _UNITS).get(_TOTAL_OCTETS)) if gsu else None
    return result, _unsigned(answer, inner.get(_RESULT_CODE)), octets
