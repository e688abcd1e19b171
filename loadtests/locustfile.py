"""Locust users for ocs: Diameter Gy sessions against a running server.

Headless, 100 users for a minute against ``make run``'s server::

    .venv/bin/locust -f loadtests/locustfile.py --headless -u 100 -r 20 -t 1m \\
        --host diameter://127.0.0.1:3868

With the web UI (http://127.0.0.1:8089)::

    .venv/bin/locust -f loadtests/locustfile.py --host diameter://127.0.0.1:3868

Each user is one gateway connection (its own Origin-Host) charging the demo
subscribers in turn: CCR-INITIAL, ``OCS_LOAD_UPDATES`` CCR-UPDATEs reporting
``OCS_LOAD_USED_OCTETS`` each, CCR-TERMINATION. Every request is reported to
Locust's statistics as ``CCR-I``/``CCR-U``/``CCR-T``; any answer other than
2001 (command and MSCC level) counts as a failure with its result code.
Environment: ``OCS_LOAD_FIRST_MSISDN`` (999100000000), ``OCS_LOAD_SUBSCRIBERS``
(1000), ``OCS_LOAD_UPDATES`` (5), ``OCS_LOAD_USED_OCTETS`` (100000).
``ocs bench`` is the tool for measuring the server's limits; Locust is for
shaping load and watching it live.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import struct
import time
from urllib.parse import urlsplit

from locust import User, between, events, task

from ocs.bench.client import CcrBuilder, answer_codes, session_avp, subscriber_avp
from ocs.diameter import avps
from ocs.diameter.capabilities import Advertised, LocalNode, build_cer
from ocs.diameter.codec import Codec, Identity
from ocs.diameter.constants import Application, Command

FIRST_MSISDN = int(os.environ.get("OCS_LOAD_FIRST_MSISDN", "999100000000"))
SUBSCRIBERS = int(os.environ.get("OCS_LOAD_SUBSCRIBERS", "1000"))
UPDATES = int(os.environ.get("OCS_LOAD_UPDATES", "5"))
USED_OCTETS = int(os.environ.get("OCS_LOAD_USED_OCTETS", "100000"))

_HEADER = struct.Struct(">IIIII")
_users = itertools.count()
_subscribers = itertools.count()
_codec = Codec()


class DiameterConnection:
    """A blocking Diameter client (gevent makes its socket cooperative under Locust)."""

    def __init__(self, host: str, port: int, origin_host: str) -> None:
        self.identity = Identity(origin_host, "load.local")
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buffer = b""
        self.hops = itertools.count(1)
        self.end_to_end = itertools.count((int(time.time()) << 20) & 0xFFFFFFFF)
        node = LocalNode(
            self.identity,
            product_name="ocs-locust",
            applications=(Advertised(Application.CREDIT_CONTROL),),
        )
        cer = build_cer(node, (ipaddress.ip_address(self.sock.getsockname()[0]),))
        cer.hop_by_hop = next(self.hops)
        self.sock.sendall(cer.to_bytes())
        cea = _codec.decode(self._read(), validate=False)
        if cea.result_code != 2001:
            raise ConnectionError(f"CEA {cea.result_code}")

    def _read(self) -> bytes:
        while True:
            if len(self.buffer) >= 4:
                length = int.from_bytes(self.buffer[1:4], "big")
                if len(self.buffer) >= length:
                    message, self.buffer = self.buffer[:length], self.buffer[length:]
                    return message
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("ocs closed the connection")
            self.buffer += data

    def request(self, body: bytes) -> bytes:
        hop = next(self.hops) & 0xFFFFFFFF
        header = _HEADER.pack(
            0x01000000 | (20 + len(body)),
            0xC0 << 24 | Command.CREDIT_CONTROL,
            Application.CREDIT_CONTROL,
            hop,
            next(self.end_to_end) & 0xFFFFFFFF,
        )
        self.sock.sendall(header + body)
        while True:
            message = self._read()
            if message[4] & 0x80:  # a request from ocs (DWR, RAR...): answer it
                request = _codec.decode(message, validate=False)
                answer = request.answer(2001, self.identity)
                if request.command_code == Command.RE_AUTH:
                    answer.add(avps.AUTH_APPLICATION_ID, Application.CREDIT_CONTROL)
                self.sock.sendall(answer.to_bytes())
                continue
            if int.from_bytes(message[12:16], "big") == hop:
                return message

    def close(self) -> None:
        self.sock.close()


class GyGateway(User):
    """A PGW charging data sessions over Gy."""

    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        target = urlsplit(self.host or "diameter://127.0.0.1:3868")
        number = next(_users)
        self.connection = DiameterConnection(
            target.hostname or "127.0.0.1", target.port or 3868, f"locust-{number}.load.local"
        )
        self.builder = CcrBuilder(self.connection.identity)
        self.sessions = itertools.count()

    def on_stop(self) -> None:
        self.connection.close()

    def _send(self, name: str, body: bytes) -> bool:
        started = time.perf_counter()
        exception: Exception | None = None
        try:
            answer = self.connection.request(body)
            result, mscc, _ = answer_codes(answer)
            if result != 2001 or (mscc is not None and mscc != 2001):
                exception = RuntimeError(f"result {result}, MSCC result {mscc}")
            length = len(answer)
        except (OSError, ConnectionError) as exc:
            exception, length = exc, 0
        events.request.fire(
            request_type="Diameter",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )
        return exception is None

    @task
    def data_session(self) -> None:
        msisdn = str(FIRST_MSISDN + next(_subscribers) % SUBSCRIBERS)
        sid = session_avp(
            f"{self.connection.identity.host};{int(time.time())};{next(self.sessions)}"
        )
        if not self._send(
            "CCR-I", self.builder.build(sid, 1, 0, subscriber=subscriber_avp(msisdn))
        ):
            return
        number = 1
        for _ in range(UPDATES):
            body = self.builder.build(sid, 2, number, used_octets=USED_OCTETS)
            number += 1
            if not self._send("CCR-U", body):
                break
        self._send(
            "CCR-T", self.builder.build(sid, 3, number, used_octets=USED_OCTETS, requested=False)
        )
