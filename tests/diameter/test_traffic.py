"""Dispatch without I/O: requests in, answers out through a link, no sockets, no event loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocs.diameter import avps
from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Codec, Identity, Message
from ocs.diameter.constants import Application, Command, ResultCode
from ocs.diameter.duplicates import DuplicateCache
from ocs.diameter.traffic import Flight, Traffic
from tests.diameter.messages import ccr

LOCAL = Identity("ocs.test.local", "test.local")
PEER = PeerInfo("pgw1.mno.example", "mno.example", None, "tcp", frozenset({4}), LOCAL)
CCR = (Application.CREDIT_CONTROL, Command.CREDIT_CONTROL)


@dataclass
class Link:
    in_flight: int = 0
    sent: list[tuple[bytes, int | None]] = field(default_factory=list)

    def send_answer(self, data: bytes, request: Message, result_code: int | None) -> None:
        self.sent.append((data, result_code))


def traffic(**bounds: int) -> Traffic:
    return Traffic(
        LOCAL,
        DuplicateCache(100, 60.0),
        max_in_flight=bounds.get("max_in_flight", 10),
        max_in_flight_per_peer=bounds.get("max_in_flight_per_peer", 10),
    )


def request(hop_by_hop: int = 1, end_to_end: int = 7) -> Message:
    return Codec().decode(ccr(hop_by_hop=hop_by_hop, end_to_end=end_to_end))


def decoded(data: bytes) -> Message:
    return Codec().decode(data, validate=False)


def test_a_retransmission_waits_for_the_first_answer_and_gets_it_with_its_own_hop() -> None:
    dispatch, link = traffic(), Link()
    dispatch.register(*CCR, lambda r, p: object())  # type: ignore[arg-type,return-value]
    first = dispatch.receive(request(hop_by_hop=1), PEER, link, 0.0)
    assert isinstance(first, Flight) and link.in_flight == dispatch.in_flight == 1
    assert dispatch.receive(request(hop_by_hop=2), PEER, link, 1.0) is None  # waits
    idle: list[bool] = []
    dispatch.on_idle = lambda: idle.append(True)
    data, code = dispatch.finish(first, first.request.answer(2001, LOCAL))
    assert code == 2001 and decoded(data).hop_by_hop == 1
    ((waiting, _),) = link.sent
    assert decoded(waiting).hop_by_hop == 2 and waiting[16:] == data[16:]
    assert (link.in_flight, dispatch.in_flight, idle) == (0, 0, [True])
    again = dispatch.receive(request(hop_by_hop=3), PEER, link, 2.0)
    assert isinstance(again, tuple) and decoded(again[0]).hop_by_hop == 3  # from the cache


def test_what_a_handler_gets_wrong_is_answered_5012_and_counted_back() -> None:
    dispatch, link = traffic(), Link()

    def unencodable(r: Message, p: PeerInfo) -> Message:
        return r.answer(2001, LOCAL).add_raw(b"\0" * 2**24)  # longer than a message can be

    dispatch.register(*CCR, unencodable)
    data, code = dispatch.receive(request(end_to_end=1), PEER, link, 0.0)  # type: ignore[misc]
    assert code == ResultCode.DIAMETER_UNABLE_TO_COMPLY
    assert decoded(data).get(avps.RESULT_CODE) == ResultCode.DIAMETER_UNABLE_TO_COMPLY
    flight = dispatch.receive(request(end_to_end=2), PEER, link, 0.0)
    assert not isinstance(flight, Flight)  # the handler answered at once, 5012 or not
    assert link.in_flight == dispatch.in_flight == 0


def test_over_a_bound_or_while_stopping_the_answer_is_3004_with_the_e_bit() -> None:
    dispatch, link = traffic(max_in_flight_per_peer=1), Link()
    dispatch.register(*CCR, lambda r, p: object())  # type: ignore[arg-type,return-value]
    assert isinstance(dispatch.receive(request(end_to_end=1), PEER, link, 0.0), Flight)
    busy = dispatch.receive(request(end_to_end=2), PEER, link, 0.0)
    assert isinstance(busy, tuple) and busy[1] == ResultCode.DIAMETER_TOO_BUSY
    assert decoded(busy[0]).is_error
    dispatch.stopping = True
    stopping = dispatch.receive(request(end_to_end=3), PEER, Link(), 0.0)
    assert isinstance(stopping, tuple)
    assert decoded(stopping[0]).get(avps.ERROR_MESSAGE) == "shutting down"
