"""Prometheus metrics: the ``/metrics`` endpoint and the ``ocs_build_info`` metric.

Metric names follow ``ocs_<subsystem>_<name>``; each subsystem defines its own
metrics next to its code. The endpoint serves the default registry, which also
carries the process collector (CPU, memory, file descriptors).
"""

from __future__ import annotations

import asyncio
import logging
import platform
from typing import Any

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Info, start_http_server

from ocs import __version__
from ocs.config import split_listen
from ocs.errors import StartupError

log = logging.getLogger("ocs.metrics")

BUILD_INFO = Info("ocs_build", "Version of ocs and of its runtime.")
BUILD_INFO.info(
    {
        "version": __version__,
        "python": platform.python_version(),
        "redis_py": redis.__version__,
    }
)


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
