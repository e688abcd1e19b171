"""Dispatch benchmark: CPU per request of the Diameter server's own path, handler excluded.

Run with ``make bench-dispatch``. One process runs a DiameterServer (peer state machine,
traffic, asyncio transport over real loopback TCP) whose CCR handler answers at once, and a
raw asyncio client that pipelines CCRs in batches of 200 and frames the answers. The figure
is the process CPU (``time.process_time``) per request: server path plus a thin client that
is the same in every version, so comparing two checkouts on one machine compares their
receive -> decode -> dispatch -> encode -> write path. Rounds of 30,000 after a warm-up; the
best and all rounds are printed (the usual way to time code on a shared machine).
Benchmarks are not tests: they print figures and assert nothing.

To compare with another checkout, alternate with this one:
``cd OTHER && PYTHONPATH=$PWD python -m ocs.bench.dispatch``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from ocs.config import DiameterConfig
from ocs.diameter import avps
from ocs.diameter.capabilities import Advertised, LocalNode, PeerInfo, build_cer
from ocs.diameter.codec import Identity, Message, encode_avp
from ocs.diameter.constants import Application, Command
from ocs.diameter.server import DiameterServer

BATCH = 200


def ccr(number: int) -> bytes:
    message = Message.request(Command.CREDIT_CONTROL, Application.CREDIT_CONTROL, proxiable=True)
    message.hop_by_hop = message.end_to_end = number
    message.add_raw(
        encode_avp(avps.SESSION_ID, "pgw1.mno.example;1700000000;1;1"),
        encode_avp(avps.ORIGIN_HOST, "pgw1.mno.example"),
        encode_avp(avps.ORIGIN_REALM, "mno.example"),
        encode_avp(avps.DESTINATION_REALM, "demo.local"),
        encode_avp(avps.AUTH_APPLICATION_ID, 4),
        encode_avp(avps.SERVICE_CONTEXT_ID, "32251@3gpp.org"),
        encode_avp(avps.CC_REQUEST_TYPE, 2),
        encode_avp(avps.CC_REQUEST_NUMBER, 1),
        encode_avp(
            avps.SUBSCRIPTION_ID,
            [(avps.SUBSCRIPTION_ID_TYPE, 0), (avps.SUBSCRIPTION_ID_DATA, "41790000001")],
        ),
        encode_avp(
            avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
            [
                (avps.REQUESTED_SERVICE_UNIT, []),
                (avps.USED_SERVICE_UNIT, [(avps.CC_TOTAL_OCTETS, 1048576)]),
                (avps.RATING_GROUP, 10),
            ],
        ),
    )
    return message.to_bytes()


def answer_at_once(request: Message, peer: PeerInfo) -> Message:
    return request.answer(2001, peer.local)


async def measure(rounds: int, per_round: int) -> list[float]:
    config = DiameterConfig.model_validate({"listen": "127.0.0.1:0", "drain_timeout": 1.0})
    server = DiameterServer(config)
    server.register(Application.CREDIT_CONTROL, Command.CREDIT_CONTROL, answer_at_once)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.listening[0][2])
    client = LocalNode(
        Identity("bench.mno.example", "mno.example"),
        applications=(Advertised(Application.CREDIT_CONTROL),),
    )
    writer.write(build_cer(client, ("127.0.0.1",)).to_bytes())
    await reader.read(65536)  # the CEA
    # distinct End-to-End ids: no request is a retransmission of another
    messages = [ccr(n) for n in range(1, (rounds + 1) * per_round + 1)]

    async def run(start: int, count: int) -> None:
        for first in range(start, start + count, BATCH):
            writer.write(b"".join(messages[first : first + BATCH]))
            waiting, buffered = BATCH, b""
            while waiting:
                buffered += await reader.read(1 << 20)
                while len(buffered) >= 4:
                    length = int.from_bytes(buffered[1:4], "big")
                    if len(buffered) < length:
                        break
                    buffered, waiting = buffered[length:], waiting - 1

    await run(0, per_round)  # warm-up: layout cache, duplicate cache, allocator
    figures = []
    for n in range(1, rounds + 1):
        used = time.process_time()
        await run(n * per_round, per_round)
        figures.append((time.process_time() - used) / per_round * 1e6)
    writer.close()
    await server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30_000, help="per round")
    args = parser.parse_args()
    figures = uvloop.run(measure(args.rounds, args.requests))
    print(
        f"dispatch: {min(figures):.2f} us CPU per request (best of {args.rounds} x "
        f"{args.requests:,}); all: " + ", ".join(f"{f:.2f}" for f in figures)
    )


if __name__ == "__main__":
    main()
