"""The gRPC server subsystem: CreditControl, Balance and Admin, health checking, reflection.

``start`` loads (or, when ``grpc.token_key_file`` is empty, creates under the state dir) the
token key, binds ``listen`` (TLS when ``tls_cert``/``tls_key`` are set) and, if configured,
``mtls_listen`` (client certificates signed by ``tls_client_ca`` required), and marks every
service SERVING in ``grpc.health.v1``; while the balance store is unreachable (its health
monitor, :mod:`ocs.balance.health`) every service is NOT_SERVING, so a load balancer sends the
calls elsewhere, and SERVING again once it is back. ``stop`` marks them NOT_SERVING, ends the
balance watchers, lets calls in progress finish for ``drain_timeout`` seconds and cancels the
rest. In the app it stops before the balance engine and Redis.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ocs.api.admin import SERVICE as ADMIN_SERVICE
from ocs.api.admin import AdminService
from ocs.api.auth import (
    Revocations,
    Role,
    TokenKeyError,
    Tokens,
    load_or_create_key,
    resolve_key_path,
    resolve_revocation_path,
)
from ocs.api.balance import SERVICE as BALANCE_SERVICE
from ocs.api.balance import BalanceService
from ocs.api.care import SERVICE as CARE_SERVICE
from ocs.api.care import CareService
from ocs.api.credit_control import SERVICE as CREDIT_CONTROL_SERVICE
from ocs.api.credit_control import CreditControlService
from ocs.api.orders import Orders
from ocs.api.rpc import Dispatcher
from ocs.api.usage import StreamUsageHistory
from ocs.api.watch import WatchHub
from ocs.balance.store import BalanceStore
from ocs.charging.core import ChargingCore
from ocs.charging.operations import AccountOperations
from ocs.config import DemoConfig, GrpcConfig, split_listen
from ocs.errors import StartupError
from ocs.policy.catalog import Catalog
from ocs.redis_connection import RedisConnection

log = logging.getLogger("ocs.api")

DEMO_TOKEN_TTL_S = 7 * 86400
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class GrpcServer:
    name = "grpc"

    def __init__(
        self,
        config: GrpcConfig,
        state_dir: Path,
        *,
        core: ChargingCore,
        operations: AccountOperations,
        store: BalanceStore,
        catalog: Catalog,
        redis: RedisConnection,
        demo: DemoConfig | None = None,
    ) -> None:
        self.config = config
        self.key_path = resolve_key_path(config.token_key_file, state_dir)
        self.revocation_path = resolve_revocation_path(config.token_revocation_file, state_dir)
        self.demo = demo
        self.tokens: Tokens | None = None
        self.dispatcher = Dispatcher(
            self._tokens,
            max_concurrent_rpcs=config.max_concurrent_rpcs,
            max_streams=config.max_streams,
            max_watchers=config.max_watchers,
            network_function_mtls=config.network_function_mtls,
        )
        self.usage = StreamUsageHistory(store, catalog)
        self.watch = WatchHub(store, redis, config.watch_queue)
        self.orders = Orders(
            store,
            catalog,
            operations,
            clock=lambda: core.clock(),
            invalidate=core.profiles.invalidate,
        )
        self.credit_control = CreditControlService(core, store, catalog, config.stream_window)
        self.balance = BalanceService(store, catalog, operations, self.usage, self.watch, core)
        self.admin = AdminService(store, catalog, operations, self.orders, self.usage, core)
        self.care = CareService()  # the portal subsystem gives it the BSS services at start
        self.health = health.aio.HealthServicer()
        self._health_names: list[str] = []
        self._store = store
        store.health.subscribe(self._balance_health)
        self.server: grpc.aio.Server | None = None
        self.listening: list[tuple[str, int]] = []
        self.mtls_listening: list[tuple[str, int]] = []

    def _tokens(self) -> Tokens:
        if self.tokens is None:
            raise RuntimeError("the gRPC server is not started")
        return self.tokens

    @property
    def port(self) -> int:
        return self.listening[0][1]

    async def start(self) -> None:
        try:
            key, created = load_or_create_key(self.key_path, create=not self.config.token_key_file)
        except (TokenKeyError, OSError) as exc:
            raise StartupError(f"grpc.token_key_file: {exc}") from exc
        if created:
            log.info(
                "token key created path=%s (share it with every instance behind one address)",
                self.key_path,
            )
        revocations = Revocations(self.revocation_path)
        self.tokens = Tokens(key, max_ttl_s=self.config.token_max_ttl_s, revocations=revocations)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        services = (
            (CREDIT_CONTROL_SERVICE, self.credit_control.methods()),
            (BALANCE_SERVICE, self.balance.methods()),
            (ADMIN_SERVICE, self.admin.methods()),
            (CARE_SERVICE, self.care.methods()),
        )
        server.add_generic_rpc_handlers(
            tuple(self.dispatcher.service_handler(d, m) for d, m in services)
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [d.full_name for d, _ in services]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        self.listening = [self._bind(server, self.config.listen, mutual=False)]
        if self.config.mtls_listen:
            self.mtls_listening = [self._bind(server, self.config.mtls_listen, mutual=True)]
        await server.start()
        self.server = server
        self._health_names = ["", *names]
        await self._balance_health(self._store.health.up)
        await self.watch.start()
        log.info(
            "grpc listening address=%s tls=%s mtls=%s services=%s",
            ",".join(f"{h}:{p}" for h, p in self.listening),
            bool(self.config.tls_cert),
            ",".join(f"{h}:{p}" for h, p in self.mtls_listening) or "-",
            ",".join(d.name for d, _ in services),
        )
        if self.config.demo_tokens:
            self._log_demo_tokens()

    async def _balance_health(self, up: bool) -> None:
        """Every service SERVING while the balance store answers, else NOT_SERVING."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if up
            else (health_pb2.HealthCheckResponse.NOT_SERVING)
        )
        if self.server is None:
            return
        for name in self._health_names:
            await self.health.set(name, status)

    def _bind(self, server: grpc.aio.Server, listen: str, *, mutual: bool) -> tuple[str, int]:
        host, _ = split_listen(listen)
        try:
            if self.config.tls_cert:
                port = server.add_secure_port(listen, self._credentials(mutual))
            else:
                port = server.add_insecure_port(listen)
        except RuntimeError as exc:
            raise StartupError(f"grpc: cannot listen on {listen}: {exc}") from exc
        if not port:
            raise StartupError(f"grpc: cannot listen on {listen}")
        return host, port

    def _credentials(self, mutual: bool) -> grpc.ServerCredentials:
        try:
            cert = Path(self.config.tls_cert).read_bytes()
            key = Path(self.config.tls_key).read_bytes()
            ca = Path(self.config.tls_client_ca).read_bytes() if mutual else None
        except OSError as exc:
            raise StartupError(
                f"grpc: cannot read TLS file {exc.filename}: {exc.strerror}"
            ) from exc
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=mutual
        )

    def _log_demo_tokens(self) -> None:
        tokens = self._tokens()
        admin = tokens.create(Role.ADMIN, "demo-admin", ttl_s=DEMO_TOKEN_TTL_S)
        log.info("demo token role=admin subject=demo-admin token=%s", admin)
        if self.demo is not None and self.demo.subscribers:
            account = f"demo-{self.demo.first_msisdn}"
            token = tokens.create(
                Role.SUBSCRIBER, account, ttl_s=DEMO_TOKEN_TTL_S, account_id=account
            )
            log.info("demo token role=subscriber account=%s token=%s", account, token)

    async def stop(self) -> None:
        if self.server is None:
            return
        await self.health.enter_graceful_shutdown()
        await self.watch.stop()
        await self.server.stop(self.config.drain_timeout)
        self.server = None
        log.info("grpc stopped")
