"""Fuzzing a real ``ocs serve`` with mutated real CCRs over one TCP connection.

Each example sends one well-framed CCR, mutated (bit flips, invalid UTF-8 in a UTF8String
or DiameterIdentity AVP at any depth, truncation, AVP lengths that lie, grouped AVPs nested
too deep, AVPs repeated or left out), and a valid CCR right behind it in the same write,
as a busy gateway pipelines them. Whatever the mutation, the server must answer the mutated
request exactly once (with the same ids, whatever the Result-Code), answer the valid one
2001, keep the connection open, and log no ERROR: a bad value is the peer's problem and is
answered as such, never a crash.

The client here is a plain blocking socket that frames answers itself: nothing of ocs's
peer or transport is trusted to read what the server sends.
"""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocs.diameter import avps
from ocs.diameter.codec import Message, encode_avp
from ocs.diameter.constants import Application, Command
from ocs.diameter.dictionary import DICTIONARY
from ocs.diameter.values import AvpType
from ocs.redis_server import RedisServer
from tests.diameter.client import cer_bytes
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow

MSISDN = "999100000000"  # the first demo subscriber
HEADER = struct.Struct(">IIIII")
AVP_HEADER = struct.Struct(">II")
TEXT_TYPES = (AvpType.UTF8_STRING, AvpType.DIAMETER_IDENTITY)
BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xe2\x28\xa1", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80")
NEST = DICTIONARY.key("Multiple-Services-Credit-Control")


class Connection:
    """A blocking Diameter connection that sends bytes and frames what comes back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.hops = itertools.count(0x1000)
        self.sock.sendall(cer_bytes("fuzz.mno.example"))
        assert _result_code(self.read()) == 2001, "CER refused"

    def read(self) -> bytes:
        """The next whole message from the server (EOF fails the test)."""
        while True:
            if len(self.buffer) >= 4:
                length = int.from_bytes(self.buffer[1:4], "big")
                if len(self.buffer) >= length:
                    message, self.buffer = self.buffer[:length], self.buffer[length:]
                    return message
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def _result_code(message: bytes) -> int | None:
    """The top-level Result-Code, read octet by octet (a Failed-AVP may hold anything)."""
    for _, data, end, key in _top_level(message):
        if key == avps.RESULT_CODE and end - data == 4:
            return int.from_bytes(message[data:end], "big")
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[int]:
    """``ocs serve`` with two demo subscribers on the tests' redis-server; its Diameter port."""
    with redis_server.client() as client:
        client.flushall()
    directory = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    config = directory / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{directory / "state"}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_server.url}"
[metrics]
enabled = false
[grpc]
enabled = false
[diameter]
listen = "127.0.0.1:{port}"
[demo]
subscribers = 2
"""
    )
    process = ServeProcess(config).start()
    try:
        process.wait_ready()
        yield port
        errors = [line for line in process.lines if " ERROR " in line]
        assert not errors, "\n".join(errors)
    finally:
        process.stop()
    with redis_server.client() as client:
        client.flushall()


@pytest.fixture(scope="module")
def connection(server: int) -> Iterator[Connection]:
    connected = Connection(server)
    yield connected
    # A DWR last: its DWA must be the next message, so no request got a second answer.
    dwr = Message.request(Command.DEVICE_WATCHDOG, 0)
    dwr.add(avps.ORIGIN_HOST, "fuzz.mno.example").add(avps.ORIGIN_REALM, "mno.example")
    dwr.hop_by_hop = dwr.end_to_end = next(connected.hops)
    connected.sock.sendall(dwr.to_bytes())
    assert HEADER.unpack_from(connected.read())[3] == dwr.hop_by_hop, "a stray answer came"
    connected.close()


# -- the requests ----------------------------------------------------------------------------

_sessions = itertools.count(1)


def _ccr(request_type: int, *, action: int | None = None, context: str) -> Message:
    message = Message.request(Command.CREDIT_CONTROL, Application.CREDIT_CONTROL, proxiable=True)
    session = f"fuzz.mno.example;1700000000;{next(_sessions):08d}"
    message.add(avps.SESSION_ID, session)
    message.add(avps.ORIGIN_HOST, "fuzz.mno.example")
    message.add(avps.ORIGIN_REALM, "mno.example")
    message.add(avps.DESTINATION_REALM, "demo.local")
    message.add(avps.AUTH_APPLICATION_ID, 4)
    message.add(avps.SERVICE_CONTEXT_ID, context)
    message.add(avps.CC_REQUEST_TYPE, request_type)
    message.add(avps.CC_REQUEST_NUMBER, 0 if request_type in (1, 4) else 1)
    message.add(avps.USER_NAME, "fuzz@mno.example")
    if action is not None:
        message.add(avps.REQUESTED_ACTION, action)
    message.add(
        avps.SUBSCRIPTION_ID,
        [(avps.SUBSCRIPTION_ID_TYPE, 0), (avps.SUBSCRIPTION_ID_DATA, MSISDN)],
    )
    return message


def templates() -> dict[str, Message]:
    """Real CCRs of each kind: what a PGW, an SMSC and a price enquiry send."""
    initial = _ccr(1, context="32251@3gpp.org")
    initial.add(avps.MULTIPLE_SERVICES_INDICATOR, 1)
    initial.add(
        avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
        [(avps.REQUESTED_SERVICE_UNIT, []), (avps.RATING_GROUP, 100)],
    )
    initial.add(
        avps.SERVICE_INFORMATION,
        [
            (
                avps.PS_INFORMATION,
                [
                    (avps.TGPP_SGSN_MCC_MNC, "00101"),
                    (avps.CALLED_STATION_ID, "internet"),
                    (avps.TGPP_RAT_TYPE, b"\x06"),
                ],
            )
        ],
    )
    update = _ccr(2, context="32251@3gpp.org")
    update.add(
        avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
        [
            (avps.REQUESTED_SERVICE_UNIT, []),
            (avps.USED_SERVICE_UNIT, [(avps.CC_TOTAL_OCTETS, 1_000_000), (avps.CC_TIME, 60)]),
            (avps.RATING_GROUP, 100),
            (avps.REPORTING_REASON, 3),
        ],
    )
    debit = _ccr(4, action=0, context="32274@3gpp.org")
    debit.add(avps.REQUESTED_SERVICE_UNIT, [(avps.CC_SERVICE_SPECIFIC_UNITS, 1)])
    money = _ccr(4, action=1, context="32274@3gpp.org")  # a refund of 5 cents in CC-Money
    money.add(
        avps.REQUESTED_SERVICE_UNIT,
        [(avps.CC_MONEY, [(avps.UNIT_VALUE, [(avps.VALUE_DIGITS, 5)])])],
    )
    return {"initial": initial, "update": update, "debit": debit, "refund": money}


def price_enquiry() -> Message:
    """The valid CCR sent behind each mutated one: changes nothing, always 2001."""
    message = _ccr(4, action=3, context="32274@3gpp.org")
    message.add(avps.REQUESTED_SERVICE_UNIT, [(avps.CC_SERVICE_SPECIFIC_UNITS, 1)])
    return message


# -- the mutations ---------------------------------------------------------------------------


def walk(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """``(header offset, data offset, data end, key)`` of every AVP, grouped ones' members
    included, read octet by octet (not with the codec under test)."""
    pos = start
    while pos + 8 <= end:
        code, flags_length = AVP_HEADER.unpack_from(data, pos)
        flags, length = flags_length >> 24, flags_length & 0xFFFFFF
        vendor = struct.unpack_from(">I", data, pos + 8)[0] if flags & 0x80 else 0
        body = pos + (12 if flags & 0x80 else 8)
        if length < body - pos or pos + length > end:
            return
        key = vendor << 32 | code
        yield pos, body, pos + length, key
        definition = DICTIONARY.by_key(key)
        if definition is not None and definition.type is AvpType.GROUPED:
            yield from walk(data, body, pos + length)
        pos += length + (-length & 3)


def framed(body: bytes, header: bytes) -> bytes:
    """A message of ``header``'s command and ids around ``body``, its length made true."""
    body += b"\x00" * (-len(body) & 3)
    first = (1 << 24) | (20 + len(body))
    return struct.pack(">I", first) + header[4:20] + body


@st.composite
def mutated(draw: st.DrawFn, template: bytes) -> tuple[str, bytes]:
    header, body = template[:20], bytearray(template[20:])
    found = list(walk(template, 20, len(template)))
    top = [(s, e) for s, _, e, _ in _top_level(template)]
    kind = draw(st.sampled_from(["flip", "utf8", "truncate", "length", "nest", "repeat", "drop"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            bit = draw(st.integers(0, len(body) * 8 - 1))
            body[bit // 8] ^= 1 << (bit % 8)
    elif kind == "utf8":
        texts = [
            (d, e)
            for _, d, e, key in found
            if e > d and (definition := DICTIONARY.by_key(key)) and definition.type in TEXT_TYPES
        ]
        d, e = draw(st.sampled_from(texts))
        bad = draw(st.sampled_from(BAD_UTF8))[: e - d]
        at = draw(st.integers(d, e - len(bad)))
        body[at - 20 : at - 20 + len(bad)] = bad
    elif kind == "truncate":
        body = body[: draw(st.integers(0, len(body) // 4 - 1)) * 4]
    elif kind == "length":
        s, _, _, _ = draw(st.sampled_from(found))
        length = draw(st.one_of(st.integers(0, 24), st.integers(0, 0xFFFFFF)))
        flags = body[s - 20 + 4]
        body[s - 20 + 4 : s - 20 + 8] = struct.pack(">I", flags << 24 | length)
    elif kind == "nest":
        depth = draw(st.integers(2, 40))
        inner = encode_avp(avps.RATING_GROUP, 100)
        for _ in range(depth):
            inner = encode_avp(NEST, [inner])
        body += inner
    elif kind == "repeat":
        s, e = draw(st.sampled_from(top))
        copies = draw(st.integers(1, 3))
        body += bytes(template[s : e + (-(e - s) & 3)]) * copies
    else:
        s, e = draw(st.sampled_from(top))
        e += -(e - s) & 3
        del body[s - 20 : e - 20]
    return kind, framed(bytes(body), header)


def _top_level(message: bytes) -> Iterator[tuple[int, int, int, int]]:
    """``(header offset, data offset, data end, code)`` of the message's own AVPs."""
    pos = 20
    while pos + 8 <= len(message):
        code, flags_length = AVP_HEADER.unpack_from(message, pos)
        length = flags_length & 0xFFFFFF
        if length < 8:
            return
        data = pos + (12 if flags_length >> 24 & 0x80 else 8)
        yield pos, data, pos + length, code
        pos += length + (-length & 3)


# -- the property ----------------------------------------------------------------------------


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_framed_request_gets_one_answer_and_the_next_ccr_is_served(
    connection: Connection, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(templates())))
    template = templates()[name]
    template.hop_by_hop, template.end_to_end = next(connection.hops), next(connection.hops)
    kind, request = data.draw(mutated(template.to_bytes()), label="mutation")
    valid = price_enquiry()
    valid.hop_by_hop, valid.end_to_end = next(connection.hops), next(connection.hops)
    connection.sock.sendall(request + valid.to_bytes())
    answers: dict[int, list[bytes]] = {template.hop_by_hop: [], valid.hop_by_hop: []}
    while not (answers[template.hop_by_hop] and answers[valid.hop_by_hop]):
        answer = connection.read()
        _, command, _, hop, _ = HEADER.unpack_from(answer)
        assert hop in answers, f"an answer to no request of this example (hop 0x{hop:08x})"
        assert not command & 0x80000000, "a request instead of an answer"
        answers[hop].append(answer)
    (mutated_answer,) = answers[template.hop_by_hop]
    assert HEADER.unpack_from(mutated_answer)[4] == template.end_to_end
    assert _result_code(mutated_answer) is not None, f"{name}/{kind}: answer without Result-Code"
    (valid_answer,) = answers[valid.hop_by_hop]
    assert _result_code(valid_answer) == 2001, f"{name}/{kind}: the next CCR was not served"
