"""One Redis pub/sub connection per process, shared by every listener.

Listeners register a channel, a handler for its messages and a reset callback.
The connection subscribes on one node (in a Redis Cluster a PUBLISH reaches
every node, so the seeds are tried in turn) and comes back with backoff after
any loss; since messages may have been missed meanwhile, every listener's
reset runs once the subscription is live again (caches clear themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import hiredis

from ocs.balance.client import Address
from ocs.config import split_listen
from ocs.tasks import cancel_and_wait

if TYPE_CHECKING:
    from ocs.balance.target import RedisTarget

log = logging.getLogger("ocs.balance")

Handler = Callable[[bytes], None]
_pack: Any = hiredis.pack_command


class PubSub:
    def __init__(self) -> None:
        self.target: RedisTarget | None = None
        self._handlers: dict[bytes, Handler] = {}
        self._resets: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def listen(self, channel: str, handler: Handler, reset: Callable[[], None]) -> None:
        """Deliver ``channel``'s messages to ``handler``; call ``reset`` after any gap.

        Listeners register before :meth:`start`.
        """
        if self._task is not None:
            raise RuntimeError(f"listen({channel!r}) after the subscription started")
        self._handlers[channel.encode()] = handler
        self._resets.append(reset)

    async def start(self, target: RedisTarget) -> None:
        self.target = target
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.subscribed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await cancel_and_wait([task])

    async def _run(self) -> None:
        backoff = 0.05
        attempt = 0
        while True:
            try:
                await self._subscribe_once(attempt)
            except (OSError, hiredis.ProtocolError, ValueError) as exc:  # ssl errors are OSErrors
                log.warning("pubsub feed lost channels=%s error=%s", self._channel_names(), exc)
            self.subscribed.clear()
            self._reset()
            attempt += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _channel_names(self) -> str:
        return ",".join(channel.decode() for channel in self._handlers)

    def _reset(self) -> None:
        for reset in self._resets:
            reset()

    def _address(self, attempt: int) -> Address:
        assert self.target is not None
        if self.target.cluster_nodes:
            seeds = self.target.cluster_nodes
            host, port = split_listen(seeds[attempt % len(seeds)])
            return Address(host=host, port=port, password=self.target.password, tls=self.target.tls)
        return self.target.address()

    async def _subscribe_once(self, attempt: int) -> None:
        address = self._address(attempt)
        if address.unix_path:
            reader, writer = await asyncio.open_unix_connection(address.unix_path)
        else:
            tls = address.tls
            reader, writer = await asyncio.open_connection(
                address.host,
                address.port,
                ssl=tls.context() if tls is not None else None,
                server_hostname=address.host if tls is not None else None,
            )
        try:
            parser = hiredis.Reader()
            if address.password:
                auth: tuple[Any, ...] = ("AUTH", address.password)
                if address.username:
                    auth = ("AUTH", address.username, address.password)
                writer.write(_pack(auth))
            writer.write(_pack(("SUBSCRIBE", *self._handlers)))
            pending = len(self._handlers)
            while True:
                data = await reader.read(65536)
                if not data:
                    raise OSError("connection closed")
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    if isinstance(reply, hiredis.ReplyError):
                        raise OSError(f"subscribe refused: {reply}")
                    if not isinstance(reply, list):
                        continue
                    if reply[0] == b"subscribe":
                        pending -= 1
                        if pending == 0:
                            self._reset()
                            self.subscribed.set()
                    elif reply[0] == b"message":
                        handler = self._handlers.get(reply[1])
                        if handler is not None:
                            handler(reply[2])
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
