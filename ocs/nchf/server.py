"""The Nchf HTTP/2 server: granian, embedded in the server's event loop, speaking RSGI.

Chosen by measurement (docs/benchmarks.md, ``make bench-http2``): POST with a JSON body,
granian answered ~13-18k req/s at ~50-60 us of server CPU each where a handler on the
sans-I/O ``h2`` package did ~2.8k at ~190 us and hypercorn ~1k at ~400 us, same machine,
same run. Granian parses HTTP/2 in Rust (one runtime thread) and calls :meth:`__call__`
on this process's asyncio loop, so a request reaches the charging core with no thread hop.

HTTP/2 only, as TS 29.500 §5.2 asks: cleartext with prior knowledge (h2c) on ``listen``,
HTTP/2 over TLS (ALPN h2) on ``tls_listen``. Bounds: ``max_header_list_size`` (granian
refuses larger header blocks), ``max_concurrent_streams`` per connection, ``max_body``
(413, the body is not read further), ``max_in_flight`` requests in the process (beyond:
503 NF_CONGESTION with Retry-After at once, never queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from pathlib import Path
from typing import Any

import orjson
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP2Settings
from granian.server.embed import Server

from ocs import tally
from ocs.config import NchfConfig, split_listen
from ocs.errors import StartupError
from ocs.nchf.metrics import IN_FLIGHT, record
from ocs.nchf.problems import PROBLEM_JSON, Problem, congestion
from ocs.nchf.service import Answer, ChargingDataService
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.nchf")

BASE = "/nchf-convergedcharging/v3/chargingdata"
START_TIMEOUT = 20.0
CLOSE_GRACE = 1.0
"""Seconds granian has to stop once no request is in progress."""
# granian logs its own start and stop at INFO, and a warning that embedding is experimental
logging.getLogger("granian").setLevel(logging.ERROR)
logging.getLogger("_granian").setLevel(logging.ERROR)


class NchfServer:
    """Subsystem: the Nchf listeners (h2c and, when configured, TLS) over one service."""

    name = "nchf"

    def __init__(self, config: NchfConfig, service: ChargingDataService) -> None:
        self.config = config
        self.service = service
        self.prefix = config.api_prefix.rstrip("/") + BASE
        self.in_flight = 0
        self.stopping = False
        self._drained = asyncio.Event()
        self._in_flight = tally.gauge(IN_FLIGHT)
        self._servers: list[tuple[Server, asyncio.Task[None]]] = []
        self.listening: list[tuple[str, str, int]] = []
        """(scheme, host, port) of each listener once started."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        config = self.config
        targets: list[tuple[str, str]] = [("http", config.listen)]
        if config.tls_listen:
            targets.append(("https", config.tls_listen))
        try:
            for scheme, listen in targets:
                await self._start_one(scheme, listen)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "nchf listening %s max_body=%d max_in_flight=%d",
            " ".join(f"{s}://{h}:{p}" for s, h, p in self.listening),
            config.max_body,
            config.max_in_flight,
        )

    async def _start_one(self, scheme: str, listen: str) -> None:
        config = self.config
        host, port = split_listen(listen)
        port = _claim_port(host, port, shared=config.reuse_port)
        tls: dict[str, Any] = {}
        if scheme == "https":
            tls = {"ssl_cert": Path(config.tls_cert), "ssl_key": Path(config.tls_key)}
            if config.tls_ca:
                tls.update(ssl_ca=Path(config.tls_ca), ssl_client_verify=True)
        server = Server(
            self,
            address=host,
            port=port,
            interface=Interfaces.RSGI,
            http=HTTPModes.http2,
            websockets=False,
            backlog=1024,
            # requests reach Python beyond max_in_flight, to be answered 503 there
            backpressure=config.max_in_flight * 2,
            http2_settings=HTTP2Settings(
                max_concurrent_streams=config.max_concurrent_streams,
                max_headers_size=config.max_header_list_size,
            ),
            log_enabled=False,
            **tls,
        )
        task = asyncio.get_running_loop().create_task(server.serve(), name=f"nchf-{scheme}")
        self._servers.append((server, task))
        await _wait_listening(host, port, task)
        self.listening.append((scheme, host, port))

    async def stop(self) -> None:
        """Stop accepting requests (503 NF_CONGESTION: the consumer retries elsewhere), let
        those in progress finish and be answered (``drain_timeout``), then stop granian. Its
        graceful stop waits for the consumers to close their connections, which SMFs keep
        open: after ``CLOSE_GRACE`` its task is cancelled and the process's exit closes them.
        (granian then logs an InvalidStateError from its shutdown callback if a connection
        closes while the loop still runs: its own callback does not check for cancellation.)
        """
        self.stopping = True
        if self.in_flight:
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), self.config.drain_timeout)
        for server, task in self._servers:
            if not task.done():
                server.stop()
        for _, task in self._servers:
            try:
                await asyncio.wait_for(asyncio.shield(task), CLOSE_GRACE)
            except TimeoutError:
                await cancel_and_wait([task])
            except Exception as exc:
                log.warning("nchf server stopped with an error: %s", exc)
        self._servers.clear()
        log.info("nchf stopped in_flight=%d", self.in_flight)

    # -- RSGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Any, protocol: Any) -> None:
        started = time.perf_counter()
        operation = "other"
        if self.in_flight >= self.config.max_in_flight:
            answer = _problem(
                congestion(self.config.retry_after_s, "too many requests in progress")
            )
        elif self.stopping:
            answer = _problem(congestion(self.config.retry_after_s, "shutting down"))
        else:
            self.in_flight += 1
            self._in_flight.value = self.in_flight
            try:
                operation, answer = await self._handle(scope, protocol)
            except Exception:
                log.exception("nchf request failed path=%s", scope.path)
                answer = _problem(Problem(500, "SYSTEM_FAILURE", "unexpected error"))
            finally:
                self.in_flight -= 1
                self._in_flight.value = self.in_flight
                if self.stopping and not self.in_flight:
                    self._drained.set()
        headers = [("content-type", answer.content_type)] if answer.body else []
        if answer.location:
            headers.append(("location", answer.location))
        if answer.status == 503:
            headers.append(("retry-after", str(self.config.retry_after_s)))
        elif answer.status == 405:
            headers.append(("allow", "POST"))
        if answer.body:
            protocol.response_bytes(answer.status, headers, answer.body)
        else:
            protocol.response_empty(answer.status, headers)
        record(operation, answer.status, answer.cause, time.perf_counter() - started)

    async def _handle(self, scope: Any, protocol: Any) -> tuple[str, Answer]:
        path: str = scope.path
        if not path.startswith(self.prefix):
            return "other", _problem(_unknown_path())
        rest = path[len(self.prefix) :]
        if rest in ("", "/"):
            operation, ref = "create", ""
        else:
            parts = rest.split("/")
            if len(parts) != 3 or parts[0] or parts[2] not in ("update", "release"):
                return "other", _problem(_unknown_path())
            operation, ref = parts[2], parts[1]
        if scope.method != "POST":
            return operation, _problem(Problem(405, "", f"{scope.method} is not allowed here"))
        try:
            body = await self._body(scope, protocol)
            if operation == "create":
                answer = await self.service.create(body, self._api_root(scope))
            elif operation == "update":
                answer = await self.service.update(ref, body)
            else:
                answer = await self.service.release(ref, body)
        except Problem as problem:
            return operation, _problem(problem)
        return answer.operation or operation, answer

    async def _body(self, scope: Any, protocol: Any) -> dict[str, Any]:
        headers = scope.headers
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Problem(415, "", "the body must be application/json")
        limit = self.config.max_body
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Problem(400, "INVALID_MSG_FORMAT", "content-length is not a number")
            if int(declared) > limit:
                raise Problem(413, "", f"the body is larger than {limit} octets")
        chunks: list[bytes] = []
        size = 0
        async for chunk in protocol:
            size += len(chunk)
            if size > limit:
                raise Problem(413, "", f"the body is larger than {limit} octets")
            chunks.append(chunk)
        try:
            body = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:  # also nesting deeper than 1024 and integers > 64 bits
            raise Problem(400, "INVALID_MSG_FORMAT", "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise Problem(400, "INVALID_MSG_FORMAT", "the body must be a JSON object")
        return body

    def _api_root(self, scope: Any) -> str:
        if self.config.api_root:
            return self.config.api_root.rstrip("/") + self.config.api_prefix.rstrip("/")
        authority = scope.authority or scope.headers.get("host") or scope.server
        return f"{scope.scheme}://{authority}{self.config.api_prefix.rstrip('/')}"


def _problem(problem: Problem) -> Answer:
    return Answer(problem.status, problem.body(), PROBLEM_JSON, cause=problem.cause)


def _unknown_path() -> Problem:
    return Problem(
        404, "RESOURCE_URI_STRUCTURE_NOT_FOUND", "no resource of Nchf_ConvergedCharging v3 here"
    )


def _claim_port(host: str, port: int, *, shared: bool) -> int:
    """The port to serve on: a free one for port 0 (tests); otherwise check that nobody
    holds it, since granian binds with SO_REUSEPORT and would silently share it (unless
    ``shared``: ``--workers`` shares it on purpose). The probe sets SO_REUSEADDR, as every
    listener does: connections of a previous run still in TIME_WAIT do not hold the port,
    a process listening on it does."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not shared:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise StartupError(f"nchf: cannot listen on {host}:{port}: {exc.strerror}") from exc
        elif port == 0:
            probe.bind((host, 0))
        return int(probe.getsockname()[1]) if port == 0 else port


async def _wait_listening(host: str, port: int, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if task.done():
            error = task.exception() if not task.cancelled() else None
            raise StartupError(f"nchf: granian stopped while starting on {host}:{port}: {error}")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise StartupError(f"nchf: not listening on {host}:{port} after start") from None
            await asyncio.sleep(0.02)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


__all__ = ["BASE", "NchfServer"]
