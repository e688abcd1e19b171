"""The peer state machine: two peers in memory against each other, a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ocs.diameter import avps
from ocs.diameter.capabilities import Advertised, LocalNode, PeerInfo
from ocs.diameter.codec import Codec, Identity, Message
from ocs.diameter.constants import Application, Command, DisconnectCause, ResultCode
from ocs.diameter.errors import ConnectionClosed, NotConnected, RequestTimeout
from ocs.diameter.framing import Framer
from ocs.diameter.peer import (
    AnswerReceived,
    DisconnectRequested,
    Event,
    Peer,
    PeerClosed,
    PeerOpened,
    PeerSettings,
    PeerState,
    Rejection,
    RequestFailed,
    RequestReceived,
    Role,
)
from tests.diameter.client import cer_bytes
from tests.diameter.messages import ccr, ccr_avps, raw_avp
from tests.diameter.pd_compare import assert_python_diameter_agrees

TW = 30.0
SETTINGS = PeerSettings(watchdog_interval=TW, watchdog_jitter=0.0, capabilities_timeout=10.0)
CCR_KEY = (Application.CREDIT_CONTROL, Command.CREDIT_CONTROL)


@dataclass
class Recorder:
    seen: list[tuple[str, str, int | None]] = field(default_factory=list)

    def message_in(self, command: str, result_code: int | None) -> None:
        self.seen.append(("in", command, result_code))

    def message_out(self, command: str, result_code: int | None) -> None:
        self.seen.append(("out", command, result_code))

    def decode_error(self, reason: str) -> None:
        self.seen.append(("error", reason, None))


def node(host: str, applications: tuple[Advertised, ...] | None = None) -> LocalNode:
    return LocalNode(
        Identity(host, host.split(".", 1)[1]),
        product_name=host,
        origin_state_id=7,
        applications=applications or (Advertised(Application.CREDIT_CONTROL),),
    )


class Pair:
    """A client (initiator) and a server (responder) connected in memory."""

    def __init__(
        self,
        *,
        admit: Callable[[PeerInfo], Rejection | None] | None = None,
        client_apps: tuple[Advertised, ...] | None = None,
        settings: PeerSettings = SETTINGS,
        connect: bool = True,
    ) -> None:
        self.now = 1000.0
        self.codec = Codec()
        self.server_observer = Recorder()
        self.client = Peer(
            Role.INITIATOR,
            node("pgw.mno.example", client_apps),
            Codec(),
            self.now,
            settings=settings,
            local_address="192.0.2.1",
            handled={CCR_KEY},
        )
        self.server = Peer(
            Role.RESPONDER,
            node("ocs.demo.local"),
            self.codec,
            self.now,
            settings=settings,
            local_address="192.0.2.2",
            remote_address=("192.0.2.1", 40000),
            admit=admit,
            handled={CCR_KEY},
            observer=self.server_observer,
        )
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        if connect:
            self.client.connection_made(self.now)
            self.pump()

    def pump(self) -> None:
        """Deliver queued bytes both ways until both sides are quiet."""
        while True:
            to_server, to_client = self.client.data_to_send(), self.server.data_to_send()
            if not to_server and not to_client:
                return
            if to_server:
                self.server_events += self.server.receive_data(to_server, self.now)
            if to_client:
                self.client_events += self.client.receive_data(to_client, self.now)

    def advance(self, seconds: float, *, deliver: bool = True) -> None:
        """Move the clock, firing each side's timers when due."""
        self.now += seconds
        for peer, events in ((self.client, self.client_events), (self.server, self.server_events)):
            deadline = peer.next_deadline()
            if deadline is not None and deadline <= self.now:
                events += peer.handle_timer(self.now)
        if deliver:
            self.pump()


def kinds(events: list[Event]) -> list[type]:
    return [type(e) for e in events]


def test_capabilities_exchange_opens_both_sides() -> None:
    pair = Pair()
    assert pair.client.state is pair.server.state is PeerState.OPEN
    (opened,) = pair.server_events
    assert isinstance(opened, PeerOpened)
    info: PeerInfo = opened.info
    assert (info.origin_host, info.origin_realm) == ("pgw.mno.example", "mno.example")
    assert info.applications == {Application.CREDIT_CONTROL}
    assert info.remote_address == ("192.0.2.1", 40000)
    assert info.product_name == "pgw.mno.example"
    assert str(info.host_ip_addresses[0]) == "192.0.2.1"
    assert info.local.host == "ocs.demo.local"
    assert isinstance(pair.client_events[0], PeerOpened)
    assert ("in", "CER", None) in pair.server_observer.seen
    assert ("out", "CEA", 2001) in pair.server_observer.seen


def test_a_peer_the_admission_check_refuses_gets_its_result_code_and_is_closed() -> None:
    pair = Pair(
        admit=lambda info: Rejection(
            ResultCode.DIAMETER_UNKNOWN_PEER, f"{info.origin_host} unknown"
        )
    )
    assert pair.server.state is PeerState.CLOSED
    assert pair.server.close_reason == "rejected: pgw.mno.example unknown"
    assert pair.client.state is PeerState.CLOSED
    assert "3010" in pair.client.close_reason


def test_no_common_application_is_5010_and_closes() -> None:
    pair = Pair(client_apps=(Advertised(999),))
    assert pair.server.state is PeerState.CLOSED
    assert "no common application (peer advertised 999)" in pair.server.close_reason
    assert "5010" in pair.client.close_reason


def test_relay_application_counts_as_common() -> None:
    pair = Pair(client_apps=(Advertised(Application.RELAY),))
    assert pair.server.state is PeerState.OPEN


def test_an_invalid_cer_is_answered_with_its_error_and_closed() -> None:
    pair = Pair(connect=False)
    cer = Message.request(Command.CAPABILITIES_EXCHANGE).add(avps.ORIGIN_HOST, "pgw.mno.example")
    events = pair.server.receive_data(cer.to_bytes(), pair.now)
    assert kinds(events) == [PeerClosed]
    cea = Codec().decode(pair.server.data_to_send(), validate=False)
    assert cea.get(avps.RESULT_CODE) == ResultCode.DIAMETER_MISSING_AVP
    assert cea.group(avps.FAILED_AVP) is not None


def test_a_cer_with_a_value_not_of_its_type_gets_a_5004_cea_and_is_closed() -> None:
    pair = Pair(connect=False)
    cer = Message.request(Command.CAPABILITIES_EXCHANGE)
    for avp in Codec().decode(cer_bytes("pgw.mno.example")).avps():
        bad = avp.code == avps.PRODUCT_NAME
        cer.add_raw(raw_avp(avps.PRODUCT_NAME, b"\xffpgw") if bad else avp.to_bytes())
    events = pair.server.receive_data(cer.to_bytes(), pair.now)
    assert kinds(events) == [PeerClosed]
    cea = Codec().decode(pair.server.data_to_send(), validate=False)
    assert cea.get(avps.RESULT_CODE) == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert pair.server.close_reason.startswith("invalid CER: Product-Name: 'utf-8' codec")


def test_a_bug_met_by_one_request_answers_it_5012_and_the_next_one_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair = Pair()
    decode = pair.server.codec.decode
    calls = iter([RuntimeError("a bug"), None])

    def flaky(data: bytes, **kwargs: object) -> Message:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return decode(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pair.server.codec, "decode", flaky)
    first, second = ccr(hop_by_hop=1, end_to_end=1), ccr(hop_by_hop=2, end_to_end=2)
    events = pair.server.receive_data(first + second, pair.now)
    assert kinds(events) == [RequestReceived]  # the second request, untouched by the first
    (answer,) = Framer().feed(pair.server.data_to_send())
    assert Codec().decode(answer).get(avps.RESULT_CODE) == ResultCode.DIAMETER_UNABLE_TO_COMPLY
    assert Codec().decode(answer).hop_by_hop == 1
    assert pair.server.state is PeerState.OPEN


def test_anything_but_a_cer_first_closes_the_connection() -> None:
    pair = Pair(connect=False)
    events = pair.server.receive_data(ccr(), pair.now)
    assert kinds(events) == [PeerClosed]
    assert pair.server.close_reason == "CCR before the CER"
    assert pair.server.data_to_send() == b""


def test_no_cer_in_time_closes_the_connection() -> None:
    pair = Pair(connect=False)
    assert pair.server.next_deadline() == pair.now + 10.0
    pair.advance(10.0)
    assert pair.server.state is PeerState.CLOSED
    assert pair.server.close_reason == "no CER within the timeout"


def test_watchdog_exchanges_dwr_and_dwa_when_idle() -> None:
    pair = Pair()
    pair.advance(TW)
    assert pair.client.state is pair.server.state is PeerState.OPEN
    assert ("in", "DWR", None) in pair.server_observer.seen
    assert ("out", "DWA", 2001) in pair.server_observer.seen
    assert ("in", "DWA", 2001) in pair.server_observer.seen
    for _ in range(5):
        pair.advance(TW)
    assert pair.server.state is PeerState.OPEN


def test_traffic_postpones_the_watchdog() -> None:
    pair = Pair()
    pair.advance(TW - 1)
    pair.client.send_request(Message.request(Command.DEVICE_WATCHDOG), pair.now, 5)
    pair.pump()
    assert pair.server.next_deadline() == pytest.approx(pair.now + TW)


def test_a_silent_peer_is_suspect_after_2_tw_and_closed_after_3_tw() -> None:
    pair = Pair()
    pair.client.send_request(
        Message.request(Command.CREDIT_CONTROL, 4).add(avps.SESSION_ID, "s"), pair.now, 1000
    )
    pair.pump()
    pair.server.data_to_send()
    pair.advance(TW, deliver=False)  # server sends a DWR nobody answers
    assert pair.server.data_to_send()
    pair.advance(TW, deliver=False)
    assert pair.server.state is PeerState.OPEN  # SUSPECT
    pair.advance(TW, deliver=False)
    assert pair.server.state is PeerState.CLOSED
    assert pair.server.close_reason == "watchdog: no DWA, peer silent for 3 Tw"


@pytest.mark.parametrize("dwa_comes", [True, False])
def test_a_late_dwa_makes_a_suspect_peer_okay_again(dwa_comes: bool) -> None:
    pair = Pair()
    pair.advance(TW, deliver=False)
    dwr = pair.server.data_to_send()
    pair.advance(TW, deliver=False)  # suspect now
    pair.client.data_to_send()
    if dwa_comes:
        pair.client.receive_data(dwr, pair.now)
        pair.server.receive_data(pair.client.data_to_send(), pair.now)
    pair.advance(TW * 1.5, deliver=False)  # past the 3 Tw a silent peer gets
    assert pair.server.state is (PeerState.OPEN if dwa_comes else PeerState.CLOSED)


def test_send_watchdog_probes_at_once() -> None:
    pair = Pair()
    pair.server.send_watchdog(pair.now)
    dwr = Codec().decode(pair.server.data_to_send())
    assert dwr.command_code == Command.DEVICE_WATCHDOG and dwr.is_request


def test_dpr_from_the_client_is_answered_and_the_client_closes_on_dpa() -> None:
    pair = Pair()
    pair.client.close(pair.now, DisconnectCause.BUSY)
    assert pair.client.state is PeerState.CLOSING
    pair.pump()
    assert DisconnectRequested(DisconnectCause.BUSY) in pair.server_events
    assert pair.server.state is PeerState.CLOSING
    assert pair.client.state is PeerState.CLOSED
    assert pair.client.close_reason == "disconnected (DPA received)"
    pair.advance(5.0)  # the client would close the socket; if it does not:
    assert pair.server.state is PeerState.CLOSED
    assert pair.server.close_reason == "peer kept open after DPA within the timeout"


def test_dpr_from_the_server_and_a_peer_that_never_answers() -> None:
    pair = Pair()
    pair.server.close(pair.now)
    pair.server.data_to_send()  # lost
    pair.advance(5.0, deliver=False)
    assert pair.server.state is PeerState.CLOSED
    assert pair.server.close_reason == "no DPA within the timeout"


def test_requests_and_answers_are_matched_by_hop_by_hop_not_order() -> None:
    pair = Pair()
    first = pair.client.send_request(
        Message(Command.CREDIT_CONTROL, 4, flags=0xC0).add_raw(*ccr_avps(request_number=1)),
        pair.now,
        10,
    )
    second = pair.client.send_request(
        Message(Command.CREDIT_CONTROL, 4, flags=0xC0).add_raw(*ccr_avps(request_number=2)),
        pair.now,
        10,
    )
    pair.pump()
    requests = [e.message for e in pair.server_events if isinstance(e, RequestReceived)]
    assert [r.get(avps.CC_REQUEST_NUMBER) for r in requests] == [1, 2]
    for request in reversed(requests):  # answered out of order
        answer = request.answer(ResultCode.DIAMETER_SUCCESS, pair.server.local.identity)
        answer.add(avps.CC_REQUEST_NUMBER, request.get(avps.CC_REQUEST_NUMBER))
        pair.server.send_answer(answer.to_bytes(), "CCA", 2001)
    pair.pump()
    answers = {e.request_id: e.message for e in pair.client_events if isinstance(e, AnswerReceived)}
    assert answers[first].get(avps.CC_REQUEST_NUMBER) == 1
    assert answers[second].get(avps.CC_REQUEST_NUMBER) == 2
    assert pair.client.in_flight == 0


def test_an_unanswered_request_times_out_and_a_late_answer_is_discarded() -> None:
    pair = Pair()
    request_id = pair.client.send_request(
        Message(Command.CREDIT_CONTROL, 4, flags=0xC0).add_raw(*ccr_avps()), pair.now, 3
    )
    pair.pump()
    pair.advance(3, deliver=False)
    failures = [e for e in pair.client_events if isinstance(e, RequestFailed)]
    assert failures == [RequestFailed(request_id, failures[0].error)]
    assert isinstance(failures[0].error, RequestTimeout)
    request = next(e.message for e in pair.server_events if isinstance(e, RequestReceived))
    pair.server.send_answer(
        request.answer(2001, pair.server.local.identity).to_bytes(), "CCA", 2001
    )
    pair.pump()
    assert not [e for e in pair.client_events if isinstance(e, AnswerReceived)]


def test_pending_requests_fail_when_the_connection_is_lost() -> None:
    pair = Pair()
    request_id = pair.client.send_request(
        Message(Command.CREDIT_CONTROL, 4, flags=0xC0), pair.now, 30
    )
    events = pair.client.connection_lost(pair.now)
    assert isinstance(events[0], RequestFailed) and events[0].request_id == request_id
    assert isinstance(events[0].error, ConnectionClosed)
    assert isinstance(events[-1], PeerClosed)
    with pytest.raises(NotConnected):
        pair.client.send_request(Message(Command.CREDIT_CONTROL, 4), pair.now, 1)


def refusal(pair: Pair, data: bytes) -> Message:
    events = pair.server.receive_data(data, pair.now)
    assert not [e for e in events if isinstance(e, RequestReceived)]
    return Codec().decode(pair.server.data_to_send(), validate=False)


@pytest.mark.parametrize(
    ("data", "result_code"),
    [
        (ccr(application=16777238), ResultCode.DIAMETER_APPLICATION_UNSUPPORTED),
        (ccr(command=Command.SESSION_TERMINATION), ResultCode.DIAMETER_COMMAND_UNSUPPORTED),
        (ccr(flags=0xE0), ResultCode.DIAMETER_INVALID_HDR_BITS),
        (ccr(ccr_avps(request_type=9)), ResultCode.DIAMETER_INVALID_AVP_VALUE),
        (ccr(ccr_avps()[1:]), ResultCode.DIAMETER_MISSING_AVP),
    ],
)
def test_requests_the_peer_must_refuse_are_answered_by_it(data: bytes, result_code: int) -> None:
    pair = Pair()
    answer = refusal(pair, data)
    assert answer.get(avps.RESULT_CODE) == result_code
    assert answer.is_error == (3000 <= result_code < 4000)
    assert answer.get(avps.ORIGIN_HOST) == "ocs.demo.local"
    assert (answer.hop_by_hop, answer.end_to_end) == (0x1111, 0x2222)
    if avps.SESSION_ID in Codec().decode(data, validate=False):
        assert answer.keys()[0] == avps.SESSION_ID
    assert pair.server.state is PeerState.OPEN


def test_requests_while_closing_get_too_busy() -> None:
    pair = Pair()
    pair.server.close(pair.now)
    pair.server.data_to_send()
    answer = refusal(pair, ccr())
    assert answer.get(avps.RESULT_CODE) == ResultCode.DIAMETER_TOO_BUSY and answer.is_error


def test_a_framing_error_closes_and_is_counted() -> None:
    pair = Pair()
    events = pair.server.receive_data(b"\x02\x00\x00\x14" + bytes(16), pair.now)
    assert kinds(events) == [PeerClosed]
    assert pair.server.close_reason.startswith("framing error: Diameter version 2")
    assert ("error", "version", None) in pair.server_observer.seen


def test_every_message_the_peers_write_reads_the_same_in_python_diameter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[bytes] = []
    original = Peer.data_to_send

    def recording(peer: Peer) -> bytes:
        data = original(peer)
        written.append(data)
        return data

    monkeypatch.setattr(Peer, "data_to_send", recording)
    pair = Pair()  # CER, CEA
    pair.advance(TW)  # DWR, DWA both ways
    refusal(pair, ccr(ccr_avps()[1:]))  # 5005 with Failed-AVP
    refusal(pair, ccr(flags=0xE0))  # 3008, E bit
    pair.client.close(pair.now)
    pair.pump()  # DPR, DPA
    framer = Framer()
    messages = [m for data in written for m in framer.feed(data)]
    assert len(messages) >= 10
    for message in messages:
        assert_python_diameter_agrees(message)
