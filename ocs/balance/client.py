"""A batching Redis connection for the hot path: one socket, hiredis parsing, one write per loop
iteration.

Every command queued during an event-loop iteration goes out in one ``write``; replies are
matched to callers in order (Redis answers in order on a connection). A caller that is
cancelled leaves its future behind, and its reply is read and dropped, so the next caller never
reads someone else's reply. A lost connection fails every call in flight with
:class:`BalanceUnavailable` (their effect is unknown: retry with the same operation id); the next
call reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

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
class Address:
    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str = ""
    password: str = ""
    username: str = ""
    db: int = 0

    @property
    def name(self) -> str:
        return f"unix:{self.unix_path}" if self.unix_path else f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> Address:
        parts = urlsplit(url)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        password = unquote(parts.password or query.get("password", ""))
        username = unquote(parts.username or "")
        if parts.scheme == "unix":
            db = int(query.get("db", "0"))
            return cls(unix_path=parts.path, password=password, username=username, db=db)
        if parts.scheme != "redis":
            raise ValueError(
                f"unsupported redis URL scheme {parts.scheme!r} for the balance engine"
            )
        db = int(parts.path.lstrip("/") or query.get("db", "0"))
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            password=password,
            username=username,
            db=db,
        )


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: NodeConnection) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._on_lost(self, exc)


class NodeConnection:
    """One pipelined connection to one Redis node."""

    def __init__(self, address: Address) -> None:
        self.address = address
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

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._queue:
            return
        if self._transport is None:
            if self._connecting is None:
                self._connecting = asyncio.get_running_loop().create_task(self._connect())
            return
        data = b"".join(self._queue)
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
                else:
                    transport, protocol = await loop.create_connection(
                        lambda: _Protocol(self), address.host, address.port
                    )
        except (OSError, TimeoutError) as exc:
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
        self._queue[:0] = setup
        data = b"".join(self._queue)
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
        for future in queued:
            if not future.done():
                future.set_exception(error)

    @property
    def connected(self) -> bool:
        return self._transport is not None

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


class SingleNode:
    """The executor for one Redis server: every slot is the same connection."""

    def __init__(self, address: Address) -> None:
        self.connection = NodeConnection(address)

    async def start(self) -> None:
        await self.connection.execute("PING")

    def execute(self, slot: int, *args: Any) -> Awaitable[Any]:
        return self.connection.send(args)

    def nodes(self) -> list[NodeConnection]:
        return [self.connection]

    async def close(self) -> None:
        await self.connection.close()
