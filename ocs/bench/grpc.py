"""Benchmark: credit-control requests over gRPC, unary and on the bidirectional stream, next
to the charging core called directly (the reference, same process, same Redis, same run).

Every figure is CCR-UPDATE-like requests per second (commit used units, reserve the next
grant), from sessions opened beforehand. The client runs in the server's process and event
loop, so its CPU is counted too. Run with ``make bench-grpc``; the last line reads
``grpc: core X/s, unary Y/s (r1), stream Z/s (r2)``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import uvloop

from ocs.api.auth import Role
from ocs.api.v1 import common_pb2, credit_control_pb2, credit_control_pb2_grpc
from ocs.app import App
from ocs.balance.model import Identity
from ocs.charging.types import (
    ChargingRequest,
    RequestType,
    ServiceUnits,
    SubscriptionIdType,
    UsageItem,
)
from ocs.config import Config
from ocs.redis_server import RedisServer

MB = 1_000_000
CATALOG = Path(__file__).resolve().parents[2] / "config" / "catalog.toml"


def _item() -> credit_control_pb2.UsageItem:
    return credit_control_pb2.UsageItem(
        rating_group=100,
        requested=common_pb2.ServiceUnits(),
        used=[common_pb2.ServiceUnits(total_octets=MB)],
    )


async def _provision(app: App, subscribers: int) -> None:
    store = app.balance
    now = app.charging.clock()
    for n in range(subscribers):
        await store.create_customer(f"bc{n}", f"BC{n}", now_ms=now)
        await store.create_account(
            f"ba{n}", f"BA{n}", f"BC{n}", currency="EUR", now_ms=now, opening_balance=10**12
        )
        await store.create_subscriber(
            f"bs{n}",
            f"BS{n}",
            f"BA{n}",
            identities=[Identity("e164", f"4990{n:07d}")],
            now_ms=now,
            offers=["payg"],
        )


CPU: dict[str, float] = {}
"""Python CPU (client + server, this process; Redis excluded) per request, by phase."""


async def _measure(
    sessions: int, seconds: float, step: Callable[[int, int], Awaitable[object]], name: str
) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    cpu = time.process_time()

    async def run(n: int) -> None:
        nonlocal done
        rn = 1
        while time.perf_counter() < stop:
            await step(n, rn)
            rn += 1
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(n) for n in range(sessions)))
    CPU[name] = (time.process_time() - cpu) / max(done, 1)
    return done / (time.perf_counter() - started)


async def bench(sessions: int, subscribers: int, seconds: float, window: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp) / "redis", password="bench", appendonly=False)
        redis.start()
        try:
            config = Config.model_validate(
                {
                    "state_dir": str(Path(tmp) / "state"),
                    "catalog": str(CATALOG),
                    "redis": {"url": redis.url},
                    "metrics": {"enabled": False},
                    "diameter": {"enabled": False},
                    "grpc": {"listen": "127.0.0.1:0", "stream_window": window},
                }
            )
            app = App(config)
            await app.start()
            try:
                await _run(app, sessions, subscribers, seconds, window)
            finally:
                await app.stop()
        finally:
            redis.stop()


async def _run(app: App, sessions: int, subscribers: int, seconds: float, window: int) -> None:
    assert app.grpc is not None and app.grpc.tokens is not None
    await _provision(app, subscribers)
    token = app.grpc.tokens.create(Role.NETWORK_FUNCTION, "bench", ttl_s=3600)
    metadata = (("authorization", f"Bearer {token}"),)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}")
    stub = credit_control_pb2_grpc.CreditControlStub(channel)
    core = app.charging

    def msisdn(n: int) -> str:
        return f"4990{n % subscribers:07d}"

    # reference: the charging core called directly
    for n in range(sessions):
        await core.handle(
            ChargingRequest(
                f"core-{n}",
                RequestType.INITIAL,
                0,
                "bench",
                "bench",
                subscription_ids=[(SubscriptionIdType.END_USER_E164, msisdn(n))],
                items=[UsageItem(100, requested=ServiceUnits())],
            )
        )

    async def core_step(n: int, rn: int) -> object:
        return await core.handle(
            ChargingRequest(
                f"core-{n}",
                RequestType.UPDATE,
                rn,
                "bench",
                "bench",
                items=[
                    UsageItem(100, requested=ServiceUnits(), used=[ServiceUnits(total_octets=MB)])
                ],
            )
        )

    # unary gRPC
    for n in range(sessions):
        await stub.Initial(
            credit_control_pb2.SessionRequest(
                session_id=f"unary-{n}",
                subscriber=common_pb2.SubscriberRef(msisdn=msisdn(n)),
                items=[
                    credit_control_pb2.UsageItem(
                        rating_group=100, requested=common_pb2.ServiceUnits()
                    )
                ],
            ),
            metadata=metadata,
        )

    async def unary_step(n: int, rn: int) -> object:
        return await stub.Update(
            credit_control_pb2.SessionRequest(
                session_id=f"unary-{n}", request_number=rn, items=[_item()]
            ),
            metadata=metadata,
        )

    figures = {}
    figures["core"] = await _measure(sessions, seconds, core_step, "core")
    figures["unary"] = await _measure(sessions, seconds, unary_step, "unary")
    figures["stream"] = await _stream(stub, metadata, sessions, seconds, msisdn)
    await channel.close()
    print(
        f"setup: {sessions} sessions over {subscribers} subscribers, {seconds:.0f} s each, "
        f"stream window {window}, client in the server's process"
    )
    for name, rate in figures.items():
        print(
            f"{name:>7}: {rate:10.0f} requests/s  ({rate / figures['core']:.2f} of core), "
            f"{CPU[name] * 1e6:.0f} us Python CPU per request"
        )
    print(
        f"grpc: core {figures['core']:.0f}/s, unary {figures['unary']:.0f}/s "
        f"({figures['unary'] / figures['core']:.2f}), stream {figures['stream']:.0f}/s "
        f"({figures['stream'] / figures['core']:.2f})"
    )


async def _stream(
    stub: credit_control_pb2_grpc.CreditControlStub,
    metadata: tuple[tuple[str, str], ...],
    sessions: int,
    seconds: float,
    msisdn: Callable[[int], str],
) -> float:
    """One stream; every session keeps one request in flight (next number when answered)."""
    outbox: asyncio.Queue[credit_control_pb2.StreamRequest | None] = asyncio.Queue()
    Kind = credit_control_pb2.StreamRequest.Kind
    for n in range(sessions):
        outbox.put_nowait(
            credit_control_pb2.StreamRequest(
                tag=n * 1_000_000,
                kind=Kind.KIND_INITIAL,
                request=credit_control_pb2.SessionRequest(
                    session_id=f"stream-{n}",
                    subscriber=common_pb2.SubscriberRef(msisdn=msisdn(n)),
                    items=[
                        credit_control_pb2.UsageItem(
                            rating_group=100, requested=common_pb2.ServiceUnits()
                        )
                    ],
                ),
            )
        )

    async def requests() -> AsyncIterator[credit_control_pb2.StreamRequest]:
        while (request := await outbox.get()) is not None:
            yield request

    call = stub.Stream(requests(), metadata=metadata)
    done, started, stop, cpu = 0, 0.0, 0.0, 0.0
    async for answer in call:
        n, rn = divmod(answer.tag, 1_000_000)
        if answer.HasField("error"):
            raise RuntimeError(answer.error.message)
        now = time.perf_counter()
        if rn == 0 and not started:
            started, stop, cpu = now, now + seconds, time.process_time()
        if rn:
            done += 1
        if now >= stop and started:
            outbox.put_nowait(None)
            break
        outbox.put_nowait(
            credit_control_pb2.StreamRequest(
                tag=n * 1_000_000 + rn + 1,
                kind=Kind.KIND_UPDATE,
                request=credit_control_pb2.SessionRequest(
                    session_id=f"stream-{n}", request_number=rn + 1, items=[_item()]
                ),
            )
        )
    call.cancel()
    CPU["stream"] = (time.process_time() - cpu) / max(done, 1)
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--subscribers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()
    uvloop.run(bench(args.sessions, args.subscribers, args.seconds, args.window))


if __name__ == "__main__":
    main()
