"""Benchmark: reserve+commit cycles (CCR-U: commit used units and reserve the next grant) from
one Python process through the engine, next to the ceiling of the same scripts on the same Redis
in the same run: the identical EVALSHA commands replayed by a deeply pipelined raw client
(hiredis, one socket, no asyncio). Run with ``make bench-balance``; the last line reads
``balance: ours X ops/s, ceiling Y ops/s, ratio Z``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import hiredis
import uvloop

from ocs.balance import codec
from ocs.balance.engine import RedisTarget
from ocs.balance.model import Identity, RequestType, Segment, SessionItem, SessionOp, Tariff, Unit
from ocs.balance.store import BalanceStore, session_keys
from ocs.config import BalanceConfig
from ocs.redis_server import RedisServer

NOW = 1_790_000_000_000
TARIFF = Tariff(Unit.OCTETS, (Segment(0, 1_000_000, 1),))
_pack: Any = hiredis.pack_command


def _item(used: int) -> tuple[SessionItem, ...]:
    return (SessionItem(10, None, used, 1_000_000, TARIFF, 600_000, 30_000),)


def _op(store: BalanceStore, n: int, rn: int, subscribers: int) -> SessionOp:
    who = n % subscribers
    rt = RequestType.INITIAL if rn == 0 else RequestType.UPDATE
    return SessionOp(
        f"sess-{n}",
        rn,
        rt,
        store.partition_of(f"C{who}"),
        f"C{who}",
        f"A{who}",
        f"S{who}",
        NOW + rn,
        _item(500_000 if rn else 0),
        "pgw.bench",
        "bench",
    )


async def _provision(store: BalanceStore, subscribers: int) -> None:
    for who in range(subscribers):
        await store.create_customer(f"c{who}", f"C{who}", now_ms=NOW)
        await store.create_account(
            f"a{who}", f"A{who}", f"C{who}", currency="EUR", now_ms=NOW, opening_balance=10**12
        )
        await store.create_subscriber(
            f"s{who}",
            f"S{who}",
            f"A{who}",
            identities=[Identity("e164", f"49{who:09d}")],
            now_ms=NOW,
        )


async def _ours(store: BalanceStore, sessions: int, subscribers: int, seconds: float) -> float:
    """Each of ``sessions`` tasks runs one session: CCR-I, then CCR-U after CCR-U."""
    await asyncio.gather(*(store.session(_op(store, n, 0, subscribers)) for n in range(sessions)))
    await store.execute(0, "CONFIG", "RESETSTAT")
    done = 0
    stop = time.perf_counter() + seconds

    async def run(n: int) -> None:
        nonlocal done
        rn = 1
        while time.perf_counter() < stop:
            result = await store.session(_op(store, n, rn, subscribers))
            assert result.items[0].granted, result
            rn += 1
            done += 1

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(run(n) for n in range(sessions)))
    elapsed = time.perf_counter() - start
    used = time.process_time() - cpu
    print(f"ours: client CPU {used / elapsed:.0%} of a core, {used / done * 1e6:.0f} us per call")
    print(f"ours: redis {await _script_usec(store):.1f} us per session script (INFO commandstats)")
    return done / elapsed


async def _script_usec(store: BalanceStore) -> float:
    """Redis' own time per EVALSHA since the last CONFIG RESETSTAT."""
    return evalsha_usec((await store.execute(0, "INFO", "commandstats")).decode())


def evalsha_usec(commandstats: str) -> float:
    """``usec_per_call`` of EVALSHA in an ``INFO commandstats`` reply (0 if none ran)."""
    for line in commandstats.splitlines():
        if line.startswith("cmdstat_evalsha:"):
            stats = dict(field.split("=") for field in line.split(":", 1)[1].split(","))
            return float(stats["usec_per_call"])
    return 0.0


async def _ceiling_commands(
    store: BalanceStore, sessions: int, subscribers: int, rounds: int
) -> list[bytes]:
    offset = 10_000_000  # fresh sessions, same work per call
    await asyncio.gather(
        *(store.session(_op(store, offset + n, 0, subscribers)) for n in range(sessions))
    )
    sha = store.scripts["session"].sha
    commands = []
    for rn in range(1, rounds + 1):
        for n in range(sessions):
            _, keys, args = session_command(store, _op(store, offset + n, rn, subscribers))
            commands.append(_pack(("EVALSHA", sha, len(keys), *keys, *args)))
    return commands


def _ceiling(server: RedisServer, commands: list[bytes], depth: int) -> float:
    """Replay the commands on one raw socket, two batches of ``depth`` in flight."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(server.socket_path))
    reader = hiredis.Reader()
    sock.sendall(_pack(("AUTH", server.password)))
    _read(sock, reader, 1)
    batches = [b"".join(commands[i : i + depth]) for i in range(0, len(commands), depth)]
    sizes = [len(commands[i : i + depth]) for i in range(0, len(commands), depth)]
    start = time.perf_counter()
    sock.sendall(batches[0])
    for i, size in enumerate(sizes):
        if i + 1 < len(batches):  # keep the next batch queued while reading this one
            sock.sendall(batches[i + 1])
        replies = _read(sock, reader, size)
        if isinstance(replies[-1], hiredis.ReplyError):
            raise RuntimeError(f"ceiling command failed: {replies[-1]}")
    elapsed = time.perf_counter() - start
    sock.close()
    return len(commands) / elapsed


def _read(sock: socket.socket, reader: Any, count: int) -> list[Any]:
    replies: list[Any] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is False:
            reader.feed(sock.recv(1 << 20))
            continue
        replies.append(reply)
    return replies


TINY = b"return ARGV[1]"


async def _clients(server: RedisServer, seconds: float, concurrency: int) -> None:
    """Client cost alone: a trivial script through each candidate client (--clients)."""
    import redis.asyncio

    from ocs.balance.client import Address, NodeConnection

    async def drive(name: str, call: Any) -> None:
        done = 0
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                calls = await call()
                done += calls

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"client {name}: {done / elapsed:,.0f} EVALSHA/s, "
            f"{used / done * 1e6:.1f} us client CPU per call"
        )

    ours = NodeConnection(Address.from_url(server.url))
    sha = await ours.execute("SCRIPT", "LOAD", TINY)

    async def ours_call() -> int:
        await ours.send(("EVALSHA", sha, 0, b"x"))
        return 1

    await drive("ocs batching connection", ours_call)
    await ours.close()
    pool = redis.asyncio.Redis(
        connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
            server.url, max_connections=64
        )
    )

    async def one_per_await() -> int:
        await pool.evalsha(sha.decode(), 0, "x")
        return 1

    async def pipeline_of_128() -> int:
        pipe = pool.pipeline(transaction=False)
        for _ in range(128):
            pipe.evalsha(sha.decode(), 0, "x")
        await pipe.execute()
        return 128

    await drive("redis-py asyncio, one EVALSHA per await", one_per_await)
    await drive("redis-py asyncio pipelines of 128", pipeline_of_128)
    await pool.aclose()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="ocs-bench-") as tmp:
        server = RedisServer(
            Path(tmp), password=secrets.token_urlsafe(16), appendonly=True, appendfsync="no"
        )
        server.start()
        try:
            if args.clients:
                await _clients(server, args.seconds, args.concurrency)
            store = BalanceStore(RedisTarget(url=server.url), BalanceConfig(), 64)
            await store.start()
            await _provision(store, args.subscribers)
            ours = await _ours(store, args.concurrency, args.subscribers, args.seconds)
            print(f"ours: {args.concurrency} concurrent sessions, {ours:,.0f} CCR-U/s")
            commands = await _ceiling_commands(
                store,
                args.concurrency,
                args.subscribers,
                max(1, int(ours * args.seconds) // args.concurrency),
            )
            await store.stop()
            ceiling = _ceiling(server, commands, args.depth)
            print(
                f"ceiling: {len(commands):,} identical EVALSHA, depth {args.depth}: "
                f"{ceiling:,.0f} ops/s"
            )
        finally:
            server.stop()
    print(
        f"balance: ours {ours:.0f} ops/s, ceiling {ceiling:.0f} ops/s, ratio {ours / ceiling:.2f}"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=512, help="sessions in flight")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--depth", type=int, default=512, help="ceiling pipeline depth")
    parser.add_argument("--clients", action="store_true", help="first compare client libraries")
    uvloop.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()


def session_command(
    store: BalanceStore, op: SessionOp
) -> tuple[int, list[str], tuple[bytes, bytes]]:
    """(slot, KEYS, ARGV) of the session script for ``op``: the exact bytes
    :meth:`BalanceStore.session` sends (the ceiling replays them on a raw connection)."""
    p, request, info, acct, parent, sub = store.session_request(op)
    keys = session_keys(p, request, acct, parent, sub)
    return p.slot, keys, (codec.pack(request), info)
