"""A/B: the same load against this checkout and another, in alternating rounds, in one run.

    .venv/bin/python -m ocs.bench.ab ../ocs-94cca2e --rounds 5 --duration 20
    make bench-ab OTHER=../ocs-94cca2e

Each round starts ``ocs serve`` of one side (its own checkout and its own ``.venv``; ``make
install`` is run there first if it has none) on the embedded default with a fresh state dir
and free ports, provisions fresh Pay-as-you-go subscribers with that side's own code, drives
it with this checkout's load generator (real Diameter: the gateway profile by default, see
``ocs bench --profile``), measures, checks every balance to the cent with that side's code, and
stops it; then the other side, in the opposite order the next round, so a drift of the
machine's speed falls on both.

CPU per CCR is read from ``/proc`` for every process the side's server started: the ``ocs``
processes (master and workers) and its ``redis-server``, apart; the load generator's is its
own. The figures only compare within one run on one machine. The last lines give the medians
per side and the ratios (this / other).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from ocs.bench.plan import WorkerPlan, WorkerResult
from ocs.bench.runner import _cost_per_report, cost_per_event
from ocs.bench.stats import Stats
from ocs.bench.workload import worker_main
from ocs.policy.catalog import load_catalog

HERE = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")

SIDE = r"""
import asyncio, json, sys, time
from ocs.balance.engine import RedisTarget
from ocs.balance.model import Identity
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig

url, partitions, action, opening = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
data = json.load(sys.stdin)

async def main():
    store = BalanceStore(RedisTarget(url=url), BalanceConfig(), partitions)
    await store.start()
    problems = []
    try:
        now = int(time.time() * 1000)
        gate = asyncio.Semaphore(64)
        async def provision(msisdn):
            async with gate:
                ident = f"ab-{msisdn}"
                await store.create_customer(f"ab:c:{ident}", ident, now_ms=now)
                await store.create_account(f"ab:a:{ident}", ident, ident, currency="EUR",
                                           now_ms=now, opening_balance=opening)
                await store.create_subscriber(f"ab:s:{ident}", ident, ident,
                                              identities=[Identity("e164", msisdn)],
                                              now_ms=now, offers=("payg",))
        if action == "provision":
            await asyncio.gather(*(provision(m) for m in data))
        else:
            for msisdn, charged in data.items():
                account = await store.get_account(f"ab-{msisdn}")
                if account is None:
                    problems.append(f"{msisdn}: no account")
                elif account.money != opening - charged:
                    problems.append(f"{msisdn}: {account.money} != {opening - charged}")
                elif sum(b.reserved for b in account.buckets):
                    problems.append(f"{msisdn}: still reserved")
    finally:
        await store.stop()
    print(json.dumps(problems))

asyncio.run(main())
"""


@dataclass
class Round:
    side: str
    ccr_per_s: float
    p50_ms: float
    p99_ms: float
    ocs_us: float
    redis_us: float
    client_us: float
    exact: bool
    problems: list[str]
    commands: dict[str, float] = field(default_factory=dict)
    """Redis commands per CCR during the load, by command (INFO commandstats)."""

    @property
    def total_us(self) -> float:
        return self.ocs_us + self.redis_us


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _python(checkout: Path) -> Path:
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        print(f"ab: installing {checkout} (make install) ...", flush=True)
        subprocess.run(["make", "-C", str(checkout), "install"], check=True)
    return python


def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def _cpu(pids: list[int]) -> tuple[float, float]:
    """(CPU seconds of the ocs processes, of the redis-servers) among ``pids``."""
    ocs = redis = 0.0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICKS
        if name.startswith("redis-server"):
            redis += seconds
        else:
            ocs += seconds
    return ocs, redis


def _side(
    python: Path, checkout: Path, url: str, action: str, data: object, opening: int
) -> list[str]:
    result = subprocess.run(
        [str(python), "-c", SIDE, url, "64", action, str(opening)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        cwd=checkout,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"ab: {checkout} {action} failed:\n{result.stderr[-2000:]}")
    problems: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return problems


def _redis_url(state: Path) -> str | None:
    path = state / "redis" / "url"
    return path.read_text().strip() if path.exists() else None


def one_round(name: str, checkout: Path, args: argparse.Namespace, index: int) -> Round:
    python = _python(checkout)
    state = Path(tempfile.mkdtemp(prefix=f"ab-{name}-"))
    diameter = _free_port()
    environ = {
        **os.environ,
        "OCS_STATE_DIR": str(state),
        "OCS_METRICS_ENABLED": "false",
        "OCS_DIAMETER_LISTEN": f"127.0.0.1:{diameter}",
        "OCS_GRPC_ENABLED": "false",
        "OCS_BILLING_ENABLED": "false",
        "OCS_DEMO_SUBSCRIBERS": "0",
        "OCS_LOG_LEVEL": "warning",
        "OCS_WORKERS": str(args.workers),
    }
    # switches that only one side knows would stop the other's start: set what exists
    text = (checkout / "ocs" / "config.py").read_text()
    for section in ("nchf", "portal"):
        if f"class {section.capitalize()}Config" in text:
            environ[f"OCS_{section.upper()}_ENABLED"] = "false"
    server = subprocess.Popen(
        [str(python), "-m", "ocs", "serve", "--config", str(checkout / "config" / "ocs.toml")],
        cwd=checkout,
        env=environ,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"ab: {name}: ocs serve exited ({server.returncode})")
            url = _redis_url(state)
            if url:
                try:
                    socket.create_connection(("127.0.0.1", diameter), timeout=1).close()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"ab: {name}: ocs serve did not come up")
            time.sleep(0.2)
        msisdns = [f"77{index:03d}{n:06d}" for n in range(args.gateways * args.in_flight)]
        _side(python, checkout, url, "provision", msisdns, args.opening)
        before_commands = _command_calls(url)
        measured = _load(args, diameter, msisdns, server.pid)
        after_commands = _command_calls(url)
        expected = {m: c for m, c in measured[1].expected.items() if m not in measured[2]}
        problems = _side(python, checkout, url, "verify", expected, args.opening)
        stats, result, unknown, elapsed, ocs_s, redis_s = measured
        if unknown:
            problems.append(f"{len(unknown)} subscribers with unknown outcomes")
        count = max(stats.count, 1)
        return Round(
            name,
            stats.count / elapsed,
            stats.percentile(0.50) / 1000,
            stats.percentile(0.99) / 1000,
            ocs_s / count * 1e6,
            redis_s / count * 1e6,
            result.cpu_seconds / count * 1e6,
            not problems,
            problems,
            {
                command: (calls - before_commands.get(command, 0)) / count
                for command, calls in after_commands.items()
                if calls > before_commands.get(command, 0)
            },
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(state, ignore_errors=True)


def _load(
    args: argparse.Namespace, port: int, msisdns: list[str], server_pid: int
) -> tuple[Stats, WorkerResult, set[str], float, float, float]:
    catalog = load_catalog(HERE / "config" / "catalog.toml")
    run_id = f"ab{int(time.time()) % 100000}"
    context = multiprocessing.get_context("spawn")
    measure, stop = context.Event(), context.Event()
    results = context.Queue()
    plans = [
        WorkerPlan(
            index=i,
            run_id=run_id,
            host="127.0.0.1",
            port=port,
            connections=1,
            subscribers=msisdns[i :: args.gateways],
            updates=args.updates,
            used_octets=args.used_octets,
            cost_per_report=_cost_per_report(catalog, args.used_octets),
            rate=args.rate / args.gateways,
            events_every=args.events_every,
            cost_per_event=cost_per_event(catalog),
        )
        for i in range(args.gateways)
    ]
    processes = [
        context.Process(target=worker_main, args=(plan, measure, stop, results), daemon=True)
        for plan in plans
    ]
    for process in processes:
        process.start()
    time.sleep(args.warmup)
    pids = _tree(server_pid)
    before = _cpu(pids)
    started = time.perf_counter()
    measure.set()
    time.sleep(args.duration)
    stop.set()
    elapsed = time.perf_counter() - started
    after = _cpu(pids)
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    errors = [o for o in outcomes if o[0] == "error"]
    if errors:
        raise SystemExit(f"ab: load process failed: {errors}")
    stats = Stats()
    merged = WorkerResult(index=0, stats=stats)
    unknown: set[str] = set()
    for _, _, result in outcomes:
        stats.merge(result.stats)
        merged.expected.update(result.expected)
        merged.cpu_seconds += result.cpu_seconds
        unknown.update(result.unverifiable)
    return stats, merged, unknown, elapsed, after[0] - before[0], after[1] - before[1]


def _command_calls(url: str) -> dict[str, int]:
    """Calls so far per command of the redis-server at ``url``."""
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def _commands(r: Round) -> str:
    shown = sorted(r.commands.items(), key=lambda kv: -kv[1])
    listed = " ".join(f"{name} {per:.3f}" for name, per in shown if per >= 0.001)
    return f"    redis commands per CCR {sum(r.commands.values()):.3f}: {listed}"


def _line(r: Round) -> str:
    verdict = "exact" if r.exact else "NOT EXACT: " + "; ".join(r.problems[:3])
    return (
        f"  {r.side:<6} {r.ccr_per_s:>8,.0f} CCR/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:7.2f} ms"
        f"  ocs {r.ocs_us:6.1f} us  redis {r.redis_us:5.1f} us  total {r.total_us:6.1f} us"
        f"  client {r.client_us:5.1f} us/CCR  balances {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (B)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--gateways", type=int, default=1, help="one connection each")
    parser.add_argument("--in-flight", type=int, default=100, help="sessions per gateway")
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--events-every", type=int, default=10)
    parser.add_argument("--used-octets", type=int, default=5_000_000)
    parser.add_argument("--opening", type=int, default=100_000_000)
    parser.add_argument("--rate", type=float, default=0.0, help="CCR/s in all; 0 = maximum")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    sides = {"A": HERE, "B": args.other.resolve()}
    print(
        f"ab: A = {sides['A']}, B = {sides['B']}; {args.gateways} gateway(s) x "
        f"{args.in_flight} sessions in flight, {args.updates} CCR-U per session, every "
        f"{args.events_every}th an SMS event, "
        + (f"{args.rate:g} CCR/s" if args.rate else "maximum rate")
        + f", {args.rounds} rounds of {args.duration:g} s; {os.cpu_count()} cores",
        flush=True,
    )
    rounds: list[Round] = []
    for n in range(args.rounds):
        order = ["A", "B"] if n % 2 == 0 else ["B", "A"]
        print(f"round {n + 1}", flush=True)
        for name in order:
            result = one_round(name, sides[name], args, n * 2 + order.index(name))
            rounds.append(result)
            print(_line(result), flush=True)
            print(_commands(result), flush=True)
    print("medians:")
    med: dict[str, dict[str, float]] = {}
    for name in ("A", "B"):
        mine = [r for r in rounds if r.side == name]
        med[name] = {
            key: statistics.median(getattr(r, key) for r in mine)
            for key in ("ccr_per_s", "p50_ms", "p99_ms", "ocs_us", "redis_us", "total_us")
        }
        m = med[name]
        print(
            f"  {name}: {m['ccr_per_s']:,.0f} CCR/s, p50 {m['p50_ms']:.2f} ms, "
            f"p99 {m['p99_ms']:.2f} ms, ocs {m['ocs_us']:.1f} us + redis {m['redis_us']:.1f} us"
            f" = {m['total_us']:.1f} us per CCR"
        )
    a, b = med["A"], med["B"]
    print(
        f"ratios A/B: server+redis CPU per CCR {a['total_us'] / b['total_us']:.2f}, "
        f"ocs {a['ocs_us'] / b['ocs_us']:.2f}, redis {a['redis_us'] / b['redis_us']:.2f}, "
        f"CCR/s {a['ccr_per_s'] / b['ccr_per_s']:.2f}, p99 {a['p99_ms'] / b['p99_ms']:.2f}"
    )
    # Machines drift (other tenants, clocks): the ratio within each round, A and B run back to
    # back, is steadier than the ratio of the medians.
    pairs = list(zip(rounds[0::2], rounds[1::2], strict=True))
    per_round = [
        (x.total_us / y.total_us, x.redis_us / y.redis_us)
        if x.side == "A"
        else (y.total_us / x.total_us, y.redis_us / x.redis_us)
        for x, y in pairs
    ]
    print(
        "ratios A/B within each round (server+redis, redis): "
        + ", ".join(f"{t:.2f} {r:.2f}" for t, r in per_round)
        + f"; median {statistics.median(t for t, _ in per_round):.2f}, "
        f"{statistics.median(r for _, r in per_round):.2f}"
    )
    exact = all(r.exact for r in rounds)
    print("ab: balances exact in every round" if exact else "ab: BALANCES NOT EXACT")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
