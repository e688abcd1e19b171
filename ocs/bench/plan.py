"""What a load-generator process is told (its plan), what it reports back (its result), and
the parent's start/stop signals as it reads them: shared by the Diameter worker
(:mod:`ocs.bench.workload`) and the Nchf one (:mod:`ocs.bench.nchf`)."""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent

from ocs.bench.stats import Stats

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
    protocol: str = "diameter"
    """``diameter`` (Gy CCRs) or ``nchf`` (Nchf_ConvergedCharging over HTTP/2)."""
    events_every: int = 0
    """Every n-th session of a subscriber is a CCR-EVENT (an SMS) instead; 0: none."""
    cost_per_event: int = 0


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
