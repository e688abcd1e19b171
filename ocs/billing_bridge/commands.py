"""The implementation of ``ocs billing ...`` and ``ocs billing-bridge`` (imported only when
one of them runs: ``ocs --help`` stays fast). See :mod:`ocs.billing_bridge.cli`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from ocs import config as config_module
from ocs import logs
from ocs.balance.engine import RedisTarget
from ocs.balance.errors import BalanceError
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.consumer import Bridge, default_consumer_name
from ocs.billing_bridge.documents import money
from ocs.billing_bridge.ledger import Ledger, LedgerError, open_ledger
from ocs.billing_bridge.reconcile import reconcile
from ocs.billing_bridge.run import letterhead, run_period
from ocs.billing_bridge.service import BillingBridge
from ocs.billing_bridge.settlement import export, settle
from ocs.billing_bridge.summary import RunSummary
from ocs.config import Config
from ocs.policy.catalog import Catalog, load_catalog

log = logging.getLogger("ocs.billing")


class Context:
    def __init__(
        self, config: Config, store: BalanceStore, ledger: Ledger, out: Path, json_out: bool
    ) -> None:
        self.config = config
        self.store = store
        self.ledger = ledger
        self.out = out
        self.json = json_out
        self.catalog: Catalog = load_catalog(config.catalog)
        self.ingested: dict[str, object] = {}

    def say(self, line: str) -> None:
        """A line of text output (nothing in ``--json`` mode: the JSON object says it)."""
        if not self.json:
            print(line)

    def emit(self, data: dict[str, Any]) -> None:
        if self.json:
            print(json.dumps({"ledger": self.ingested, **data}, indent=2, sort_keys=True))


def usage_error(prog: str, message: str) -> int:
    """A problem found once the command runs (e.g. ``--out`` not writable): one line, exit 2."""
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


def redis_target(config: Config) -> RedisTarget:
    return RedisTarget.for_tools(config)


def run(args: argparse.Namespace, handler_name: str) -> int:
    handler = HANDLERS[handler_name]
    cfg = config_module.load(args.config)
    logs.setup("warning" if cfg.log_level == "info" else cfg.log_level)
    prog = f"ocs billing {handler_name}"
    out = args.out or documents_dir(cfg)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        option = "--out" if args.out else "billing.documents_dir"
        return usage_error(prog, f"{option} {out}: cannot create the directory: {exc.strerror}")
    if not os.access(out, os.W_OK | os.X_OK):
        option = "--out" if args.out else "billing.documents_dir"
        return usage_error(prog, f"{option} {out}: not writable")

    async def main() -> int:
        store = BalanceStore(redis_target(cfg), cfg.balance, cfg.redis.partitions)
        await store.start()
        ledger = None
        try:
            ledger = await asyncio.to_thread(open_ledger, cfg.billing.ledger_dsn, cfg.state_dir)
            ctx = Context(cfg, store, ledger, out, args.json)
            if args.drain:
                name = f"{cfg.billing.consumer or default_consumer_name()}-cli"
                ingested = await Bridge(store.engine, ledger, cfg.billing, name).drain()
                ctx.ingested = {"ingested": ingested, "where": ledger.where}
                ctx.say(f"ledger: {ingested} new entries ingested ({ledger.where})")
            return await handler(ctx, args)
        except (LedgerError, BalanceError) as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"{prog}: cannot write {exc.filename or out}: {exc.strerror}", file=sys.stderr)
            return 1
        finally:
            if ledger is not None:
                ledger.close()
            await store.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def documents_dir(config: Config) -> Path:
    """``[billing] documents_dir``, or ``<state_dir>/billing`` when it is not set."""
    configured = config.billing.documents_dir
    return configured if str(configured) not in ("", ".") else config.state_dir / "billing"


def _fmt(ctx: Context, amount: int) -> str:
    return money(amount, ctx.catalog.currency, ctx.catalog.minor_digits)


async def _documents(
    ctx: Context, args: argparse.Namespace, accounts: list[str] | None
) -> tuple[int, dict[str, Any]]:
    now_ms = args.as_of if args.as_of is not None else time.time_ns() // 1_000_000
    if not ctx.config.billing.issuer.name:
        print(
            "ocs billing: billing.issuer.name is not set: documents carry no issuer "
            "(see docs/billing.md)",
            file=sys.stderr,
        )
    report = await run_period(
        ctx.store,
        ctx.ledger,
        ctx.catalog,
        args.period,
        now_ms,
        ctx.out,
        accounts=accounts,
        correct_changed=args.correct,
        progress=sys.stderr.isatty() and not ctx.json,
        letterhead=letterhead(ctx.config.billing),
    )
    if accounts is not None and report.unknown:
        print(
            f"ocs billing invoice: account {args.account}: unknown to the balance engine",
            file=sys.stderr,
        )
        return 1, {}
    summary = RunSummary.of(
        report, args.period, now_ms, ctx.catalog.currency, ctx.catalog.minor_digits
    )
    per_account = args.accounts or accounts is not None
    for line in summary.text(per_account):
        ctx.say(line)
    if report.files:
        ctx.say(f"files: {ctx.out / 'invoices'}")
    return (1 if summary.discrepancies else 0), summary.to_json(per_account)


async def _billing_run(ctx: Context, args: argparse.Namespace) -> int:
    code, data = await _documents(ctx, args, None)
    settled = _settlement(ctx, args.period[:7])
    ctx.emit({**data, "settlement": settled})
    return code


async def _invoice(ctx: Context, args: argparse.Namespace) -> int:
    code, data = await _documents(ctx, args, [args.account])
    if data:
        ctx.emit(data)
    return code


async def _settle(ctx: Context, args: argparse.Namespace) -> int:
    ctx.emit({"settlement": _settlement(ctx, args.period)})
    return 0


def _settlement(ctx: Context, month: str) -> dict[str, Any]:
    rows = settle(ctx.ledger, ctx.catalog, month)
    files = export(rows, ctx.catalog, month, ctx.out)
    partners = []
    for partner in sorted(ctx.catalog.data.partners):
        mine = [r for r in rows if r.partner == partner]
        events, gross, owed = (
            sum(getattr(r, k) for r in mine) for k in ("events", "gross", "owed")
        )
        partners.append({"partner": partner, "events": events, "gross": gross, "owed": owed})
        ctx.say(
            f"settlement {partner} events={events} gross={_fmt(ctx, gross)} owed={_fmt(ctx, owed)}"
        )
    ctx.say(f"settlement files: {files[-1].parent}")
    return {"month": month, "partners": partners, "directory": str(files[-1].parent)}


async def _reconcile(ctx: Context, args: argparse.Namespace) -> int:
    report = await reconcile(
        ctx.store, ctx.ledger, ctx.catalog, args.period, ctx.config.billing, args.wait
    )
    counts = " ".join(f"{k}={v}" for k, v in sorted(report.counts.items()))
    ctx.say(f"reconcile period={args.period} {counts}")
    for d in report.discrepancies:
        where = " ".join(
            f"{k}={v}"
            for k, v in (("partition", d.partition), ("account", d.account), ("event", d.event_id))
            if v not in (None, "")
        )
        ctx.say(f"DISCREPANCY {d.kind} {where}: {d.detail}")
    for a in report.anomalies:
        ctx.say(
            f"ANOMALY subscriber={a.subscriber} rating_group={a.rating_group} day={a.day} "
            f"used={a.used} {a.unit} usual={a.usual}"
        )
    path = report.write(ctx.out)
    verdict = "OK: balances, events, ledger and documents agree" if report.ok else "FAILED"
    ctx.say(f"{verdict} ({len(report.discrepancies)} discrepancies) report={path}")
    ctx.emit({**json.loads(path.read_text()), "ok": report.ok, "report": str(path)})
    return 0 if report.ok else 1


def bridge(args: argparse.Namespace) -> int:
    cfg = config_module.load(args.config)
    logs.setup(cfg.log_level)

    async def main() -> None:
        store = BalanceStore(redis_target(cfg), cfg.balance, cfg.redis.partitions)
        service = BillingBridge(store.engine, cfg.billing, cfg.state_dir)
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await store.start()
        try:
            await service.start()
            log.info("billing bridge ready")
            await stopping.wait()
        finally:
            await service.stop()
            await store.stop()
        log.info("billing bridge stopped")

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    return 0


HANDLERS = {
    "run": _billing_run,
    "invoice": _invoice,
    "settle": _settle,
    "reconcile": _reconcile,
}
