"""Where Redis spends a session script's time (CCR-U, one rating group, one money bucket).

The session script is run cut short before each of its phases (``do return end`` inserted
before the phase's first line), each variant replaying the same CCR-Us on one raw pipelined
connection; Redis' own ``usec_per_call`` (INFO commandstats) of the variants, one after the
other, gives what each phase adds. The first write of a script also starts its propagation
(MULTI, and the append-only file): that cost lands on the phase of the XADD. The cut variants
save nothing, so each of their calls finds the session as the CCR-I left it; the whole script
comes last but one.

The last lines are floors, as a share of the whole script: an empty script, the event alone,
``FLOOR``, which reads and writes the same records and adds the same event with no charging
logic at all (what any session script with these records, an event per request and an
append-only file costs on this Redis), and ``HASH_FLOOR``, the same work with the fields kept
in hashes instead of packed records. Run with ``make bench-lua``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import tempfile
from pathlib import Path
from typing import Any

import hiredis
import uvloop

from ocs.balance.engine import RedisTarget
from ocs.balance.scripts import load_scripts
from ocs.balance.store import BalanceStore
from ocs.bench.balance import _ceiling, _op, _provision, _read, evalsha_usec, session_command
from ocs.config import BalanceConfig
from ocs.redis_server import RedisServer

_pack: Any = hiredis.pack_command

# (what the phase does, the first line of the next phase in lua/session.lua)
PHASES = (
    ("call overhead and the prelude's functions", "local r = cmsgpack.unpack(ARGV[1])"),
    ("unpack the request", "local sess = load_session(KEYS[1])"),
    ("read the session record, checks", "local acct, parent, refused = accounts("),
    ("read the account and the subscriber", "local ctx = new_ctx(now, acct, parent)"),
    ("settle the usage, reserve the next grant", "local rows_packed = cmsgpack.pack(items)"),
    ("pack the answer, the event: XADD, the first write", "thresholds(ctx, KEYS[8]"),
    ("thresholds, write the account", "if terminate then"),
    ("write the session record (the whole script)", None),
)

FLOOR = """
local r = cmsgpack.unpack(ARGV[1])
local s = cmsgpack.unpack(redis.call('GET', KEYS[1]))
local a = cmsgpack.unpack(redis.call('GET', KEYS[2]))
local sub = redis.call('GET', KEYS[4]) -- read, as the script reads it, and not looked at
local money = a.buckets.money
money.balance = money.balance - 1
local rows = cmsgpack.pack(r[10])
-- the event: the 18 fields of a v2 session event, about as many bytes as the script's
redis.call('XADD', KEYS[8], '*', 'e', '\\220\\000\\018' .. cmsgpack.pack(2, 'session', r[11], r[4],
  a.cust, a.id, s[7], s[6], r[1], r[2], r[3], r[8], r[9]) .. ARGV[2]
  .. cmsgpack.pack({ money = money.balance }, { money = -1 }, {}) .. rows)
redis.call('SET', KEYS[2], cmsgpack.pack(a))
s[2] = r[2]
redis.call('SET', KEYS[1], cmsgpack.pack(s))
return rows
"""

# The floor of another layout: the fields a CCR-U reads and writes kept as hash fields (the
# session's and the account's own keys with ':h' appended), so no record is unpacked or packed.
HASH_FLOOR = """
local r = cmsgpack.unpack(ARGV[1])
local hs, ha = KEYS[1] .. ':h', KEYS[2] .. ':h'
local s = redis.call('HMGET', hs, 'rn', 'acct', 'par', 'sub', 'exp', 'hold')
local a = redis.call('HMGET', ha, 'status', 'balance', 'reserved', 'credit_limit')
local sub = redis.call('GET', KEYS[4])
local balance = redis.call('HINCRBY', ha, 'balance', -1)
redis.call('HINCRBY', ha, 'reserved', 0)
local rows = cmsgpack.pack(r[10])
redis.call('XADD', KEYS[8], '*', 'e', '\\220\\000\\018' .. cmsgpack.pack(2, 'session', r[11], r[4],
  'cust', 'acct', 'sub', '', r[1], r[2], r[3], r[8], r[9]) .. ARGV[2]
  .. cmsgpack.pack({ money = balance }, { money = -1 }, {}) .. rows)
redis.call('HSET', hs, 'rn', r[2], 'exp', r[4], 'hold', rows, 'reply', rows)
return rows
"""

# Floors: what a script costs with no charging logic, compared with the whole session script.
FLOORS = (
    ("floor: an empty script (the call, its KEYS and ARGV)", "return 1"),
    (
        "floor: the event alone (one XADD of the request's bytes)",
        "redis.call('XADD', KEYS[8], '*', 'e', ARGV[1] .. ARGV[2]) return 1",
    ),
    ("floor: the same records read and written, the same event, no charging logic", FLOOR),
    (
        "floor: the same, hot fields kept in hashes (HMGET, HINCRBY, HSET; nothing unpacked)",
        HASH_FLOOR,
    ),
)


def variants(text: str) -> list[tuple[str, bytes]]:
    """The session script cut before each phase's successor (the last: whole)."""
    head, marker, _ = text.partition("-- session.lua\n")
    body = text[len(head) + len(marker) :]
    out = []
    for name, stop in PHASES:
        if stop is None:
            out.append((name, text.encode()))
            continue
        at = body.index("\n" + stop) + 1
        cut = body[:at] + "do return 'cut' end\n" + body[at:]
        out.append((name, (head + marker + cut).encode()))
    return out


def _call(sock: socket.socket, reader: Any, *args: Any) -> Any:
    sock.sendall(_pack(args))
    reply = _read(sock, reader, 1)[0]
    if isinstance(reply, hiredis.ReplyError):
        raise RuntimeError(f"{args[0]}: {reply}")
    return reply


async def prepared(url: str, sessions: int, rounds: int) -> list[tuple[Any, ...]]:
    """Open ``sessions`` sessions (CCR-I); the (KEYS, ARGV) of their next ``rounds`` CCR-Us."""
    store = BalanceStore(RedisTarget(url=url), BalanceConfig(), 64)
    await store.start()
    try:
        subscribers = min(sessions, 200)
        await _provision(store, subscribers)
        await asyncio.gather(
            *(store.session(_op(store, n, 0, subscribers)) for n in range(sessions))
        )
        calls = []
        for rn in range(1, rounds + 1):
            for n in range(sessions):
                _, keys, args = session_command(store, _op(store, n, rn, subscribers))
                calls.append((len(keys), *keys, *args))
        return calls
    finally:
        await store.stop()


def _usec_per_call(
    server: RedisServer,
    sock: socket.socket,
    reader: Any,
    script: bytes,
    calls: list[Any],
    depth: int,
) -> float:
    sha = _call(sock, reader, "SCRIPT", "LOAD", script)
    _call(sock, reader, "CONFIG", "RESETSTAT")
    _ceiling(server, [_pack(("EVALSHA", sha, *call)) for call in calls], depth)
    return evalsha_usec(_call(sock, reader, "INFO", "commandstats").decode())


def replay(server: RedisServer, calls: list[tuple[Any, ...]], depth: int) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(server.socket_path))
    reader = hiredis.Reader()
    _call(sock, reader, "AUTH", server.password)
    text = load_scripts()["session"].text.decode()
    before = 0.0
    print(f"bench-lua: {len(calls):,} CCR-U per variant, depth {depth}")
    for name, script in variants(text):
        total = _usec_per_call(server, sock, reader, script, calls, depth)
        print(f"bench-lua: {total:6.1f} us  (+{total - before:5.1f})  {name}")
        before = total
    for name, floor in FLOORS:
        total = _usec_per_call(server, sock, reader, floor.encode(), calls, depth)
        print(f"bench-lua: {total:6.1f} us  ({100 * total / before:3.0f} %)  {name}")
    sock.close()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="ocs-bench-") as tmp:
        server = RedisServer(Path(tmp), password=secrets.token_urlsafe(16), appendonly=True)
        server.start()
        try:
            calls = await prepared(server.url, args.sessions, args.rounds)
            replay(server, calls, args.depth)
        finally:
            server.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=40, help="CCR-Us per session")
    parser.add_argument("--depth", type=int, default=256, help="pipeline depth")
    uvloop.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
