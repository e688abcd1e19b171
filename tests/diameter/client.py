"""A Diameter client for the tests: our sans-I/O Peer as initiator over a real socket."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from ocs.config import DiameterConfig
from ocs.diameter.capabilities import Advertised, LocalNode, build_cer
from ocs.diameter.codec import Codec, Identity, Message
from ocs.diameter.constants import Application, Command
from ocs.diameter.peer import (
    AnswerReceived,
    DisconnectRequested,
    Event,
    Peer,
    PeerClosed,
    PeerOpened,
    PeerSettings,
    RequestFailed,
    RequestReceived,
    Role,
)
from ocs.diameter.server import DiameterServer
from tests.diameter.messages import ccr_avps

ClientHandler = Callable[[Message], Message]


class Seen:
    """The peer's observer: how many of each message came in (``DWR``, ``CCA``...)."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()

    def message_in(self, command: str, result_code: int | None) -> None:
        self.received[command] += 1

    def message_out(self, command: str, result_code: int | None) -> None:
        pass

    def decode_error(self, reason: str) -> None:
        pass


def client_node(origin_host: str, applications: tuple[Advertised, ...] | None = None) -> LocalNode:
    return LocalNode(
        Identity(origin_host, "mno.example"),
        product_name="test-client",
        applications=applications or (Advertised(Application.CREDIT_CONTROL),),
    )


class Client:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Peer,
        handler: ClientHandler | None,
        seen: Seen,
    ) -> None:
        self.reader, self.writer, self.peer = reader, writer, peer
        self.seen = seen
        """What the server sent, counted by command (answers to the peer's own DWRs too)."""
        self.handler = handler
        self.loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[Any] = self.loop.create_future()
        self.closed: asyncio.Future[str] = self.loop.create_future()
        self.requests: list[Message] = []
        self.disconnect_cause: int | None = None
        """The Disconnect-Cause of the server's DPR, once one came."""
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._task = asyncio.ensure_future(self._run())

    @classmethod
    async def connect(
        cls,
        port: int,
        *,
        origin_host: str = "pgw.mno.example",
        applications: tuple[Advertised, ...] | None = None,
        handler: ClientHandler | None = None,
        ssl_context: ssl.SSLContext | None = None,
        watchdog: float = 30.0,
        wait_open: bool = True,
    ) -> Client:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ssl_context, server_hostname="localhost" if ssl_context else None
        )
        settings = PeerSettings(watchdog_interval=watchdog, watchdog_jitter=0.0)
        seen = Seen()
        peer = Peer(
            Role.INITIATOR,
            client_node(origin_host, applications),
            Codec(),
            asyncio.get_running_loop().time(),
            settings=settings,
            local_address="127.0.0.1",
            handled={
                (Application.CREDIT_CONTROL, Command.RE_AUTH),
                (Application.CREDIT_CONTROL, Command.ABORT_SESSION),
            },
            observer=seen,
        )
        client = cls(reader, writer, peer, handler, seen)
        peer.connection_made(client.loop.time())
        client._flush()
        if wait_open:
            done, _ = await asyncio.wait(
                [client.opened, client.closed], timeout=20, return_when=asyncio.FIRST_COMPLETED
            )
            if client.closed in done:
                raise ConnectionError(f"CER refused: {client.closed.result()}")
            if not done:
                await client.close()
                raise TimeoutError("no CEA within 20 s")
        return client

    async def request(self, message: Message, within: float = 20.0) -> Message:
        request_id = self.peer.send_request(message, self.loop.time(), within)
        future: asyncio.Future[Message] = self.loop.create_future()
        self._waiting[request_id] = future
        self._flush()
        return await asyncio.wait_for(future, within + 1)

    async def pipeline(self, messages: list[Message], within: float = 20.0) -> list[Message]:
        """Send every message in one write (as a busy gateway does); their answers, in order."""
        futures = []
        for message in messages:
            request_id = self.peer.send_request(message, self.loop.time(), within)
            future: asyncio.Future[Message] = self.loop.create_future()
            self._waiting[request_id] = future
            futures.append(future)
        self._flush()
        return list(await asyncio.wait_for(asyncio.gather(*futures), within + 1))

    async def ccr(
        self, request_number: int = 1, *, end_to_end: int = 0, session: str | None = None
    ) -> Message:
        message = Message.request(
            Command.CREDIT_CONTROL, Application.CREDIT_CONTROL, proxiable=True
        )
        message.end_to_end = end_to_end
        kwargs = {"session": session} if session else {}
        message.add_raw(*ccr_avps(request_number=request_number, **kwargs))
        return await self.request(message)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def disconnect(self) -> str:
        self._handle(self.peer.close(self.loop.time()))
        self._flush()
        return await asyncio.wait_for(asyncio.shield(self.closed), 5)

    async def close(self) -> None:
        self._task.cancel()
        self.writer.close()

    def _flush(self) -> None:
        data = self.peer.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def _run(self) -> None:
        while True:
            deadline = self.peer.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.loop.time())
            try:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
            except TimeoutError:
                self._handle(self.peer.handle_timer(self.loop.time()))
                self._flush()
                continue
            except (ConnectionError, ssl.SSLError) as exc:
                self._handle(self.peer.connection_lost(self.loop.time(), str(exc)))
                return
            if not data:
                self._handle(self.peer.connection_lost(self.loop.time(), "closed by the server"))
                return
            self._handle(self.peer.receive_data(data, self.loop.time()))
            self._flush()

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, PeerOpened) and not self.opened.done():
                self.opened.set_result(event.info)
            elif isinstance(event, RequestReceived):
                self.requests.append(event.message)
                if self.handler is not None:
                    answer = self.handler(event.message)
                    self.peer.send_answer(answer.to_bytes(), "RAA", answer.result_code)
            elif isinstance(event, AnswerReceived):
                future = self._waiting.pop(event.request_id, None)
                if future is not None and not future.done():
                    future.set_result(event.message)
            elif isinstance(event, RequestFailed):
                future = self._waiting.pop(event.request_id, None)
                if future is not None and not future.done():
                    future.set_exception(event.error)
            elif isinstance(event, DisconnectRequested):
                self.disconnect_cause = event.cause
            elif isinstance(event, PeerClosed) and not self.closed.done():
                self.closed.set_result(event.reason)
                self.writer.close()


def server_config(**overrides: Any) -> DiameterConfig:
    values: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "origin_host": "ocs.test.local",
        "origin_realm": "test.local",
        "watchdog_interval": 30.0,
        "disconnect_timeout": 2.0,
        "drain_timeout": 2.0,
    }
    values.update(overrides)
    return DiameterConfig.model_validate(values)


@asynccontextmanager
async def running_server(**overrides: Any) -> AsyncIterator[DiameterServer]:
    server = DiameterServer(server_config(**overrides))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def port_of(server: DiameterServer, transport: str = "tcp") -> int:
    return next(port for kind, _, port in server.listening if kind == transport)


def cer_bytes(origin_host: str = "raw.mno.example") -> bytes:
    cer = build_cer(client_node(origin_host), ("127.0.0.1",))
    cer.hop_by_hop, cer.end_to_end = 1, 1
    return cer.to_bytes()


__all__ = ["Client", "cer_bytes", "port_of", "running_server", "server_config"]
