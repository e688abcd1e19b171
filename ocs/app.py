"""The server assembled in one place: which subsystems run, in which order.

Every subsystem has ``name``, ``async start()`` and ``async stop()``. They start
in the order they are added and stop in reverse; if one fails to start, the
ones already started are stopped again. SIGINT/SIGTERM begin a graceful
shutdown (each subsystem's ``stop`` stops accepting, drains and closes).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from pathlib import Path
from typing import Protocol

from ocs import __version__, tally
from ocs.api.server import GrpcServer
from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.balance.sweeper import Sweeper
from ocs.billing_bridge.service import BillingBridge
from ocs.charging.core import ChargingCore
from ocs.charging.operations import AccountOperations
from ocs.charging.profiles import Profiles
from ocs.charging.renewals import Renewals
from ocs.charging.signals import SessionSignals
from ocs.config import Config
from ocs.demo import DemoProvisioner
from ocs.diameter.server import DiameterServer
from ocs.embedded_redis import EmbeddedRedis
from ocs.errors import StartupError
from ocs.gy.application import GyApplication
from ocs.metrics import MetricsServer, multiprocess_registry
from ocs.nchf.app import NchfApplication
from ocs.nchf.nrf import NrfRegistration
from ocs.policy.catalog import Catalog, load_catalog
from ocs.portal.server import PortalServer
from ocs.redis_connection import RedisConnection
from ocs.tasks import cancel_and_wait
from ocs.workers import Workers, signal_ready

log = logging.getLogger("ocs.app")

STOP_TIMEOUT = 15.0


class Subsystem(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class App:
    """The running server: subsystems wired from a :class:`Config`."""

    def __init__(
        self,
        config: Config,
        catalog: Catalog | None = None,
        *,
        worker_index: int | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        # Loaded before anything starts: a catalog mistake is a config error (exit 2).
        self.catalog = catalog or load_catalog(config.catalog)
        self.subsystems: list[Subsystem] = []
        self._started: list[Subsystem] = []
        self.embedded_redis: EmbeddedRedis | None = None
        self.metrics: MetricsServer | None = None
        self.diameter: DiameterServer | None = None
        self.gy: GyApplication | None = None
        self.billing: BillingBridge | None = None
        self.workers: Workers | None = None
        self.worker_index = worker_index
        self.grpc: GrpcServer | None = None
        self.nchf: NchfApplication | None = None
        self.nrf: NrfRegistration | None = None
        self.portal: PortalServer | None = None

        if not config.redis.url and not config.redis.cluster_nodes:
            self.embedded_redis = EmbeddedRedis(
                config.state_dir, config.redis.server_binary, config.balance.durability
            )
            self.subsystems.append(self.embedded_redis)
        if config.workers > 1 and worker_index is None:
            self._build_master(config_path)
        else:
            self._build_server()

    def _build_master(self, config_path: Path | None) -> None:
        """``--workers N``: this process keeps the state dir and redis, serves the metrics of
        every process, and supervises the workers (see :mod:`ocs.workers`)."""
        config = self.config
        embedded = self.embedded_redis
        self.workers = Workers(
            config.workers,
            config_path,
            config.state_dir / "metrics",
            (lambda: embedded.url) if embedded is not None else None,
        )
        # the workers first: /metrics answers once every worker serves (ocs bench waits on it)
        self.subsystems.append(self.workers)
        if config.metrics.enabled:
            workers = self.workers
            registry = multiprocess_registry(
                workers.metrics_dir, lambda: workers.pids, lambda: workers.restarts
            )
            self.metrics = MetricsServer(config.metrics.listen, registry)
            self.subsystems.append(self.metrics)

    def _build_server(self) -> None:
        """The charging server: one process, or one worker of ``--workers``. The primary
        (the only process, or worker 0) also runs the sweeper, billing and demo provisioning."""
        config = self.config
        primary = self.worker_index in (None, 0)
        embedded = self.embedded_redis
        if embedded is not None:
            self.redis = RedisConnection(config.redis, url_source=lambda: embedded.url)
        else:
            self.redis = RedisConnection(config.redis)
        self.subsystems.append(self.redis)
        # Balance engine on the same Redis target (resolved at start: the embedded URL exists
        # only then), then its expiry sweeper.
        redis = self.redis
        self.balance = BalanceStore(
            lambda: RedisTarget.from_config(config.redis, url=redis.url, balance=config.balance),
            config.balance,
            config.redis.partitions,
            config.redis,
        )
        self.sweeper = Sweeper(self.balance, config.balance)
        self.subsystems.append(self.balance)
        if primary:
            self.subsystems.append(self.sweeper)
        if config.billing.enabled and primary:  # after the engine whose streams it consumes
            self.billing = BillingBridge(self.balance.engine, config.billing, config.state_dir)
            self.subsystems.append(self.billing)
        if config.metrics.enabled:
            self.metrics = MetricsServer(config.metrics.listen)
            self.subsystems.append(self.metrics)
        # Charging: the protocol-neutral core, session signals (RAR/ASR) and account operations.
        self.profiles = Profiles(self.balance, ttl=config.charging.profile_cache_ttl)
        self.charging = ChargingCore(
            self.catalog,
            self.balance,
            self.profiles,
            grace_ms=config.balance.reservation_grace_ms,
            unreferenced_refund_cap=config.charging.unreferenced_refund_cap,
        )
        self.signals = SessionSignals(self.balance)
        self.operations = AccountOperations(self.balance, self.signals, self.charging.clock)
        # Recurring fees at bill period starts, on the primary only (like the sweeper).
        self.renewals = Renewals(
            self.balance,
            self.catalog,
            lambda: self.charging.clock(),
            interval_ms=config.charging.renewal_interval_s * 1000,
            retry_ms=config.charging.renewal_retry_s * 1000,
        )
        if primary:
            self.subsystems.append(self.renewals)
        if config.demo.subscribers and primary:
            self.subsystems.append(DemoProvisioner(config.demo, self.catalog, self.balance))
        if config.diameter.enabled:
            # The Gy handler is registered before the server accepts; on shutdown the server
            # stops first (answers in-flight requests, DPR to peers), then redis after both.
            self.diameter = DiameterServer(config.diameter)
            self.gy = GyApplication(self.diameter, self.charging, self.signals, config.charging)
            self.subsystems += [self.gy, self.diameter]
        if config.nchf.enabled:
            # Nchf (5G CHF) over the same core and engine; on shutdown its server stops first
            # (requests in progress finish), before the engine and Redis. The primary alone
            # registers with the NRF (one NF instance, whatever the number of workers).
            self.nchf = NchfApplication(
                config.nchf,
                self.charging,
                self.balance,
                self.signals,
                config.charging,
                config.balance,
            )
            self.subsystems.append(self.nchf)
            if config.nchf.nrf_uri and primary:
                self.nrf = NrfRegistration(config.nchf, self.nchf.api_root)
                self.subsystems.append(self.nrf)
        if config.grpc.enabled:
            # gRPC APIs over the same core and engine; on shutdown they stop first (drain the
            # calls in progress, end the watchers), before the engine and Redis.
            grpc_config = config.grpc
            if not primary:  # the demo tokens are logged once, by the primary
                grpc_config = grpc_config.model_copy(update={"demo_tokens": False})
            self.grpc = GrpcServer(
                grpc_config,
                config.state_dir,
                core=self.charging,
                operations=self.operations,
                store=self.balance,
                catalog=self.catalog,
                redis=self.redis,
                demo=config.demo,
            )
            self.subsystems.append(self.grpc)
        if config.portal.enabled and self.grpc is not None:
            # TM Forum REST APIs and the portal over the gRPC services; stops before them
            self.portal = PortalServer(
                config,
                self.grpc,
                store=self.balance,
                catalog=self.catalog,
                operations=self.operations,
                clock=lambda: self.charging.clock(),
                primary=primary,
            )
            self.subsystems.append(self.portal)

    async def start(self) -> None:
        for subsystem in self.subsystems:
            try:
                await subsystem.start()
            except BaseException:
                await self.stop()
                raise
            self._started.append(subsystem)
        log.info(
            "ocs ready version=%s subsystems=%s",
            __version__,
            ",".join(s.name for s in self._started),
        )

    async def stop(self) -> None:
        while self._started:
            subsystem = self._started.pop()
            try:
                await asyncio.wait_for(subsystem.stop(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("stop timed out subsystem=%s timeout=%.0fs", subsystem.name, STOP_TIMEOUT)
            except Exception:
                log.exception("stop failed subsystem=%s", subsystem.name)

    async def run_until_signalled(self) -> None:
        """Start, serve until SIGINT/SIGTERM, then shut down gracefully."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _on_signal, signum, stopping)
        flushing: asyncio.Task[None] | None = None
        try:
            await self.start()
            _tune_gc()
            # hot-path metrics reach prometheus-client once a second (and at every scrape)
            flushing = asyncio.create_task(tally.flush_every(), name="metrics-flush")
            if self.worker_index is not None:
                signal_ready()
            await stopping.wait()
        finally:
            await self.stop()
            if flushing is not None:
                await cancel_and_wait([flushing])
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        log.info("ocs stopped")


def _tune_gc() -> None:
    """Once started: what start built (catalog, dictionaries, modules) lives as long as the
    process, so it leaves the cyclic collector's sight (``gc.freeze``), and the collector runs
    after 10,000 net container allocations instead of 700. A request allocates a few hundred
    short-lived containers and next to no cycles; with the defaults the collector took about a
    quarter of the server's CPU under load (py-spy --native, docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


def _on_signal(signum: int, stopping: asyncio.Event) -> None:
    log.info("shutting down signal=%s", signal.Signals(signum).name)
    stopping.set()


__all__ = ["App", "StartupError", "Subsystem"]
