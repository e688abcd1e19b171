"""A Gy gateway with several ocs peers, as a PGW with two OCS peers behaves (RFC 8506 failover).

Every subscriber runs sessions back to back (CCR-I, CCR-Us reporting usage, CCR-T) until asked
to stop; then each finishes the session it is in, so nothing stays reserved. A request that is
not answered within ``tx`` seconds, whose connection drops, or that is answered 3004
(DIAMETER_TOO_BUSY) is sent again, unchanged and with the same End-to-End id, with the T flag,
to the next peer (RFC 6733 5.5.4, RFC 8506 5.5), until it gets another answer. So every request
ends with one answer, and the money it moved is known:

* ``charged[msisdn]``: what the usage reports answered 2001 cost (each report costs the same);
* ``refused``: the requests finally answered with anything but 2001, with their codes.

A retransmitted request (a CCR-T too, whose first copy closed the session on an instance that
then died) is answered from the stored answer on the other instance, like any other: there is
no exception to this rule.

The balances must then equal the opening balance minus ``charged``, to the cent.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections import Counter
from dataclasses import dataclass, field

from ocs.bench.client import (
    BenchConnection,
    CcrBuilder,
    answer_codes,
    session_avp,
    subscriber_avp,
)
from ocs.diameter.constants import Command

_HEADER = struct.Struct(">IIIII")
TOO_BUSY = 3004
SUCCESS = 2001


class Peer(BenchConnection):
    def send_ccr(self, body: bytes, end_to_end: int, retransmit: bool) -> asyncio.Future[bytes]:
        assert self.transport is not None
        hop = next(self.hops) & 0xFFFFFFFF
        flags = 0xC0 | (0x10 if retransmit else 0)  # R, P and, for a retransmission, T
        header = _HEADER.pack(
            0x01000000 | (20 + len(body)),
            flags << 24 | Command.CREDIT_CONTROL,
            4,
            hop,
            end_to_end,
        )
        future: asyncio.Future[bytes] = self.loop.create_future()
        self.pending[hop] = future
        self.transport.write(header + body)
        return future


@dataclass
class Tally:
    charged: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[str, str, int | None, int | None]] = field(default_factory=list)
    answered: Counter[str] = field(default_factory=Counter)
    retransmissions: int = 0
    sessions: int = 0


class FailoverGateway:
    def __init__(
        self,
        peers: list[tuple[str, int]],
        *,
        cost_per_report: int,
        tls: ssl.SSLContext | None = None,
        origin_host: str = "pgw.failover.test",
        tx: float = 2.0,
        give_up_after: float = 90.0,
        used_octets: int = 100_000,
        updates: int = 2,
    ) -> None:
        self.peers = peers
        self.tls = tls
        self.origin_host = origin_host
        self.tx = tx
        self.give_up_after = give_up_after
        self.used_octets = used_octets
        self.updates = updates
        self.cost_per_report = cost_per_report
        self.connections: list[Peer | None] = [None] * len(peers)
        self.tally = Tally()
        self.stopping = asyncio.Event()
        self._e2e = 0x10000
        self._reconnecting: set[asyncio.Task[None]] = set()
        self.builder: CcrBuilder | None = None

    async def connect(self) -> None:
        for index in range(len(self.peers)):
            await self._connect(index)
        assert self.connections[0] is not None
        self.builder = CcrBuilder(self.connections[0].identity)

    async def _connect(self, index: int) -> bool:
        host, port = self.peers[index]
        loop = asyncio.get_running_loop()
        try:
            _, peer = await loop.create_connection(
                lambda: Peer(self.origin_host, "failover.test"),
                host,
                port,
                ssl=self.tls,
                server_hostname=host if self.tls else None,
            )
            await asyncio.wait_for(peer.opened, 5)
        except (OSError, TimeoutError, ConnectionError):
            return False
        self.connections[index] = peer
        return True

    def _peer(self, index: int) -> tuple[int, Peer] | None:
        """The first open connection from ``index`` on; reconnect the closed ones."""
        for step in range(len(self.peers)):
            i = (index + step) % len(self.peers)
            peer = self.connections[i]
            if peer is not None and not peer.closed.done():
                return i, peer
            self._reconnect_soon(i)
        return None

    def _reconnect_soon(self, index: int) -> None:
        if any(task.get_name() == f"reconnect-{index}" for task in self._reconnecting):
            return

        async def again() -> None:
            self.connections[index] = None
            for _ in range(int(self.give_up_after / 0.2)):  # an instance may stay down
                if await self._connect(index):
                    return
                await asyncio.sleep(0.2)

        task = asyncio.get_running_loop().create_task(again(), name=f"reconnect-{index}")
        self._reconnecting.add(task)
        task.add_done_callback(self._reconnecting.discard)

    async def request(self, body: bytes, home: int) -> tuple[bytes, bool]:
        """Send until answered with something else than 3004: (the final answer, whether it
        answered a retransmission)."""
        self._e2e += 1
        end_to_end = self._e2e
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.give_up_after
        index, attempt = home, 0
        while True:
            found = self._peer(index)
            answer: bytes | None = None
            if found is not None:
                index, peer = found
                future = peer.send_ccr(body, end_to_end, attempt > 0)
                try:
                    answer = await asyncio.wait_for(future, self.tx)
                except (TimeoutError, ConnectionError):
                    answer = None
                if answer is not None and answer_codes(answer)[0] != TOO_BUSY:
                    return answer, attempt > 0
            if loop.time() > deadline:
                raise AssertionError(f"no answer but 3004 for {self.give_up_after}s")
            attempt += 1
            self.tally.retransmissions += 1
            index += 1  # fail over to the next peer
            await asyncio.sleep(min(0.02 * attempt, 0.5))

    async def subscriber(self, msisdn: str, home: int, tag: str) -> None:
        """Sessions back to back until ``stopping``; the session in progress is finished."""
        builder = self.builder
        assert builder is not None
        subscriber = subscriber_avp(msisdn)
        sequence = 0
        while not self.stopping.is_set():
            sid = session_avp(f"{self.origin_host};{tag};{msisdn};{sequence}")
            sequence += 1
            answer, _ = await self.request(builder.build(sid, 1, 0, subscriber=subscriber), home)
            if not self._ok("CCR-I", msisdn, answer):
                await asyncio.sleep(0.1)
                continue
            number = 1
            for _ in range(self.updates):
                body = builder.build(sid, 2, number, used_octets=self.used_octets)
                number += 1
                if self._ok("CCR-U", msisdn, *await self.request(body, home)):
                    self.tally.charged[msisdn] += self.cost_per_report
            body = builder.build(sid, 3, number, used_octets=self.used_octets, requested=False)
            if self._ok("CCR-T", msisdn, *await self.request(body, home)):
                self.tally.charged[msisdn] += self.cost_per_report
            self.tally.sessions += 1

    def _ok(self, kind: str, msisdn: str, answer: bytes, retransmitted: bool = False) -> bool:
        result, mscc_result, _ = answer_codes(answer)
        ok = result == SUCCESS and mscc_result in (SUCCESS, None)
        self.tally.answered[f"{kind} {result}"] += 1
        if not ok:
            self.tally.refused.append((kind, msisdn, result, mscc_result))
        return ok

    async def close(self) -> None:
        for task in list(self._reconnecting):
            task.cancel()
        await asyncio.gather(*self._reconnecting, return_exceptions=True)
        for peer in self.connections:
            if peer is not None:
                await peer.close()
