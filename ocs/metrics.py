"""Prometheus metrics: the ``/metrics`` endpoint and the ``ocs_build_info`` metric.

Metric names follow ``ocs_<subsystem>_<name>``; each subsystem defines its own
metrics next to its code. The endpoint serves the default registry, which also
carries the process collector (CPU, memory, file descriptors).
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Info, multiprocess, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ocs import __version__
from ocs.config import split_listen
from ocs.errors import StartupError

log = logging.getLogger("ocs.metrics")

BUILD_LABELS = {
    "version": __version__,
    "python": platform.python_version(),
    "redis_py": redis.__version__,
}
BUILD_INFO = Info("ocs_build", "Version of ocs and of its runtime.")
BUILD_INFO.info(BUILD_LABELS)

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


class ServerCpu(Collector):
    """``ocs_server_cpu_seconds_total``: CPU of the server's processes (this one and, with
    ``--workers``, every worker), the embedded redis-server excluded. Benchmarks divide it
    by the requests answered."""

    def __init__(self, worker_pids: Callable[[], list[int]] = list) -> None:
        self.worker_pids = worker_pids

    def collect(self) -> Iterator[Metric]:
        pids = [os.getpid(), *self.worker_pids()]
        total = sum(process_cpu_seconds(pid) for pid in pids)
        yield CounterMetricFamily(
            "ocs_server_cpu_seconds",
            "CPU seconds used by the server's processes (redis-server not included).",
            value=total,
        )


class WorkerRestarts(Collector):
    """``ocs_workers_restarts_total``: workers the master restarted after they died
    (``--workers``; a single process has no master, its restarts show in
    ``process_start_time_seconds``)."""

    def __init__(self, restarts: Callable[[], int]) -> None:
        self.restarts = restarts

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "ocs_workers_restarts",
            "Worker processes restarted by the master after they died.",
            value=self.restarts(),
        )


class BuildInfo(Collector):
    """``ocs_build_info`` for a registry that cannot hold an Info metric (multiprocess)."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "ocs_build_info", "Version of ocs and of its runtime.", labels=list(BUILD_LABELS)
        )
        family.add_metric(list(BUILD_LABELS.values()), 1)
        yield family


def multiprocess_registry(
    directory: Path,
    worker_pids: Callable[[], list[int]],
    worker_restarts: Callable[[], int] = lambda: 0,
) -> CollectorRegistry:
    """The master's registry: every worker's metrics summed, plus build info, server CPU and
    worker restarts."""
    registry = CollectorRegistry()
    directory.mkdir(parents=True, exist_ok=True)
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    registry.register(BuildInfo())
    registry.register(ServerCpu(worker_pids))
    registry.register(WorkerRestarts(worker_restarts))
    return registry


REGISTRY.register(ServerCpu())
# A single process has no master to restart it (its own restarts show in
# process_start_time_seconds); the master of --workers registers the real count.
REGISTRY.register(WorkerRestarts(lambda: 0))


class MetricsServer:
    """Subsystem: serve ``/metrics`` over HTTP on the configured address."""

    name = "metrics"

    def __init__(self, listen: str, registry: CollectorRegistry = REGISTRY) -> None:
        self.host, self.port = split_listen(listen)
        self.registry = registry
        self._server: Any = None
        self._thread: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def start(self) -> None:
        try:
            self._server, self._thread = start_http_server(self.port, self.host, self.registry)
        except OSError as exc:
            raise StartupError(
                f"metrics: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self.port = self._server.server_port
        log.info("listening address=%s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            # shutdown() blocks until the serving thread notices (up to 0.5 s).
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None
