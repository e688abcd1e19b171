"""The web subsystem: one aiohttp server on ``[portal] listen`` for the TM Forum REST APIs
(``/tmf-api/...``, bearer tokens), the OpenAPI document (``/tmf-api/openapi.json``), the
portal pages (``/``, cookie sessions) and the payment provider's webhook. It starts after the
gRPC server, whose service objects and token key it uses, and stops before it; the primary
process also runs the BSS background work (:mod:`ocs.portal.background`)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ocs.api.errors import ApiError
from ocs.api.server import GrpcServer
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.ledger import LedgerError
from ocs.bss.context import Services
from ocs.bss.database import BssDatabase, open_database
from ocs.charging.operations import AccountOperations
from ocs.config import Config, split_listen
from ocs.errors import StartupError
from ocs.payments.signature import load_or_create_secret
from ocs.policy.catalog import Catalog
from ocs.tmf import metrics
from ocs.tmf.http import Route, bearer, error_response, failure, json_response
from ocs.tmf.openapi import document

log = logging.getLogger("ocs.portal")

OPENAPI_PATH = "/tmf-api/openapi.json"
SHUTDOWN_TIMEOUT_S = 2.0


class PortalServer:
    name = "portal"

    def __init__(
        self,
        config: Config,
        grpc: GrpcServer,
        *,
        store: BalanceStore,
        catalog: Catalog,
        operations: AccountOperations,
        clock: Callable[[], int],
        primary: bool = True,
        documents_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.portal = config.portal
        self.grpc = grpc
        self.store = store
        self.catalog = catalog
        self.operations = operations
        self.clock = clock
        self.primary = primary
        self.documents_dir = documents_dir or config.state_dir / "billing"
        self.services: Services | None = None
        self.db: BssDatabase | None = None
        self.runner: web.AppRunner | None = None
        self.routes: list[Route] = []
        self.port = 0
        self.background: object | None = None
        self.payment_secret = b""

    async def start(self) -> None:
        try:
            self.db = await asyncio.to_thread(
                open_database, self.config.billing.ledger_dsn, self.config.state_dir
            )
        except LedgerError as exc:
            raise StartupError(f"portal: {exc}") from exc
        tokens = self.grpc.tokens
        if tokens is None:
            raise StartupError("portal: the gRPC server must start first")
        self.services = services = Services(
            config=self.portal,
            store=self.store,
            catalog=self.catalog,
            db=self.db,
            balance=self.grpc.balance,
            admin=self.grpc.admin,
            orders=self.grpc.orders,
            watch=self.grpc.watch,
            operations=self.operations,
            tokens=tokens,
            clock=self.clock,
            documents_dir=self.documents_dir,
            state_dir=self.config.state_dir,
        )
        self.grpc.care.services = services
        from ocs.portal.background import Background
        from ocs.portal.routes import api_routes, page_routes

        self.background = Background(services)
        key_path = (
            Path(self.portal.payment_secret_file)
            if self.portal.payment_secret_file
            else self.config.state_dir / "portal" / "payment.key"
        )
        try:
            if self.portal.payment_secret_file and not key_path.exists():
                raise ValueError(f"{key_path} does not exist")
            self.payment_secret = await asyncio.to_thread(load_or_create_secret, key_path)
        except (OSError, ValueError) as exc:
            raise StartupError(f"portal.payment_secret_file: {exc}") from exc
        app = web.Application(client_max_size=self.portal.max_attachment_bytes * 2)
        self.routes = api_routes(services, self.background, self.payment_secret)
        for route in self.routes:
            app.router.add_route(route.method, route.path, self._api(route))
        spec = document(self.routes)

        async def openapi(request: web.Request) -> web.Response:
            return json_response(spec)

        app.router.add_get(OPENAPI_PATH, openapi)
        page_routes(app, services, self.background, self.payment_secret)
        # on stop, requests in progress (a live-balance stream waits up to 15 s for its next
        # event) get SHUTDOWN_TIMEOUT_S, then they are cancelled
        self.runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await self.runner.setup()
        host, port = split_listen(self.portal.listen)
        site = web.TCPSite(
            self.runner,
            host,
            port,
            ssl_context=self._ssl(),
            reuse_port=self.config.workers > 1 or None,
        )
        try:
            await site.start()
        except OSError as exc:
            await self.runner.cleanup()
            raise StartupError(f"portal: cannot listen on {self.portal.listen}: {exc}") from exc
        self.port = int(self.runner.addresses[0][1])
        if self.primary:
            first = self.config.demo.first_msisdn if self.config.demo.subscribers else ""
            await self.background.start(demo=self.portal.demo_users, first_msisdn=first)
        log.info(
            "portal listening address=%s:%d url=%s apis=%d",
            host,
            self.port,
            self.url,
            len(self.routes),
        )

    @property
    def url(self) -> str:
        if self.portal.public_url:
            return self.portal.public_url.rstrip("/")
        host, _ = split_listen(self.portal.listen)
        scheme = "https" if self.portal.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.portal.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.portal.tls_cert, self.portal.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"portal: cannot load tls_cert/tls_key: {exc}") from exc
        return context

    def _api(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        services_ref = self
        name = f"{route.method} {route.path}"
        counted = metrics.DURATION.labels(name)

        async def handle(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            services = services_ref.services
            assert services is not None
            try:
                principal = None if route.public else bearer(services.tokens, request)
                response = await route.handler(request, principal)
            except web.HTTPRequestEntityTooLarge:
                response = json_response(
                    {
                        "@type": "OcsError",
                        "code": "TOO_LARGE",
                        "status": "413",
                        "reason": "the request body is too large",
                        "field": "body",
                    },
                    413,
                )
            except ApiError as error:
                response = error_response(error)
            except Exception as exc:
                response = error_response(failure(exc, route.operation))
            metrics.REQUESTS.labels(name, str(response.status)).inc()
            counted.observe(time.perf_counter() - started)
            return response

        return handle

    async def stop(self) -> None:
        self.grpc.care.services = None
        if self.background is not None:
            from ocs.portal.background import Background

            assert isinstance(self.background, Background)
            await self.background.stop()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.db is not None:
            self.db.close()
            self.db = None
        log.info("portal stopped")
