"""Locust users for ocs: Diameter Gy gateways, 5G SMFs on Nchf, gRPC gateways and self-care apps.

Headless, 100 users for a minute against ``make run``'s server::

    .venv/bin/locust -f loadtests/locustfile.py --headless -u 100 -r 20 -t 1m \\
        --host diameter://127.0.0.1:3868 GyGateway

With the web UI (http://127.0.0.1:8089)::

    .venv/bin/locust -f loadtests/locustfile.py --class-picker --host diameter://127.0.0.1:3868

Each user is one gateway connection (its own Origin-Host) charging the demo
subscribers in turn: CCR-INITIAL, ``OCS_LOAD_UPDATES`` CCR-UPDATEs reporting
``OCS_LOAD_USED_OCTETS`` each, CCR-TERMINATION. Every request is reported to
Locust's statistics as ``CCR-I``/``CCR-U``/``CCR-T``; any answer other than
2001 (command and MSCC level) counts as a failure with its result code.
Environment: ``OCS_LOAD_FIRST_MSISDN`` (999100000000), ``OCS_LOAD_SUBSCRIBERS``
(1000), ``OCS_LOAD_UPDATES`` (5), ``OCS_LOAD_USED_OCTETS`` (100000), and
``OCS_LOAD_MIX`` (``100``): the sessions' rating groups, in turn, each optionally
``@MCC-MNC`` of a visited network (sent as PS-Information 3GPP-SGSN-MCC-MNC), e.g.
``100,100@20801,100@21401,500`` for home data, roaming in France and Spain, and
partner video: traffic that the billing bridge settles with partners.

``GrpcGateway`` runs the same sessions over the gRPC CreditControl API (unary
Initial/Update/Terminate, reported as ``gRPC`` ``Initial``/``Update``/``Terminate``);
``SelfCareApp`` reads balances and usage history and now and then tops up
(``GetBalance``/``ListUsage``/``TopUp``); ``MoneyMix`` moves money the other ways: CC-Money
debits (``Debit``), refunds of part of one of them by its refund reference (``Refund``) and
offer purchases (``PurchaseOffer``, of ``OCS_LOAD_OFFERS``: roam_eu,voice_pack). They talk
to ``OCS_LOAD_GRPC`` (127.0.0.1:50051) with the bearer tokens in ``OCS_LOAD_TOKEN`` (role
network_function), ``OCS_LOAD_CARE_TOKEN`` (role care) and, for purchases,
``OCS_LOAD_ADMIN_TOKEN`` (role admin), e.g.::

    export OCS_LOAD_TOKEN=$(.venv/bin/ocs token create --role network_function --subject locust)
    export OCS_LOAD_CARE_TOKEN=$(.venv/bin/ocs token create --role care --subject locust)
    .venv/bin/locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 1m \\
        --host diameter://127.0.0.1:3868 GyGateway GrpcGateway SelfCareApp

``ChfConsumer`` is a 5G SMF charging the same sessions over Nchf_ConvergedCharging
(create, ``OCS_LOAD_UPDATES`` updates, release; HTTP/2 with prior knowledge to
``OCS_LOAD_NCHF``, http://127.0.0.1:8090), reported as ``Nchf`` ``create``/``update``/
``release``; an answer other than 2xx, or a rating group not SUCCESS, is a failure::

    .venv/bin/locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 1m \\
        --host diameter://127.0.0.1:3868 GyGateway ChfConsumer

Name user classes on the command line (or ``--class-picker`` in the web UI); without
tokens, name ``GyGateway`` only: the gRPC users need them.
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
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import grpc
import grpc.experimental.gevent as grpc_gevent
import httpx
from locust import User, between, events, task

from ocs.api.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    balance_pb2,
    balance_pb2_grpc,
    common_pb2,
    credit_control_pb2,
    credit_control_pb2_grpc,
)
from ocs.bench.client import (
    CcrBuilder,
    answer_codes,
    service_information_avp,
    session_avp,
    subscriber_avp,
)
from ocs.diameter import avps
from ocs.diameter.capabilities import Advertised, LocalNode, build_cer
from ocs.diameter.codec import Codec, Identity
from ocs.diameter.constants import Application, Command

FIRST_MSISDN = int(os.environ.get("OCS_LOAD_FIRST_MSISDN", "999100000000"))
SUBSCRIBERS = int(os.environ.get("OCS_LOAD_SUBSCRIBERS", "1000"))
UPDATES = int(os.environ.get("OCS_LOAD_UPDATES", "5"))
USED_OCTETS = int(os.environ.get("OCS_LOAD_USED_OCTETS", "100000"))
MIX = [entry.strip() for entry in os.environ.get("OCS_LOAD_MIX", "100").split(",") if entry]

GRPC_TARGET = os.environ.get("OCS_LOAD_GRPC", "127.0.0.1:50051")
NCHF_ROOT = os.environ.get("OCS_LOAD_NCHF", "http://127.0.0.1:8090")
TOKEN = os.environ.get("OCS_LOAD_TOKEN", "")
CARE_TOKEN = os.environ.get("OCS_LOAD_CARE_TOKEN", "")
ADMIN_TOKEN = os.environ.get("OCS_LOAD_ADMIN_TOKEN", "")
OFFERS = [o for o in os.environ.get("OCS_LOAD_OFFERS", "roam_eu,voice_pack").split(",") if o]

grpc_gevent.init_gevent()  # grpcio's waits must yield to Locust's other users

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
        self.mix = itertools.cycle([_mix_entry(entry) for entry in MIX])

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
        msisdn = _msisdn()
        rating_group, extra = next(self.mix)
        sid = session_avp(
            f"{self.connection.identity.host};{int(time.time())};{next(self.sessions)}"
        )
        build = partial(self.builder.build, sid, rating_group=rating_group, extra=extra)
        if not self._send("CCR-I", build(1, 0, subscriber=subscriber_avp(msisdn))):
            return
        number = 1
        for _ in range(UPDATES):
            body = build(2, number, used_octets=USED_OCTETS)
            number += 1
            if not self._send("CCR-U", body):
                break
        self._send("CCR-T", build(3, number, used_octets=USED_OCTETS, requested=False))


def _mix_entry(entry: str) -> tuple[int, bytes]:
    """``"100"`` or ``"100@20801"``: a rating group and the Service-Information to send."""
    rating_group, _, visited = entry.partition("@")
    return int(rating_group), service_information_avp(visited) if visited else b""


def _msisdn() -> str:
    return str(FIRST_MSISDN + next(_subscribers) % SUBSCRIBERS)


def _report(name: str, started: float, length: int, exception: Exception | None) -> None:
    events.request.fire(
        request_type="gRPC",
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=exception,
        context={},
    )


def _call(
    name: str,
    method: grpc.UnaryUnaryMultiCallable,
    request: object,
    metadata: object,
    check: Callable[[Any], str] | None = None,
) -> Any:
    """One unary call reported to Locust; the response, or None when it failed.

    ``check`` turns a response into a failure reason ("" when it is a success)."""
    started = time.perf_counter()
    try:
        response = method(request, metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        _report(name, started, 0, RuntimeError(f"{exc.code().name}: {exc.details()}"))
        return None
    problem = check(response) if check else ""
    _report(name, started, response.ByteSize(), RuntimeError(problem) if problem else None)
    return None if problem else response


def _charged(response: credit_control_pb2.SessionResponse) -> str:
    codes = [response.result_code, *(item.result_code for item in response.items)]
    if all(code == common_pb2.RESULT_CODE_SUCCESS for code in codes):
        return ""
    return f"result codes {codes}"


class GrpcGateway(User):
    """A network function charging data sessions over the gRPC CreditControl API."""

    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        if not TOKEN:
            raise RuntimeError("set OCS_LOAD_TOKEN (ocs token create --role network_function)")
        self.channel = grpc.insecure_channel(GRPC_TARGET)
        self.stub = credit_control_pb2_grpc.CreditControlStub(self.channel)
        self.metadata = (("authorization", f"Bearer {TOKEN}"),)
        self.prefix = f"locust-grpc-{next(_users)};{int(time.time())}"
        self.sessions = itertools.count()

    def on_stop(self) -> None:
        self.channel.close()

    def _step(self, name: str, request: credit_control_pb2.SessionRequest) -> bool:
        method = getattr(self.stub, name)
        return _call(name, method, request, self.metadata, _charged) is not None

    @task
    def data_session(self) -> None:
        sid = f"{self.prefix};{next(self.sessions)}"
        used = common_pb2.ServiceUnits(total_octets=USED_OCTETS)

        def item(final: bool = False) -> credit_control_pb2.UsageItem:
            requested = None if final else common_pb2.ServiceUnits()
            return credit_control_pb2.UsageItem(rating_group=100, requested=requested, used=[used])

        first = credit_control_pb2.SessionRequest(
            session_id=sid,
            subscriber=common_pb2.SubscriberRef(msisdn=_msisdn()),
            items=[
                credit_control_pb2.UsageItem(rating_group=100, requested=common_pb2.ServiceUnits())
            ],
        )
        if not self._step("Initial", first):
            return
        number = 1
        for _ in range(UPDATES):
            update = credit_control_pb2.SessionRequest(
                session_id=sid, request_number=number, items=[item()]
            )
            number += 1
            if not self._step("Update", update):
                break
        last = credit_control_pb2.SessionRequest(
            session_id=sid, request_number=number, items=[item(final=True)]
        )
        self._step("Terminate", last)


NCHF_BASE = "/nchf-convergedcharging/v3/chargingdata"


class ChfConsumer(User):
    """A 5G SMF charging PDU sessions over Nchf_ConvergedCharging (HTTP/2, h2c)."""

    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        # gevent makes httpx's sockets cooperative; HTTP/2 with prior knowledge, no HTTP/1.1
        self.client = httpx.Client(base_url=NCHF_ROOT, http1=False, http2=True, timeout=10)
        self.consumer = f"locust-smf-{next(_users)}-{int(time.time())}"
        self.charging_ids = itertools.count(1)

    def on_stop(self) -> None:
        self.client.close()

    def _body(self, sequence: int, units: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "nfConsumerIdentification": {"nodeFunctionality": "SMF", "nFName": self.consumer},
            "invocationTimeStamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "invocationSequenceNumber": sequence,
            "multipleUnitUsage": [{"ratingGroup": 100, **units}],
            **extra,
        }

    def _send(self, name: str, path: str, body: dict[str, Any]) -> httpx.Response | None:
        started = time.perf_counter()
        exception: Exception | None = None
        response = None
        try:
            response = self.client.post(path, json=body)
            if not response.is_success:
                exception = RuntimeError(f"status {response.status_code}: {response.text[:200]}")
            elif response.content:
                codes = [
                    u["resultCode"] for u in response.json().get("multipleUnitInformation", [])
                ]
                if any(code != "SUCCESS" for code in codes):
                    exception = RuntimeError(f"rating group results {codes}")
        except httpx.HTTPError as exc:
            exception = exc
        events.request.fire(
            request_type="Nchf",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(response.content) if response is not None else 0,
            exception=exception,
            context={},
        )
        return response if exception is None else None

    @task
    def pdu_session(self) -> None:
        used = {"usedUnitContainer": [{"localSequenceNumber": 1, "totalVolume": USED_OCTETS}]}
        created = self._send(
            "create",
            NCHF_BASE,
            self._body(
                0,
                {"requestedUnit": {}},
                subscriberIdentifier=f"msisdn-{_msisdn()}",
                pDUSessionChargingInformation={"chargingId": next(self.charging_ids)},
            ),
        )
        if created is None:
            return
        resource = NCHF_BASE + "/" + created.headers["location"].rsplit("/", 1)[1]
        sequence = 1
        for _ in range(UPDATES):
            body = self._body(sequence, {"requestedUnit": {}, **used})
            sequence += 1
            if self._send("update", resource + "/update", body) is None:
                break
        self._send("release", resource + "/release", self._body(sequence, used))


class SelfCareApp(User):
    """A self-care app: balance and usage reads, now and then a top-up."""

    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        if not CARE_TOKEN:
            raise RuntimeError("set OCS_LOAD_CARE_TOKEN (ocs token create --role care)")
        self.channel = grpc.insecure_channel(GRPC_TARGET)
        self.stub = balance_pb2_grpc.BalanceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {CARE_TOKEN}"),)
        self.payments = itertools.count()
        self.prefix = f"locust-{next(_users)}-{int(time.time())}"

    def on_stop(self) -> None:
        self.channel.close()

    def _account(self) -> balance_pb2.AccountSelector:
        return balance_pb2.AccountSelector(subscriber=common_pb2.SubscriberRef(msisdn=_msisdn()))

    @task(10)
    def balance(self) -> None:
        _call("GetBalance", self.stub.GetBalance, self._account(), self.metadata)

    @task(3)
    def usage(self) -> None:
        request = balance_pb2.ListUsageRequest(account=self._account(), page_size=20)
        _call("ListUsage", self.stub.ListUsage, request, self.metadata)

    @task(1)
    def top_up(self) -> None:
        request = balance_pb2.TopUpRequest(
            account=self._account(),
            payment_id=f"{self.prefix}-{next(self.payments)}",
            amount_minor=500,
        )
        _call("TopUp", self.stub.TopUp, request, self.metadata)


def _succeeded(response: credit_control_pb2.EventResponse) -> str:
    if response.result_code == common_pb2.RESULT_CODE_SUCCESS:
        return ""
    return f"result code {response.result_code}: {response.error_message}"


class MoneyMix(User):
    """Money moved other than by sessions: CC-Money debits (EUR 0.01-0.99), refunds of part of
    an earlier debit naming it, and offer purchases; what a billing run must reconcile."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        if not TOKEN or not ADMIN_TOKEN:
            raise RuntimeError("set OCS_LOAD_TOKEN and OCS_LOAD_ADMIN_TOKEN (ocs token create)")
        self.channel = grpc.insecure_channel(GRPC_TARGET)
        self.cc = credit_control_pb2_grpc.CreditControlStub(self.channel)
        self.admin = admin_pb2_grpc.AdminStub(self.channel)
        self.nf = (("authorization", f"Bearer {TOKEN}"),)
        self.operator = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
        self.prefix = f"locust-money-{next(_users)}-{int(time.time())}"
        self.numbers = itertools.count()
        self.debits: list[tuple[str, str, int]] = []  # (msisdn, refund reference, cents)

    def on_stop(self) -> None:
        self.channel.close()

    def _event(
        self, name: str, msisdn: str, action: int, cents: int, reference: str = ""
    ) -> credit_control_pb2.EventResponse | None:
        request = credit_control_pb2.EventRequest(
            session_id=f"{self.prefix};{next(self.numbers)}",
            subscriber=common_pb2.SubscriberRef(msisdn=msisdn),
            service_context_id="32274@3gpp.org",
            action=action,  # type: ignore[arg-type]
            item=credit_control_pb2.UsageItem(
                rating_group=300, requested=common_pb2.ServiceUnits(money_minor=cents)
            ),
            refund_reference=reference,
        )
        response: credit_control_pb2.EventResponse | None = _call(
            name, self.cc.Event, request, self.nf, _succeeded
        )
        return response

    @task(6)
    def debit(self) -> None:
        msisdn, cents = _msisdn(), 1 + next(self.numbers) % 99
        response = self._event(
            "Debit", msisdn, credit_control_pb2.REQUESTED_ACTION_DIRECT_DEBITING, cents
        )
        if response is not None and response.refund_reference:
            self.debits.append((msisdn, response.refund_reference, cents))

    @task(2)
    def refund(self) -> None:
        if not self.debits:
            return
        msisdn, reference, cents = self.debits.pop(0)
        self._event(
            "Refund",
            msisdn,
            credit_control_pb2.REQUESTED_ACTION_REFUND_ACCOUNT,
            max(1, cents // 2),
            reference,
        )

    @task(1)
    def purchase(self) -> None:
        offer = OFFERS[next(self.numbers) % len(OFFERS)]
        request = admin_pb2.PurchaseOfferRequest(
            order_id=f"{self.prefix}-{next(self.numbers)}",
            subscriber=common_pb2.SubscriberRef(msisdn=_msisdn()),
            offer_id=offer,
        )

        def completed(order: admin_pb2.Order) -> str:
            if order.state == admin_pb2.ORDER_STATE_COMPLETED:
                return ""
            if "no credit" in order.failure:  # a subscriber who spent everything: not an error
                return ""
            return f"order {order.state}: {order.failure}"

        _call("PurchaseOffer", self.admin.PurchaseOffer, request, self.operator, completed)
