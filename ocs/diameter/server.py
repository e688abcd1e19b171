"""The Diameter subsystem: listeners, the peer table, handlers, shutdown.

``DiameterServer`` listens on TCP (``diameter.listen``), optionally TLS/TCP
(``tls_listen``, RFC 6733 section 2.2: TLS before the CER) and SCTP
(``sctp_listen``, where the kernel offers it). Each connection is a
:class:`~ocs.diameter.transport.Connection` driving a
:class:`~ocs.diameter.peer.Peer`; the requests of all of them go to one
:class:`~ocs.diameter.traffic.Traffic` (duplicates, admission, handlers, error
answers). Once a peer's capabilities are exchanged, its Origin-Host enters the
peer table, which ``request()`` and ``connected_peers()`` use.

Admission at CER time: the source address must be in ``allowed_networks`` and,
if ``allowed_peers`` is set, the Origin-Host in it, else 3010
DIAMETER_UNKNOWN_PEER and close. ocs only accepts connections, so the election
of RFC 6733 section 5.6.4 (which needs a connection we initiated) never runs: a
second connection from an Origin-Host that already has an open one is refused
with 5012 (the state machine's R-Reject), and the existing connection is probed
with a DWR, so a dead one is found and dropped quickly and the peer can retry.

Shutdown (``stop``): stop accepting, answer in-flight requests (new ones get
3004), send DPR on every open connection, wait for the DPAs and closes, then
abort what is left.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import ssl
import time
from functools import partial
from pathlib import Path
from typing import Any

from ocs import __version__
from ocs.config import DiameterConfig, split_listen
from ocs.diameter.capabilities import SY, Advertised, LocalNode, PeerInfo
from ocs.diameter.codec import Codec, Identity, Message
from ocs.diameter.constants import VENDOR_3GPP, Application, ResultCode
from ocs.diameter.duplicates import DuplicateCache
from ocs.diameter.errors import NotConnected
from ocs.diameter.metrics import COUNTER
from ocs.diameter.peer import EndToEndIds, Peer, PeerSettings, PeerState, Rejection, Role
from ocs.diameter.traffic import Handler, Traffic, quoted
from ocs.diameter.transport import Connection
from ocs.errors import StartupError

log = logging.getLogger("ocs.diameter")


def firmware_revision(version: str) -> int:
    """``0.1.0`` -> 100: the Firmware-Revision AVP is an Unsigned32."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 10000 + parts[1] * 100 + parts[2]


def local_node(config: DiameterConfig) -> LocalNode:
    applications: list[Advertised] = []
    for application in config.applications:
        if application == Application.SY:
            applications.append(SY)
        else:
            applications.append(Advertised(application, VENDOR_3GPP))
    return LocalNode(
        Identity(config.origin_host, config.origin_realm),
        vendor_id=config.vendor_id,
        product_name=config.product_name,
        firmware_revision=firmware_revision(__version__),
        origin_state_id=int(time.time()),
        host_ip_addresses=tuple(ipaddress.ip_address(a) for a in config.host_ip_addresses),
        applications=tuple(applications),
    )


class DiameterServer:
    """Subsystem (``name``, ``start``, ``stop``) serving Diameter peers."""

    name = "diameter"

    def __init__(self, config: DiameterConfig, *, codec: Codec | None = None) -> None:
        self.config = config
        self.codec = codec or Codec()
        self.local = local_node(config)
        self.peer_settings = PeerSettings(
            watchdog_interval=config.watchdog_interval,
            watchdog_jitter=min(2.0, config.watchdog_interval / 4),
            capabilities_timeout=config.capabilities_timeout,
            disconnect_timeout=config.disconnect_timeout,
            max_message_size=config.max_message_size,
        )
        self.write_buffer_limit = config.write_buffer_limit
        self.duplicates = DuplicateCache(config.duplicate_cache_size, config.duplicate_ttl)
        self.traffic = Traffic(
            self.local.identity,
            self.duplicates,
            max_in_flight=config.max_in_flight,
            max_in_flight_per_peer=config.max_in_flight_per_peer,
        )
        self.traffic.on_idle = self._on_idle
        self.handlers = self.traffic.handlers
        self.end_to_end = EndToEndIds(time.time())
        self.listening: list[tuple[str, str, int]] = []
        """``(transport, host, port)`` of each listener, ports as bound."""
        self._networks = [ipaddress.ip_network(n, strict=False) for n in config.allowed_networks]
        self._allowed_peers = {host.lower() for host in config.allowed_peers}
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[Connection] = set()
        self._peers: dict[str, Connection] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._idle: asyncio.Event | None = None

    @property
    def identity(self) -> Identity:
        """Our Origin-Host/Realm, e.g. for RAR/ASR built with ``Message.request``."""
        return self.local.identity

    @property
    def in_flight(self) -> int:
        """Requests being handled over every connection."""
        return self.traffic.in_flight

    @property
    def stopping(self) -> bool:
        return self.traffic.stopping

    def register(self, application_id: int, command_code: int, handler: Handler) -> None:
        """Handle requests of ``command_code`` in ``application_id`` with ``handler``."""
        self.traffic.register(application_id, command_code, handler)

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        self._idle = asyncio.Event()
        try:
            await self._listen("tcp", self.config.listen, None)
            if self.config.tls_listen:
                await self._listen("tls", self.config.tls_listen, self._tls_context())
            if self.config.sctp_listen:
                await self._listen("sctp", self.config.sctp_listen, None)
        except BaseException:
            await self._close_listeners()
            raise

    async def _listen(self, transport: str, address: str, context: ssl.SSLContext | None) -> None:
        host, port = split_listen(address)
        loop = asyncio.get_running_loop()

        def factory() -> Connection:
            return Connection(self, transport)

        try:
            if transport == "sctp":
                server = await loop.create_server(factory, sock=_sctp_socket(host, port))
            else:
                server = await loop.create_server(
                    factory,
                    host,
                    port,
                    ssl=context,
                    reuse_address=True,
                    reuse_port=self.config.reuse_port or None,
                    backlog=512,
                )
        except OSError as exc:
            raise StartupError(
                f"diameter: cannot listen on {transport} {address}: {exc.strerror or exc}"
            ) from exc
        self._servers.append(server)
        for sock in server.sockets:
            bound = sock.getsockname()
            self.listening.append((transport, bound[0], bound[1]))
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            log.info("listening transport=%s address=%s:%s", transport, shown, bound[1])

    def _tls_context(self) -> ssl.SSLContext:
        config = self.config
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        for key, path in (("tls_cert", config.tls_cert), ("tls_key", config.tls_key)):
            if not Path(path).is_file():
                raise StartupError(f"diameter: {key} {path!r} is not a readable file")
        try:
            context.load_cert_chain(config.tls_cert, config.tls_key)
            if config.tls_ca:
                context.load_verify_locations(config.tls_ca)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"diameter: cannot load the TLS certificate/key/CA: {exc}") from exc
        return context

    async def stop(self) -> None:
        self.traffic.stopping = True
        await self._close_listeners(wait=False)
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.in_flight and self._idle is not None:
            self._idle.clear()  # set by the traffic once the last request is answered
            try:
                await asyncio.wait_for(self._idle.wait(), self.config.drain_timeout)
            except TimeoutError:
                log.warning("shutdown: %d requests still in flight, closing anyway", self.in_flight)
        connections = list(self._connections)
        for connection in connections:
            connection.disconnect()
        if connections:
            deadline = self.config.disconnect_timeout + 1.0
            _, pending = await asyncio.wait([c.closed for c in connections], timeout=deadline)
            for connection in connections:
                if not connection.closed.done():
                    connection.abort()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        await self._close_listeners(wait=True)
        log.info("stopped connections=%d elapsed=%.1fs", len(connections), loop.time() - started)

    async def _close_listeners(self, wait: bool = True) -> None:
        for server in self._servers:
            server.close()
        if wait:
            for server in self._servers:
                await server.wait_closed()
            self._servers.clear()
            self.listening.clear()

    # -- our own requests -------------------------------------------------------

    def connected_peers(self) -> list[PeerInfo]:
        return [c.peer.info for c in self._peers.values() if c.peer and c.peer.info]

    async def request(
        self,
        origin_host: str,
        message: Message,
        timeout: float | None = None,  # noqa: ASYNC109 - enforced by the peer's timer, which also forgets the id
    ) -> Message:
        """Send ``message`` to the connected peer ``origin_host`` and wait for its answer.

        Raises ``NotConnected`` without an open connection to that Origin-Host,
        ``RequestTimeout`` when no answer comes in time, ``ConnectionClosed``
        when the connection closes first.
        """
        connection = self._peers.get(origin_host.lower())
        if (
            connection is None
            or connection.peer is None
            or connection.peer.state is not PeerState.OPEN
        ):
            raise NotConnected(f"no open Diameter connection to {origin_host}")
        future = connection.send_request(message, timeout or self.config.request_timeout)
        return await future

    # -- callbacks from connections ----------------------------------------------

    def connection_made(self, connection: Connection) -> None:
        self._connections.add(connection)
        if self.stopping:
            connection.abort()

    def connection_lost(self, connection: Connection) -> None:
        self._connections.discard(connection)
        self.peer_closed(connection)

    def admit(self, connection: Connection, info: PeerInfo) -> Rejection | None:
        host = info.origin_host.lower()
        address = info.remote_address[0] if info.remote_address else ""
        rejection = None
        try:
            allowed = any(ipaddress.ip_address(address) in net for net in self._networks)
        except ValueError:
            allowed = False
        if not allowed:
            rejection = Rejection(
                ResultCode.DIAMETER_UNKNOWN_PEER,
                f"source address {address} is not in diameter.allowed_networks",
            )
        elif self._allowed_peers and host not in self._allowed_peers:
            rejection = Rejection(
                ResultCode.DIAMETER_UNKNOWN_PEER,
                f"origin_host {info.origin_host} is not in diameter.allowed_peers",
            )
        elif (existing := self._peers.get(host)) is not None and existing is not connection:
            existing.probe()
            rejection = Rejection(
                ResultCode.DIAMETER_UNABLE_TO_COMPLY,
                f"{info.origin_host} is already connected from {existing.remote}; "
                "RFC 6733 5.6.1 rejects the new connection, the existing one is probed with a DWR",
            )
        if rejection is not None:
            log.warning(
                "peer rejected origin_host=%s remote=%s result_code=%d reason=%s",
                info.origin_host,
                connection.remote,
                rejection.result_code,
                quoted(rejection.reason),
            )
        return rejection

    def peer_opened(self, connection: Connection, info: PeerInfo) -> None:
        self._peers[info.origin_host.lower()] = connection
        log.info(
            "peer open origin_host=%s origin_realm=%s remote=%s transport=%s product=%s "
            "applications=%s",
            info.origin_host,
            info.origin_realm,
            connection.remote,
            info.transport,
            quoted(info.product_name),
            ",".join(str(a) for a in sorted(info.applications)),
        )

    def peer_closed(self, connection: Connection) -> None:
        info = connection.peer.info if connection.peer else None
        if info is not None and self._peers.get(info.origin_host.lower()) is connection:
            del self._peers[info.origin_host.lower()]

    def new_peer(
        self,
        connection: Connection,
        now: float,
        local_address: str | None,
        remote_address: tuple[str, int],
    ) -> Peer:
        """The state machine of a new connection, with our settings and admission."""
        return Peer(
            Role.RESPONDER,
            self.local,
            self.codec,
            now,
            settings=self.peer_settings,
            local_address=local_address,
            remote_address=remote_address,
            transport=connection.transport_name,
            admit=partial(self.admit, connection),
            handled=self.handlers,
            observer=COUNTER,
            end_to_end=self.end_to_end,
        )

    def _on_idle(self) -> None:
        if self._idle is not None:
            self._idle.set()

    def keep(self, task: asyncio.Future[Any]) -> None:
        """Hold a handler's task until it is done (never fire-and-forget)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _sctp_socket(host: str, port: int) -> socket.socket:
    """A listening one-to-one SCTP socket, or a StartupError saying why there is none."""
    protocol = getattr(socket, "IPPROTO_SCTP", 132)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM, protocol)
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
            raise OSError(
                exc.errno,
                f"the kernel does not offer SCTP ({exc.strerror}); load the sctp module "
                "(modprobe sctp) or leave diameter.sctp_listen empty",
            ) from exc
        raise
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
