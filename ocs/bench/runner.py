"""``ocs bench``: drive a running ocs with real Diameter (or Nchf) sessions, then check the money.

1. Provision ``--subscribers`` fresh subscribers (Pay-as-you-go, ``--opening``
   cents) through the balance engine of the server's Redis.
2. Start ``--processes`` load processes, each with ``--connections``
   connections; after ``--warmup`` seconds measure for ``--duration`` seconds.
3. Read the server's CPU from its own ``/metrics`` and Redis's from INFO.
4. Check that every subscriber's balance is its opening balance minus exactly
   what its answered reports cost, and that nothing is left reserved.

The last line reads ``bench: X CCR/s, p99 Y ms, Z us server CPU per CCR,
balances exact`` (or what went wrong). ``--protocol nchf`` runs the same sessions as
Nchf_ConvergedCharging create/update/release over HTTP/2 (:mod:`ocs.bench.nchf`): "CCR"
then counts Nchf requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families

from ocs import config as config_module
from ocs.balance.engine import RedisTarget
from ocs.balance.model import Identity, Outcome
from ocs.balance.store import BalanceStore
from ocs.bench.plan import WorkerPlan, WorkerResult
from ocs.bench.stats import Stats
from ocs.bench.workload import worker_main
from ocs.config import BalanceConfig, Config, split_listen
from ocs.embedded_redis import running_server_url
from ocs.policy.catalog import Catalog, load_catalog
from ocs.policy.rating import rate as rate_service
from ocs.policy.tariff import cost

OFFER = "payg"
RATING_GROUP = 100


@dataclass
class Measured:
    ccr_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    server_us: float | None
    redis_us: float | None
    client_us: float
    exact: bool
    problems: list[str]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="the server's config file")
    parser.add_argument(
        "--diameter", help="host:port of ocs (default: the config's diameter.listen)"
    )
    parser.add_argument("--metrics", help="the server's /metrics URL (default: from the config)")
    parser.add_argument(
        "--protocol",
        choices=("diameter", "nchf"),
        default="diameter",
        help="Gy CCRs over Diameter, or Nchf_ConvergedCharging over HTTP/2 (h2c)",
    )
    parser.add_argument(
        "--nchf", help="host:port of ocs's Nchf (default: the config's nchf.listen)"
    )
    parser.add_argument(
        "--profile",
        choices=("default", "gateway"),
        default="default",
        help="default: --processes x --connections, --subscribers sessions in flight, "
        "--updates CCR-Us each; gateway: the shape of gateways in the field: --gateways load "
        "processes of one connection each, --in-flight sessions on each, 4 CCR-Us per session "
        "(fresh Session-Ids), every --events-every-th one an SMS CCR-EVENT instead",
    )
    parser.add_argument("--gateways", type=int, default=2, help="gateway profile: gateways")
    parser.add_argument(
        "--in-flight", type=int, default=100, help="gateway profile: sessions per gateway"
    )
    parser.add_argument(
        "--events-every",
        type=int,
        default=None,
        help="every n-th session is an SMS CCR-EVENT (gateway profile: 10; default: none)",
    )
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4, help="per process")
    parser.add_argument("--subscribers", type=int, default=512, help="sessions in flight, in all")
    parser.add_argument(
        "--updates", type=int, default=None, help="CCR-Us per session (default 8; gateway 4)"
    )
    parser.add_argument("--used-octets", type=int, default=5_000_000, help="reported per CCR-U/T")
    parser.add_argument("--opening", type=int, default=10_000_000, help="cents per subscriber")
    parser.add_argument("--rate", type=float, default=0.0, help="target CCR/s in all; 0 = maximum")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument(
        "--report",
        type=Path,
        help="append a markdown report to this file (make bench: var/bench-reports.md, under "
        "the state dir: a benchmark never writes a tracked file)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="start `ocs serve` on the embedded default first (fresh state dir, free ports)",
    )
    parser.add_argument("--workers", type=int, default=1, help="with --serve: server workers")
    parser.add_argument("--label", default="", help="names the run in the report")


def apply_profile(args: argparse.Namespace) -> None:
    """Fill in the load shape of ``--profile`` (options given explicitly win)."""
    if args.profile == "gateway":
        args.processes, args.connections = args.gateways, 1
        args.subscribers = args.gateways * args.in_flight
        args.updates = 4 if args.updates is None else args.updates
        args.events_every = 10 if args.events_every is None else args.events_every
    else:
        args.updates = 8 if args.updates is None else args.updates
        args.events_every = args.events_every or 0


def run(args: argparse.Namespace) -> int:
    apply_profile(args)
    if args.serve:
        with serving(args) as environ:
            return _run(args, config_module.load(args.config, environ))
    return _run(args, config_module.load(args.config))


@contextlib.contextmanager
def serving(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """Run `ocs serve` on a fresh state dir and free ports; yield the environment that
    points the bench at it."""
    state = Path("var/bench").resolve()
    if state.exists():
        shutil.rmtree(state)
    metrics, diameter, nchf = _free_port(), _free_port(), _free_port()
    environ = dict(os.environ)
    environ.update(
        {
            "OCS_STATE_DIR": str(state),
            "OCS_METRICS_LISTEN": f"127.0.0.1:{metrics}",
            "OCS_DIAMETER_LISTEN": f"127.0.0.1:{diameter}",
            "OCS_NCHF_ENABLED": "true" if args.protocol == "nchf" else "false",
            "OCS_NCHF_LISTEN": f"127.0.0.1:{nchf}",
            "OCS_GRPC_ENABLED": "false",
            "OCS_PORTAL_ENABLED": "false",
            "OCS_BILLING_ENABLED": "false",
            "OCS_DEMO_SUBSCRIBERS": "0",
            "OCS_LOG_LEVEL": "warning",
            "OCS_WORKERS": str(args.workers),
        }
    )
    command = [sys.executable, "-m", "ocs", "serve"]
    if args.config is not None:
        command += ["--config", str(args.config)]
    print(f"bench: starting ocs serve --workers {args.workers} on {state} ...", flush=True)
    server = subprocess.Popen(command, env=environ, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"ocs bench: ocs serve exited with code {server.returncode}")
            try:
                _server_cpu(f"http://127.0.0.1:{metrics}/metrics")
                # /metrics answers once the master's workers all serve (--workers), and Diameter
                # listens last in a single process
                if running_server_url(state) is not None:
                    socket.create_connection(("127.0.0.1", diameter), timeout=1).close()
                    if args.protocol == "nchf":
                        socket.create_connection(("127.0.0.1", nchf), timeout=1).close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("ocs bench: ocs serve did not come up within 60 s")
            time.sleep(0.2)
        yield environ
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: argparse.Namespace, cfg: Config) -> int:
    if args.protocol == "nchf":
        host, port = split_listen(args.nchf or cfg.nchf.listen)
    else:
        host, port = split_listen(args.diameter or cfg.diameter.listen)
    metrics_url = args.metrics or (
        f"http://{cfg.metrics.listen}/metrics" if cfg.metrics.enabled else None
    )
    target = RedisTarget.for_tools(cfg)
    catalog = load_catalog(cfg.catalog)
    cost = _cost_per_report(catalog, args.used_octets)
    event_cost = cost_per_event(catalog)
    run_id = datetime.now(UTC).strftime("%H%M%S") + f"{os.getpid() % 1000:03d}"
    msisdns = [f"88{run_id}{n:06d}" for n in range(args.subscribers)]
    print(f"bench: provisioning {len(msisdns)} subscribers (run {run_id}) ...", flush=True)
    asyncio.run(_provision(target, cfg.redis.partitions, msisdns, args.opening))

    context = multiprocessing.get_context("spawn")
    measure, stop = context.Event(), context.Event()
    results = context.Queue()
    plans = [
        WorkerPlan(
            index=i,
            run_id=run_id,
            host=host,
            port=port,
            connections=args.connections,
            subscribers=msisdns[i :: args.processes],
            updates=args.updates,
            used_octets=args.used_octets,
            cost_per_report=cost,
            rate=args.rate / args.processes,
            protocol=args.protocol,
            events_every=args.events_every,
            cost_per_event=event_cost,
        )
        for i in range(args.processes)
    ]
    processes = [
        context.Process(target=worker_main, args=(plan, measure, stop, results), daemon=True)
        for plan in plans
    ]
    for process in processes:
        process.start()
    print(
        f"bench: warming up {args.warmup:.0f} s, then measuring {args.duration:.0f} s ...",
        flush=True,
    )
    time.sleep(args.warmup)
    before = _server_cpu(metrics_url), asyncio.run(_redis_cpu(target))
    started = time.perf_counter()
    measure.set()
    time.sleep(args.duration)
    stop.set()
    elapsed = time.perf_counter() - started
    after = _server_cpu(metrics_url), asyncio.run(_redis_cpu(target))
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    failures = [o for o in outcomes if o[0] == "error"]
    if failures:
        for _, index, message in failures:
            print(f"bench: process {index} failed: {message}")
        return 1
    finished: list[WorkerResult] = [o[2] for o in outcomes]
    measured = _summarize(
        finished, elapsed, before, after, target, cfg.redis.partitions, args.opening
    )
    lines = _report_lines(args, measured, finished)
    print("\n".join(lines))
    if args.report:
        _append_report(args, lines)
    return 0 if measured.exact else 1


def _cost_per_report(catalog: Catalog, used_octets: int) -> int:
    """What one usage report costs a Pay-as-you-go subscriber at home (flat data tariff)."""
    rating = rate_service(
        catalog, RATING_GROUP, (OFFER,), None, datetime.now(UTC), ZoneInfo("UTC"), "bench"
    )
    if rating.tariff is None or rating.tariff.counter or len(rating.tariff.segments) != 1:
        raise SystemExit("ocs bench: the catalog must price rating group 100 flat in payg at home")
    return cost(rating.tariff, 0, used_octets)


def cost_per_event(catalog: Catalog) -> int:
    """What one SMS (rating group 300, one unit) costs a Pay-as-you-go subscriber at home."""
    rating = rate_service(catalog, 300, (OFFER,), None, datetime.now(UTC), ZoneInfo("UTC"), "bench")
    if rating.tariff is None:
        raise SystemExit("ocs bench: the catalog must price rating group 300 in payg at home")
    return cost(rating.tariff, 0, 1)


async def _provision(
    target: RedisTarget, partitions: int, msisdns: list[str], opening: int
) -> None:
    store = BalanceStore(target, BalanceConfig(), partitions)
    await store.start()
    try:
        now = int(time.time() * 1000)
        gate = asyncio.Semaphore(128)

        async def one(msisdn: str) -> None:
            async with gate:
                ident = f"bench-{msisdn}"
                for result in (
                    await store.create_customer(f"bench:c:{ident}", ident, now_ms=now),
                    await store.create_account(
                        f"bench:a:{ident}",
                        ident,
                        ident,
                        currency="EUR",
                        now_ms=now,
                        opening_balance=opening,
                    ),
                    await store.create_subscriber(
                        f"bench:s:{ident}",
                        ident,
                        ident,
                        identities=[Identity("e164", msisdn)],
                        now_ms=now,
                        offers=(OFFER,),
                    ),
                ):
                    assert result.outcome in (Outcome.OK, Outcome.ALREADY_EXISTS), result

        await asyncio.gather(*(one(m) for m in msisdns))
    finally:
        await store.stop()


def _server_cpu(metrics_url: str | None) -> float | None:
    """CPU seconds of the server from its own metrics: every worker process when it runs
    several (``ocs_server_cpu_seconds_total``), else its one process."""
    if metrics_url is None:
        return None
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    for name in ("ocs_server_cpu_seconds_total", "process_cpu_seconds_total"):
        if name in samples:
            return float(samples[name])
    return None


async def _redis_cpu(target: RedisTarget) -> float:
    executor = target.executor()
    await executor.start()
    try:
        total = 0.0
        for node in executor.nodes():
            info = await node.execute("INFO", "cpu")
            text = info.decode() if isinstance(info, bytes) else str(info)
            fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
            total += float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])
        return total
    finally:
        await executor.close()


async def _verify(
    target: RedisTarget, partitions: int, expected: dict[str, int], opening: int
) -> list[str]:
    store = BalanceStore(target, BalanceConfig(), partitions)
    await store.start()
    problems = []
    try:
        for msisdn, charged in expected.items():
            account = await store.get_account(f"bench-{msisdn}")
            if account is None:
                problems.append(f"{msisdn}: account missing")
                continue
            if account.money != opening - charged:
                problems.append(f"{msisdn}: balance {account.money}, expected {opening - charged}")
            reserved = sum(b.reserved for b in account.buckets)
            if reserved:
                problems.append(f"{msisdn}: {reserved} still reserved")
    finally:
        await store.stop()
    return problems


def _summarize(
    finished: list[WorkerResult],
    elapsed: float,
    before: tuple[float | None, float],
    after: tuple[float | None, float],
    target: RedisTarget,
    partitions: int,
    opening: int,
) -> Measured:
    stats = Stats()
    expected: dict[str, int] = {}
    unverifiable: set[str] = set()
    for result in finished:
        stats.merge(result.stats)
        expected.update(result.expected)
        unverifiable.update(result.unverifiable)
    count = max(stats.count, 1)
    server_us = None
    if before[0] is not None and after[0] is not None:
        server_us = (after[0] - before[0]) / count * 1e6
    redis_us = (after[1] - before[1]) / count * 1e6
    checked = {m: charged for m, charged in expected.items() if m not in unverifiable}
    problems = asyncio.run(_verify(target, partitions, checked, opening))
    if unverifiable:
        problems.append(f"{len(unverifiable)} subscribers had requests with unknown outcomes")
    if stats.errors:
        problems.append(f"errors: {dict(stats.errors)}")
    return Measured(
        ccr_per_s=stats.count / elapsed,
        p50_ms=stats.percentile(0.50) / 1000,
        p90_ms=stats.percentile(0.90) / 1000,
        p99_ms=stats.percentile(0.99) / 1000,
        p999_ms=stats.percentile(0.999) / 1000,
        max_ms=stats.max_us / 1000,
        server_us=server_us,
        redis_us=redis_us,
        client_us=sum(r.cpu_seconds for r in finished) / count * 1e6,
        exact=not problems,
        problems=problems,
    )


def _report_lines(
    args: argparse.Namespace, measured: Measured, finished: list[WorkerResult]
) -> list[str]:
    stats = Stats()
    for result in finished:
        stats.merge(result.stats)
    server = f"{measured.server_us:.0f}" if measured.server_us is not None else "?"
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(stats.result_codes.items()))
    verdict = (
        "balances exact"
        if measured.exact
        else "balances NOT checked exact: " + "; ".join(measured.problems[:5])
    )
    return [
        f"bench: {args.protocol}, profile {args.profile}: {args.processes} process(es) x "
        f"{args.connections} connections, {args.subscribers} sessions in flight, "
        f"{args.updates} CCR-U per session"
        + (f", every {args.events_every}th an SMS event" if args.events_every else "")
        + f", {args.duration:.0f} s measured",
        f"bench: requests {stats.count} ({dict(stats.by_type)}), result codes {codes}",
        f"bench: latency p50 {measured.p50_ms:.2f} ms, p90 {measured.p90_ms:.2f} ms, "
        f"p99 {measured.p99_ms:.2f} ms, p99.9 {measured.p999_ms:.2f} ms, "
        f"max {measured.max_ms:.2f} ms",
        f"bench: CPU per CCR: server {server} us, redis {measured.redis_us:.0f} us, "
        f"load generator {measured.client_us:.0f} us",
        f"bench: {measured.ccr_per_s:,.0f} CCR/s, p99 {measured.p99_ms:.1f} ms, "
        f"{server} us server CPU per CCR, {verdict}",
    ]


def _append_report(args: argparse.Namespace, lines: list[str]) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    label = f" ({args.label})" if args.label else ""
    command = (
        f"ocs bench --protocol {args.protocol} --profile {args.profile} "
        f"--processes {args.processes} --connections {args.connections} "
        f"--subscribers {args.subscribers} --updates {args.updates} "
        f"--events-every {args.events_every} --duration {args.duration:g}"
        + (f" --rate {args.rate:g}" if args.rate else "")
    )
    with args.report.open("a") as report:
        report.write(f"\n### ocs bench {when}{label}\n\n`{command}`\n\n```\n")
        report.write("\n".join(lines) + "\n```\n")
