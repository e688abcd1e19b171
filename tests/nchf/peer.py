"""A real HTTP/2 server playing an SMF's notification endpoint or an NRF: hypercorn (an
independent HTTP/2 implementation) on a free port, recording every request."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.support.ports import free_port


@dataclass
class Received:
    method: str
    path: str
    http_version: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], tuple[int, bytes]]


@dataclass
class Peer:
    port: int
    respond: Responder
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Received(
            scope["method"],
            scope["path"],
            scope["http_version"],
            {k.decode(): v.decode() for k, v in scope["headers"]},
            body,
        )
        status, answer = self.respond(request)
        headers = [(b"content-type", b"application/json")] if answer else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        async with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived."""
        await self.wait_until(lambda: len(self.received) >= count, seconds)
        return self.received[:count]

    async def wait_until(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(condition), seconds)


@contextlib.asynccontextmanager
async def running_peer(respond: Responder) -> AsyncIterator[Peer]:
    peer = Peer(free_port(), respond)
    config = Config()
    config.bind = [f"127.0.0.1:{peer.port}"]
    config.accesslog = None
    config.errorlog = None
    stopping = asyncio.Event()
    task = asyncio.get_running_loop().create_task(
        serve(peer.app, config, shutdown_trigger=stopping.wait)  # type: ignore[arg-type]
    )
    deadline = asyncio.get_running_loop().time() + 20
    while True:  # until hypercorn listens (or says why it cannot)
        assert not task.done(), f"the peer did not start on {peer.port}: {task.exception()}"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        except OSError:
            assert asyncio.get_running_loop().time() < deadline, f"nothing listens on {peer.port}"
            await asyncio.sleep(0.02)
            continue
        writer.close()
        break
    try:
        yield peer
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
