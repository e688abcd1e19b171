"""One load-generator process: connections to ocs and sessions for its share of subscribers.

Each subscriber runs sessions back to back, one at a time: CCR-INITIAL (quota
for rating group 100), ``updates`` CCR-UPDATEs each reporting ``used_octets``
and asking for more, and a CCR-TERMINATION reporting the last usage. Latency is
recorded between the measure and stop signals of the parent; what each
subscriber must have been charged is counted for every report that was answered
2001, so the parent can check the balances to the cent.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import uvloop

from ocs.bench.client import BenchConnection, CcrBuilder, answer_codes, session_avp, subscriber_avp
from ocs.bench.stats import Stats

SUCCESS = 2001
REQUEST_TIMEOUT = 10.0


@dataclass
class WorkerPlan:
    index: int
    run_id: str
    host: str
    port: int
    connections: int
    subscribers: list[str]
    updates: int
    used_octets: int
    cost_per_report: int
    rate: float
    """Requests per second for this process; 0 = as fast as answers come."""


@dataclass
class WorkerResult:
    index: int
    stats: Stats
    expected: dict[str, int] = field(default_factory=dict)
    """Money each subscriber must have been charged (minor units)."""
    unverifiable: list[str] = field(default_factory=list)
    """Subscribers with a request whose outcome is unknown (timeout, error)."""
    cpu_seconds: float = 0.0
    """This process's CPU time inside the measurement window."""
    sessions: int = 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Flags:
    """The parent's multiprocessing events, polled into plain booleans (cheap to read)."""

    def __init__(self, measure: MpEvent, stop: MpEvent) -> None:
        self.measure_event, self.stop_event = measure, stop
        self.measuring = False
        self.stopping = False
        self.cpu_start = 0.0
        self.cpu_stop = 0.0

    async def poll(self) -> None:
        while not self.stopping:
            if not self.measuring and self.measure_event.is_set():
                self.cpu_start = _cpu()
                self.measuring = True
            if self.stop_event.is_set():
                self.cpu_stop = _cpu()
                self.measuring = False
                self.stopping = True
            await asyncio.sleep(0.02)


class _Pacer:
    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = time.perf_counter()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.perf_counter()
        self.next = max(self.next + self.interval, now - 0.1)
        if self.next > now:
            await asyncio.sleep(self.next - now)


class Worker:
    def __init__(self, plan: WorkerPlan, flags: _Flags) -> None:
        self.plan = plan
        self.flags = flags
        self.stats = Stats()
        self.expected: Counter[str] = Counter()
        self.unverifiable: set[str] = set()
        self.sessions = 0
        self.pacer = _Pacer(plan.rate)

    async def send(
        self, connection: BenchConnection, kind: str, body: bytes
    ) -> tuple[int | None, int | None, int | None]:
        await self.pacer.wait()
        started = time.perf_counter()
        answer = await connection.request(body)
        codes = answer_codes(answer)
        if self.flags.measuring:
            result = str(codes[1] if codes[0] == SUCCESS and codes[1] is not None else codes[0])
            self.stats.record(kind, result, (time.perf_counter() - started) * 1e6)
        return codes

    async def run_subscriber(
        self, number: int, msisdn: str, connection: BenchConnection, builder: CcrBuilder
    ) -> None:
        plan = self.plan
        subscriber = subscriber_avp(msisdn)
        cost = plan.cost_per_report
        sequence = 0
        while not self.flags.stopping:
            sid = session_avp(f"{connection.identity.host};{plan.run_id};{number};{sequence}")
            sequence += 1
            try:
                codes = await self.send(
                    connection, "INITIAL", builder.build(sid, 1, 0, subscriber=subscriber)
                )
                if codes[:2] != (SUCCESS, SUCCESS):
                    self.stats.errors[f"CCR-I {codes[0]}/{codes[1]}"] += 1
                    await asyncio.sleep(0.01)
                    continue
                number_in_session = 1
                for _ in range(plan.updates):
                    body = builder.build(sid, 2, number_in_session, used_octets=plan.used_octets)
                    codes = await self.send(connection, "UPDATE", body)
                    number_in_session += 1
                    if codes[0] != SUCCESS or codes[1] != SUCCESS:
                        self.unverifiable.add(msisdn)
                        self.stats.errors[f"CCR-U {codes[0]}/{codes[1]}"] += 1
                        break
                    self.expected[msisdn] += cost
                body = builder.build(
                    sid, 3, number_in_session, used_octets=plan.used_octets, requested=False
                )
                codes = await self.send(connection, "TERMINATE", body)
                if codes[0] != SUCCESS:
                    self.unverifiable.add(msisdn)
                    self.stats.errors[f"CCR-T {codes[0]}/{codes[1]}"] += 1
                else:
                    self.expected[msisdn] += cost
                self.sessions += 1
            except (TimeoutError, ConnectionError) as exc:
                self.unverifiable.add(msisdn)
                self.stats.errors[type(exc).__name__] += 1
                if isinstance(exc, ConnectionError):
                    return

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
        poller = asyncio.get_running_loop().create_task(self.flags.poll())
        expiry = asyncio.get_running_loop().create_task(self._expire(connections))
        await asyncio.gather(
            *(
                self.run_subscriber(
                    n, msisdn, connections[n % len(connections)], builders[n % len(builders)]
                )
                for n, msisdn in enumerate(plan.subscribers)
            )
        )
        for task in (poller, expiry):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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


def worker_main(plan: WorkerPlan, measure: MpEvent, stop: MpEvent, results: Any) -> None:
    """Entry point of a worker process: run, then put a WorkerResult on ``results``."""
    flags = _Flags(measure, stop)
    try:
        result = uvloop.run(Worker(plan, flags).run())
    except Exception as exc:  # reported to the parent, which fails the run
        results.put(("error", plan.index, f"{type(exc).__name__}: {exc}"))
        return
    results.put(("done", plan.index, result))
