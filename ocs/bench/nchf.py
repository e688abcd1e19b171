"""``ocs bench --protocol nchf``: the same sessions as the Diameter bench, over Nchf.

A lean HTTP/2 client on the sans-I/O ``h2`` package (h2c with prior knowledge), one asyncio
Protocol per connection, answers matched by stream id and delivered to callbacks; bodies
are built from a template per session (the JSON an SMF sends: nfConsumerIdentification,
invocationTimeStamp, invocationSequenceNumber, multipleUnitUsage with rating group 100).
Each subscriber runs sessions back to back: create (quota for rating group 100),
``updates`` updates each reporting ``used_octets``, a release reporting the last usage;
every report answered 2xx is counted at its price, so the parent checks balances exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from ocs.bench.plan import REQUEST_TIMEOUT, WorkerPlan, WorkerResult, _Flags
from ocs.bench.stats import Stats
from ocs.tasks import cancel_and_wait

BASE = "/nchf-convergedcharging/v3/chargingdata"
Callback = Callable[[int, bytes, str], None]
"""(status, body, location); status 0: lost or timed out."""

_CONFIG = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")


class NchfConnection(asyncio.Protocol):
    def __init__(self, authority: str) -> None:
        self.authority = authority
        self.loop = asyncio.get_running_loop()
        self.conn = h2.connection.H2Connection(_CONFIG)
        self.transport: asyncio.Transport | None = None
        self.callbacks: dict[int, Callback] = {}
        self.sent_at: dict[int, float] = {}
        self.responses: dict[int, tuple[int, list[bytes], str]] = {}
        self.queued: list[tuple[str, bytes, Callback]] = []
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self._flush_scheduled = False

    @classmethod
    async def connect(cls, host: str, port: int) -> NchfConnection:
        _, connection = await asyncio.get_running_loop().create_connection(
            lambda: cls(f"{host}:{port}"), host, port
        )
        await asyncio.wait_for(connection.opened, 10)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            assert self.transport is not None
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RemoteSettingsChanged):
                if not self.opened.done():
                    self.opened.set_result(None)
            elif isinstance(event, h2.events.ResponseReceived):
                status, location = 0, ""
                for name, value in event.headers:
                    if name == ":status":
                        status = int(value)
                    elif name == "location":
                        location = str(value)  # str: the configuration decodes headers
                self.responses[event.stream_id] = (status, [], location)
            elif isinstance(event, h2.events.DataReceived):
                response = self.responses.get(event.stream_id)
                if response is not None:
                    response[1].append(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._finish(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.responses.pop(event.stream_id, None)
                self.sent_at.pop(event.stream_id, None)
                callback = self.callbacks.pop(event.stream_id, None)
                if callback is not None:
                    callback(0, b"", "")
        self._drain_queue()
        self._schedule_flush()

    def _finish(self, stream_id: int) -> None:
        status, chunks, location = self.responses.pop(stream_id, (0, [], ""))
        self.sent_at.pop(stream_id, None)
        callback = self.callbacks.pop(stream_id, None)
        if callback is not None:
            callback(status, b"".join(chunks), location)

    def connection_lost(self, exc: Exception | None) -> None:
        callbacks = list(self.callbacks.values()) + [c for _, _, c in self.queued]
        self.callbacks.clear()
        self.queued.clear()
        for callback in callbacks:
            callback(0, b"", "")
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before SETTINGS"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, path: str, body: bytes, callback: Callback) -> None:
        """POST ``body`` (JSON) to ``path``; ``callback`` gets the answer."""
        if self.transport is None or self.transport.is_closing():
            callback(0, b"", "")
            return
        if self.conn.open_outbound_streams >= self.conn.remote_settings.max_concurrent_streams:
            self.queued.append((path, body, callback))
            return
        self._open(path, body, callback)
        self._schedule_flush()

    def _open(self, path: str, body: bytes, callback: Callback) -> None:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream_id,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", self.authority),
                (":path", path),
                ("content-type", "application/json"),
                ("content-length", str(len(body))),
            ],
        )
        self.conn.send_data(stream_id, body, end_stream=True)
        self.callbacks[stream_id] = callback
        self.sent_at[stream_id] = self.loop.time()

    def _drain_queue(self) -> None:
        limit = self.conn.remote_settings.max_concurrent_streams
        while self.queued and self.conn.open_outbound_streams < limit:
            self._open(*self.queued.pop(0))

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        """One write for every frame queued during a loop iteration."""
        self._flush_scheduled = False
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def expire(self, timeout: float) -> None:
        limit = self.loop.time() - timeout
        for stream_id in [s for s, sent in self.sent_at.items() if sent < limit]:
            del self.sent_at[stream_id]
            self.responses.pop(stream_id, None)
            callback = self.callbacks.pop(stream_id, None)
            if callback is not None:
                callback(0, b"", "")

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.conn.close_connection()
            self.transport.write(self.conn.data_to_send())
            self.transport.close()


class Bodies:
    """ChargingDataRequest bodies of one session, from one template (only the sequence
    number and the timestamp change from request to request)."""

    def __init__(self, msisdn: str, consumer: str, used_octets: int) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        common: dict[str, Any] = {
            "nfConsumerIdentification": {"nodeFunctionality": "SMF", "nFName": consumer},
            "invocationTimeStamp": stamp,
        }
        used = {"localSequenceNumber": 1, "totalVolume": used_octets}
        self.create = json.dumps(
            {
                **common,
                "invocationSequenceNumber": 0,
                "subscriberIdentifier": f"msisdn-{msisdn}",
                "multipleUnitUsage": [{"ratingGroup": 100, "requestedUnit": {}}],
                "pDUSessionChargingInformation": {
                    "chargingId": 1,
                    "pduSessionInformation": {
                        "pduSessionID": 1,
                        "dnnId": "internet",
                        "ratType": "NR",
                        "servingCNPlmnId": {"mcc": "001", "mnc": "01"},
                    },
                },
            },
            separators=(",", ":"),
        )
        update = {
            **common,
            "invocationSequenceNumber": "SEQ",
            "multipleUnitUsage": [
                {"ratingGroup": 100, "requestedUnit": {}, "usedUnitContainer": [used]}
            ],
        }
        release = {
            **common,
            "invocationSequenceNumber": "SEQ",
            "multipleUnitUsage": [{"ratingGroup": 100, "usedUnitContainer": [used]}],
        }
        self.update = json.dumps(update, separators=(",", ":")).split('"SEQ"')
        self.release = json.dumps(release, separators=(",", ":")).split('"SEQ"')

    def created(self, session: int) -> bytes:
        # the session number in chargingId makes each create (and so its resource) distinct
        return self.create.replace('"chargingId":1', f'"chargingId":{session}', 1).encode()

    def updated(self, sequence: int) -> bytes:
        return str(sequence).join(self.update).encode()

    def released(self, sequence: int) -> bytes:
        return str(sequence).join(self.release).encode()


class NchfSession:
    """One subscriber's sessions, back to back, driven by answer callbacks."""

    __slots__ = (
        "bodies",
        "connection",
        "kind",
        "msisdn",
        "path",
        "sent",
        "sequence",
        "updates_left",
        "worker",
    )

    def __init__(
        self, worker: NchfWorker, msisdn: str, connection: NchfConnection, bodies: Bodies
    ) -> None:
        self.worker, self.msisdn = worker, msisdn
        self.connection, self.bodies = connection, bodies
        self.kind = "create"
        self.path = ""
        self.sequence = 0
        self.updates_left = 0
        self.sent = 0.0

    def start(self) -> None:
        worker = self.worker
        if worker.flags.stopping:
            worker.finished()
            return
        self.kind, self.sequence, self.updates_left = "create", 0, worker.plan.updates
        self.send(BASE, self.bodies.created(next(worker.session_numbers)))

    def send(self, path: str, body: bytes) -> None:
        self.worker.send(self, path, body)

    def on_answer(self, status: int, body: bytes, location: str) -> None:
        worker = self.worker
        if status == 0:  # lost or timed out: outcome unknown
            worker.unverifiable.add(self.msisdn)
            worker.stats.errors["no answer"] += 1
            if not self.connection.closed.done():
                self.start()
            else:
                worker.finished()
            return
        if worker.flags.measuring:
            worker.stats.record(self.kind, str(status), (time.perf_counter() - self.sent) * 1e6)
        ok = status in (200, 201, 204) and b"QUOTA_LIMIT_REACHED" not in body
        plan = worker.plan
        if self.kind == "create":
            if not ok:
                worker.stats.errors[f"create {status}"] += 1
                asyncio.get_running_loop().call_later(0.01, self.start)
                return
            self.path = BASE + location[location.rindex("/") :]
        elif self.kind == "update":
            if ok:
                worker.expected[self.msisdn] += plan.cost_per_report
            else:
                worker.unverifiable.add(self.msisdn)
                worker.stats.errors[f"update {status}"] += 1
                self.updates_left = 0
        else:
            if ok:
                worker.expected[self.msisdn] += plan.cost_per_report
                worker.sessions += 1
            else:
                worker.unverifiable.add(self.msisdn)
                worker.stats.errors[f"release {status}"] += 1
            self.start()
            return
        self.sequence += 1
        if self.updates_left:
            self.updates_left -= 1
            self.kind = "update"
            self.send(self.path + "/update", self.bodies.updated(self.sequence))
        else:
            self.kind = "release"
            self.send(self.path + "/release", self.bodies.released(self.sequence))


class NchfWorker:
    def __init__(self, plan: WorkerPlan, flags: _Flags) -> None:
        self.plan = plan
        self.flags = flags
        self.stats = Stats()
        self.expected: dict[str, int] = {m: 0 for m in plan.subscribers}
        self.unverifiable: set[str] = set()
        self.sessions = 0
        self.session_numbers = itertools.count(plan.index * 10**9 + int(time.time()) % 10**6)
        self.active = 0
        self.loop = asyncio.get_running_loop()
        self.interval = 1.0 / plan.rate if plan.rate > 0 else 0.0
        self.next_slot = 0.0
        self.all_finished: asyncio.Future[None] = self.loop.create_future()

    def send(self, session: NchfSession, path: str, body: bytes) -> None:
        """Send now, or at the next slot of the target rate (``--rate``)."""
        if self.interval:
            now = self.loop.time()
            self.next_slot = max(self.next_slot + self.interval, now - 0.1)
            if self.next_slot > now:
                self.loop.call_at(self.next_slot, self._send, session, path, body)
                return
        self._send(session, path, body)

    @staticmethod
    def _send(session: NchfSession, path: str, body: bytes) -> None:
        session.sent = time.perf_counter()
        session.connection.send(path, body, session.on_answer)

    def finished(self) -> None:
        self.active -= 1
        if self.active == 0 and not self.all_finished.done():
            self.all_finished.set_result(None)

    @staticmethod
    async def _expire(connections: list[NchfConnection]) -> None:
        while True:
            await asyncio.sleep(1.0)
            for connection in connections:
                connection.expire(REQUEST_TIMEOUT)

    async def run(self) -> WorkerResult:
        plan = self.plan
        connections = [
            await NchfConnection.connect(plan.host, plan.port) for _ in range(plan.connections)
        ]
        loop = asyncio.get_running_loop()
        poller = loop.create_task(self.flags.poll())
        expiry = loop.create_task(self._expire(connections))
        consumer = f"bench-smf-{plan.run_id}-{plan.index}"
        sessions = [
            NchfSession(
                self,
                msisdn,
                connections[n % len(connections)],
                Bodies(msisdn, consumer, plan.used_octets),
            )
            for n, msisdn in enumerate(plan.subscribers)
        ]
        self.active = len(sessions)
        for session in sessions:
            session.start()
        if sessions:
            await self.all_finished
        await cancel_and_wait([poller, expiry])
        for connection in connections:
            await connection.close()
        return WorkerResult(
            index=plan.index,
            stats=self.stats,
            expected={m: c for m, c in self.expected.items() if c},
            unverifiable=sorted(self.unverifiable),
            cpu_seconds=self.flags.cpu_stop - self.flags.cpu_start,
            sessions=self.sessions,
        )


__all__ = ["Bodies", "NchfConnection", "NchfWorker"]
