"""A batching Redis connection for the hot path: one socket, hiredis parsing, one write per loop
iteration.

Every command queued during an event-loop iteration goes out in one ``write``; replies are
matched to callers in order (Redis answers in order on a connection). A caller that is
cancelled leaves its future behind, and its reply is read and dropped, so the next caller never
reads someone else's reply. A lost connection fails every call in flight with
:class:`BalanceUnavailable` (their effect is unknown: retry with the same operation id); the next
call reconnects.

``rediss://`` (or ``Address.tls``) speaks TLS, verifying the server against ``tls_ca``.

A node that owes replies and stays silent (a paused process, a partition: TCP keeps the socket
open) is noticed by :meth:`NodeConnection.check_stuck`, which the health monitor calls several
times a second: the connection is aborted, so its callers get BalanceUnavailable instead of
waiting for ever.

Durable sends (``durability = replicated``): :meth:`NodeConnection.send_durable` queues the
command and joins the batch's barrier. When the batch is written, a fence write and one
``WAIT numreplicas timeout`` follow its last command, so one replication round trip covers every
write of the batch (group commit); the fence makes the WAIT cover every write the node made
before it, also those of other clients (a replayed answer whose first write has not reached a
replica yet).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import hiredis

from ocs.balance.errors import BalanceUnavailable
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.balance")

CONNECT_TIMEOUT = 5.0
Command = tuple[Any, ...]


_pack: Any = hiredis.pack_command


class ReplyError(Exception):
    """An error reply from Redis (hiredis builds these for ``-ERR ...`` lines)."""


@dataclass(frozen=True, slots=True)
class Tls:
    """TLS towards Redis: the CA that signed the servers' certificates (empty: the system's),
    and a client certificate for servers that ask for one (``tls-auth-clients``)."""

    ca: str = ""
    cert: str = ""
    key: str = ""

    def context(self) -> ssl.SSLContext:
        return _ssl_context(self.ca, self.cert, self.key)


@functools.lru_cache(maxsize=8)
def _ssl_context(ca: str, cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca or None)
    if cert:
        context.load_cert_chain(cert, key or None)
    return context


@dataclass(frozen=True, slots=True)
class Replication:
    """``durability = replicated``: an answer waits until ``replicas`` replicas have the write,
    at most ``timeout_ms``."""

    replicas: int = 1
    timeout_ms: int = 1000


class ReplicationTimeout(BalanceUnavailable):
    """The write was applied on the primary, but not enough replicas confirmed it in time: its
    durability is unknown. A retransmission (same operation id) is answered from the stored
    result once it has reached the replicas."""


@dataclass(frozen=True, slots=True)
class Address:
    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str = ""
    password: str = ""
    username: str = ""
    db: int = 0
    tls: Tls | None = None

    @property
    def name(self) -> str:
        return f"unix:{self.unix_path}" if self.unix_path else f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, tls: Tls | None = None) -> Address:
        """``redis://``, ``rediss://`` (TLS: ``tls`` names the CA and client certificate;
        redis-py's ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile`` query keys work too) or
        ``unix://``."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        password = unquote(parts.password or query.get("password", ""))
        username = unquote(parts.username or "")
        if parts.scheme == "unix":
            db = int(query.get("db", "0"))
            return cls(unix_path=parts.path, password=password, username=username, db=db)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(
                f"unsupported redis URL scheme {parts.scheme!r} for the balance engine"
            )
        if parts.scheme == "rediss":
            given = tls or Tls()
            tls = Tls(
                ca=query.get("ssl_ca_certs", given.ca),
                cert=query.get("ssl_certfile", given.cert),
                key=query.get("ssl_keyfile", given.key),
            )
        else:
            tls = None
        db = int(parts.path.lstrip("/") or query.get("db", "0"))
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            password=password,
            username=username,
            db=db,
            tls=tls,
        )


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: NodeConnection) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._on_lost(self, exc)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Done callback of futures that may be left unawaited (a barrier nobody waits for)."""
    if not future.cancelled():
        future.exception()


class NodeConnection:
    """One pipelined connection to one Redis node."""

    def __init__(self, address: Address, replication: Replication | None = None) -> None:
        self.address = address
        self.replication = replication
        self._barrier: asyncio.Future[Any] | None = None
        self._fence: bytes = b""
        self._waiting_since = 0.0
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._reader: Any = None
        self._queue: list[bytes] = []
        self._queued: list[asyncio.Future[Any]] = []
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._flush_scheduled = False
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False

    def send(self, args: Command) -> asyncio.Future[Any]:
        """Queue one command; the future resolves to its reply (or raises ReplyError)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            future.set_exception(BalanceUnavailable(f"connection to {self.address.name} closed"))
            return future
        self._queue.append(_pack(args))
        self._queued.append(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    async def execute(self, *args: Any) -> Any:
        return await self.send(args)

    def send_durable(
        self, args: Command, fence_key: str
    ) -> tuple[asyncio.Future[Any], asyncio.Future[Any]]:
        """Queue one write; (its reply, the number of replicas that confirmed the batch it went
        out in). ``fence_key`` is a key this node owns (the fence write goes there)."""
        assert self.replication is not None, "send_durable needs a Replication"
        future = self.send(args)
        barrier = self._barrier
        if barrier is None:
            barrier = self._barrier = asyncio.get_running_loop().create_future()
            barrier.add_done_callback(_retrieve)
            self._fence = _pack(("SET", fence_key, "1", "PX", 60_000))
        return future, barrier

    def _close_barrier(self) -> None:
        """Append the fence and the WAIT of the batch being written (durable sends only)."""
        barrier, self._barrier = self._barrier, None
        if barrier is None or barrier.done():
            return
        assert self.replication is not None
        fence: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fence.add_done_callback(_retrieve)
        replication = self.replication
        self._queue += [self._fence, _pack(("WAIT", replication.replicas, replication.timeout_ms))]
        self._queued += [fence, barrier]

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._queue:
            return
        if self._transport is None:
            if self._connecting is None:
                self._connecting = asyncio.get_running_loop().create_task(self._connect())
            return
        self._close_barrier()
        data = b"".join(self._queue)
        if not self._pending:
            self._waiting_since = asyncio.get_running_loop().time()
        self._pending.extend(self._queued)
        self._queue.clear()
        self._queued.clear()
        self._transport.write(data)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        address = self.address
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if address.unix_path:
                    transport, protocol = await loop.create_unix_connection(
                        lambda: _Protocol(self), address.unix_path
                    )
                elif address.tls is not None:
                    transport, protocol = await loop.create_connection(
                        lambda: _Protocol(self),
                        address.host,
                        address.port,
                        ssl=address.tls.context(),
                        server_hostname=address.host,
                    )
                else:
                    transport, protocol = await loop.create_connection(
                        lambda: _Protocol(self), address.host, address.port
                    )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self._connecting = None
            self._fail_queued(BalanceUnavailable(f"cannot connect to redis {address.name}: {exc}"))
            return
        self._reader = hiredis.Reader(replyError=ReplyError)
        self._transport = transport
        self._protocol = protocol
        hello: list[asyncio.Future[Any]] = []
        setup: list[bytes] = []
        if address.password:
            auth: Command = (
                (address.username, address.password) if address.username else (address.password,)
            )
            setup.append(_pack(("AUTH", *auth)))
        if address.db:
            setup.append(_pack(("SELECT", address.db)))
        for _ in setup:
            hello.append(loop.create_future())
        self._pending.extend(hello)
        # set-up commands go first, then whatever was queued while connecting
        self._close_barrier()
        self._queue[:0] = setup
        data = b"".join(self._queue)
        self._waiting_since = loop.time()
        self._pending.extend(self._queued)
        self._queue.clear()
        self._queued.clear()
        transport.write(data)
        self._connecting = None
        for future in hello:
            try:
                await future
            except ReplyError as exc:
                log.error("redis set-up refused address=%s error=%s", address.name, exc)
                transport.close()
                return
            except BalanceUnavailable:
                return

    def _on_data(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        pending = self._pending
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                log.error("redis protocol error address=%s error=%s", self.address.name, exc)
                if self._transport is not None:
                    self._transport.abort()
                return
            if reply is False:
                if pending:
                    self._waiting_since = asyncio.get_running_loop().time()
                return
            future = pending.popleft()
            if future.done():
                continue
            if isinstance(reply, ReplyError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _on_lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        self._transport = None
        self._protocol = None
        error = BalanceUnavailable(f"connection to redis {self.address.name} lost: {exc}")
        pending, self._pending = self._pending, deque()
        for future in pending:
            if not future.done():
                future.set_exception(error)
        if self._queue and not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _fail_queued(self, error: Exception) -> None:
        queued = self._queued
        self._queue, self._queued = [], []
        barrier, self._barrier = self._barrier, None
        for future in [*queued, barrier]:
            if future is not None and not future.done():
                future.set_exception(error)

    @property
    def connected(self) -> bool:
        return self._transport is not None

    def check_stuck(self, now: float, limit: float, *, quiet: bool = False) -> bool:
        """Abort the connection if it owes replies and has been silent for ``limit`` seconds
        (a paused or unreachable server); True if it did."""
        if not self._pending or now - self._waiting_since < limit:
            return False
        (log.debug if quiet else log.warning)(
            "redis node silent address=%s owed_replies=%d silent_for=%.1fs: dropping connection",
            self.address.name,
            len(self._pending),
            now - self._waiting_since,
        )
        if self._transport is not None:
            self._transport.abort()
        return True

    def drop(self) -> None:
        """Abort the socket (tests, and after a protocol error); the next call reconnects."""
        if self._transport is not None:
            self._transport.abort()

    async def close(self) -> None:
        self._closed = True
        try:
            await cancel_and_wait([self._connecting])
        finally:  # also when this close is cancelled: the socket must not outlive it
            self._fail_queued(BalanceUnavailable("connection closed"))
            if self._transport is not None:
                self._transport.close()
                self._transport = None
            pending, self._pending = self._pending, deque()
            for future in pending:
                if not future.done():
                    future.set_exception(BalanceUnavailable("connection closed"))


async def replicated(
    reply: asyncio.Future[Any], barrier: asyncio.Future[Any], replication: Replication
) -> Any:
    """The reply of a durable send once its batch reached enough replicas."""
    result = await reply
    try:
        confirmed = await barrier
    except ReplyError as exc:  # UNBLOCKED: the primary was demoted while it waited
        raise ReplicationTimeout(f"write not confirmed by the replicas: {exc}") from exc
    if confirmed < replication.replicas:
        raise ReplicationTimeout(
            f"write reached {confirmed} of {replication.replicas} replicas "
            f"within {replication.timeout_ms} ms"
        )
    return result


class SingleNode:
    """The executor for one Redis server: every slot is the same connection."""

    def __init__(self, address: Address, replication: Replication | None = None) -> None:
        self.connection = NodeConnection(address, replication)

    async def start(self) -> None:
        await self.connection.execute("PING")

    def execute(self, slot: int, *args: Any) -> Awaitable[Any]:
        return self.connection.send(args)

    def execute_durable(self, slot: int, fence_key: str, *args: Any) -> Awaitable[Any]:
        connection = self.connection
        assert connection.replication is not None
        reply, barrier = connection.send_durable(args, fence_key)
        return replicated(reply, barrier, connection.replication)

    def refresh_soon(self) -> None:
        """Nothing to learn: one node."""

    def node_for_slot(self, slot: int) -> NodeConnection:
        return self.connection

    def connections(self) -> list[NodeConnection]:
        return [self.connection]

    def nodes(self) -> list[NodeConnection]:
        return [self.connection]

    async def close(self) -> None:
        await self.connection.close()
