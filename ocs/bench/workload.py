"""One load-generator process: connections to ocs and sessions for its share of subscribers.

Each subscriber runs sessions back to back, one at a time, each with a fresh
Session-Id: CCR-INITIAL (quota for rating group 100), ``updates`` CCR-UPDATEs
each reporting ``used_octets`` and asking for more, and a CCR-TERMINATION
reporting the last usage; with ``events_every`` n, every n-th "session" is a
CCR-EVENT instead (an SMS, direct debiting). Latency is
recorded between the measure and stop signals of the parent; what each
subscriber must have been charged is counted for every report that was answered
2001, so the parent can check the balances to the cent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import uvloop

from ocs.bench.client import (
    BenchConnection,
    CcrBuilder,
    EventBuilder,
    answer_codes,
    session_avp,
    subscriber_avp,
)
from ocs.bench.plan import REQUEST_TIMEOUT, WorkerPlan, WorkerResult, _Flags
from ocs.bench.stats import Stats
from ocs.tasks import cancel_and_wait

SUCCESS = 2001


class Session:
    """One subscriber's sessions, back to back, driven by answer callbacks (no task).

    CCR-I, then ``updates`` CCR-Us reporting ``used_octets``, then a CCR-T; each
    answer sends the next request from inside the connection's read callback."""

    __slots__ = (
        "builder",
        "connection",
        "events",
        "kind",
        "msisdn",
        "next_number",
        "number",
        "sent",
        "sequence",
        "sid",
        "subscriber",
        "updates_left",
        "worker",
    )

    def __init__(
        self,
        worker: Worker,
        number: int,
        msisdn: str,
        connection: BenchConnection,
        builder: CcrBuilder,
        events: EventBuilder,
    ) -> None:
        self.worker, self.number, self.msisdn = worker, number, msisdn
        self.connection, self.builder, self.events = connection, builder, events
        self.subscriber = subscriber_avp(msisdn)
        self.sequence = 0
        self.sid = b""
        self.kind = "INITIAL"
        self.next_number = 0
        self.updates_left = 0
        self.sent = 0.0

    def start(self) -> None:
        worker = self.worker
        if worker.flags.stopping:
            worker.finished(self)
            return
        plan = worker.plan
        self.sid = session_avp(
            f"{self.connection.identity.host};{plan.run_id};{self.number};{self.sequence}"
        )
        self.sequence += 1
        every = plan.events_every
        if every and self.sequence % every == 0:
            self.kind = "EVENT"
            worker.send(self, self.events.build(self.sid, self.subscriber))
            return
        self.kind, self.next_number, self.updates_left = "INITIAL", 1, plan.updates
        worker.send(self, self.builder.build(self.sid, 1, 0, subscriber=self.subscriber))

    def on_answer(self, answer: bytes | None) -> None:
        worker = self.worker
        if answer is None:  # lost connection or no answer in time: outcome unknown
            worker.unverifiable.add(self.msisdn)
            worker.stats.errors["no answer"] += 1
            if not self.connection.closed.done():
                self.start()
            else:
                worker.finished(self)
            return
        codes = answer_codes(answer)
        ok = codes[0] == SUCCESS and codes[1] in (SUCCESS, None)
        if worker.flags.measuring:
            result = str(codes[1] if codes[0] == SUCCESS and codes[1] is not None else codes[0])
            worker.stats.record(self.kind, result, (time.perf_counter() - self.sent) * 1e6)
        plan = worker.plan
        if self.kind == "EVENT":
            if ok:
                worker.expected[self.msisdn] += plan.cost_per_event
            else:
                worker.unverifiable.add(self.msisdn)
                worker.stats.errors[f"CCR-E {codes[0]}/{codes[1]}"] += 1
            self.start()
            return
        if self.kind == "INITIAL":
            if not ok:
                worker.stats.errors[f"CCR-I {codes[0]}/{codes[1]}"] += 1
                asyncio.get_running_loop().call_later(0.01, self.start)
                return
        elif self.kind == "UPDATE":
            if ok:
                worker.expected[self.msisdn] += plan.cost_per_report
            else:
                worker.unverifiable.add(self.msisdn)
                worker.stats.errors[f"CCR-U {codes[0]}/{codes[1]}"] += 1
                self.updates_left = 0
        else:  # TERMINATE
            if ok:
                worker.expected[self.msisdn] += plan.cost_per_report
                worker.sessions += 1
            else:
                worker.unverifiable.add(self.msisdn)
                worker.stats.errors[f"CCR-T {codes[0]}/{codes[1]}"] += 1
            self.start()
            return
        number = self.next_number
        self.next_number += 1
        if self.updates_left:
            self.updates_left -= 1
            self.kind = "UPDATE"
            body = self.builder.build(self.sid, 2, number, used_octets=plan.used_octets)
        else:
            self.kind = "TERMINATE"
            body = self.builder.build(
                self.sid, 3, number, used_octets=plan.used_octets, requested=False
            )
        worker.send(self, body)


class Worker:
    def __init__(self, plan: WorkerPlan, flags: _Flags) -> None:
        self.plan = plan
        self.flags = flags
        self.stats = Stats()
        self.expected: Counter[str] = Counter()
        self.unverifiable: set[str] = set()
        self.sessions = 0
        self.interval = 1.0 / plan.rate if plan.rate > 0 else 0.0
        self.next_slot = 0.0
        self.active = 0
        self.loop = asyncio.get_running_loop()
        self.all_finished: asyncio.Future[None] = self.loop.create_future()

    def send(self, session: Session, body: bytes) -> None:
        """Send now, or at the next slot of the target rate."""
        if self.interval:
            now = self.loop.time()
            self.next_slot = max(self.next_slot + self.interval, now - 0.1)
            if self.next_slot > now:
                self.loop.call_at(self.next_slot, self._send, session, body)
                return
        self._send(session, body)

    @staticmethod
    def _send(session: Session, body: bytes) -> None:
        session.sent = time.perf_counter()
        session.connection.send(body, session.on_answer)

    def finished(self, session: Session) -> None:
        self.active -= 1
        if self.active == 0 and not self.all_finished.done():
            self.all_finished.set_result(None)

    @staticmethod
    async def _expire(connections: list[BenchConnection]) -> None:
        while True:
            await asyncio.sleep(1.0)
            for connection in connections:
                connection.expire(REQUEST_TIMEOUT)

    async def run(self) -> WorkerResult:
        plan = self.plan
        connections = [
            await BenchConnection.connect(
                plan.host, plan.port, f"bench-{plan.run_id}-{plan.index}-{c}.bench.local"
            )
            for c in range(plan.connections)
        ]
        builders = [CcrBuilder(connection.identity) for connection in connections]
        events = [EventBuilder(connection.identity) for connection in connections]
        poller = self.loop.create_task(self.flags.poll())
        expiry = self.loop.create_task(self._expire(connections))
        sessions = [
            Session(
                self,
                n,
                msisdn,
                connections[n % len(connections)],
                builders[n % len(builders)],
                events[n % len(events)],
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
            expected=dict(self.expected),
            unverifiable=sorted(self.unverifiable),
            cpu_seconds=self.flags.cpu_stop - self.flags.cpu_start,
            sessions=self.sessions,
        )


async def _run(plan: WorkerPlan, flags: _Flags) -> WorkerResult:
    if plan.protocol == "nchf":
        from ocs.bench.nchf import NchfWorker  # only when asked: it needs h2

        return await NchfWorker(plan, flags).run()
    return await Worker(plan, flags).run()


def worker_main(plan: WorkerPlan, measure: MpEvent, stop: MpEvent, results: Any) -> None:
    """Entry point of a worker process: run, then put a WorkerResult on ``results``."""
    flags = _Flags(measure, stop)
    try:
        result = uvloop.run(_run(plan, flags))
    except Exception as exc:  # reported to the parent, which fails the run
        results.put(("error", plan.index, f"{type(exc).__name__}: {exc}"))
        return
    results.put(("done", plan.index, result))
