"""The implementation of ``ocs billing ...`` and ``ocs billing-bridge`` (imported only when
one of them runs: ``ocs --help`` stays fast). See :mod:`ocs.billing_bridge.cli`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

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
from ocs.billing_bridge.run import run_period
from ocs.billing_bridge.service import BillingBridge
from ocs.billing_bridge.settlement import export, settle
from ocs.config import Config
from ocs.policy.catalog import Catalog, load_catalog

log = logging.getLogger("ocs.billing")


class Context:
    def __init__(self, config: Config, store: BalanceStore, ledger: Ledger, out: Path) -> None:
        self.config = config
        self.store = store
        self.ledger = ledger
        self.out = out
        self.catalog: Catalog = load_catalog(config.catalog)


def redis_target(config: Config) -> RedisTarget:
    return RedisTarget.for_tools(config)


def run(args: argparse.Namespace, handler_name: str) -> int:
    handler = HANDLERS[handler_name]
    cfg = config_module.load(args.config)
    logs.setup("warning" if cfg.log_level == "info" else cfg.log_level)

    async def main() -> int:
        store = BalanceStore(redis_target(cfg), cfg.balance, cfg.redis.partitions)
        await store.start()
        ledger = None
        try:
            ledger = await asyncio.to_thread(open_ledger, cfg.billing.ledger_dsn, cfg.state_dir)
            ctx = Context(cfg, store, ledger, args.out or documents_dir(cfg))
            if args.drain:
                name = f"{cfg.billing.consumer or default_consumer_name()}-cli"
                ingested = await Bridge(store, ledger, cfg.billing, name).drain()
                print(f"ledger: {ingested} new entries ingested ({ledger.where})")
            return await handler(ctx, args)
        except (LedgerError, BalanceError) as exc:
            print(f"ocs: billing: {exc}", file=sys.stderr)
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


def _clock(text: str) -> int:
    if not text:
        return time.time_ns() // 1_000_000
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _fmt(ctx: Context, amount: int) -> str:
    return money(amount, ctx.catalog.currency, ctx.catalog.minor_digits)


async def _documents(ctx: Context, args: argparse.Namespace, accounts: list[str] | None) -> int:
    report = await run_period(
        ctx.store,
        ctx.ledger,
        ctx.catalog,
        args.period,
        _clock(args.as_of),
        ctx.out,
        accounts=accounts,
        correct_changed=args.correct,
        progress=sys.stderr.isatty(),
    )
    pdfs = {p.stem: p for p in report.files if p.suffix == ".pdf"}
    for label, docs in (("issued", report.issued), ("unchanged", report.unchanged)):
        for doc in docs:
            print(
                f"{label} {doc.kind} {doc.number} account={doc.account} "
                f"total={_fmt(ctx, doc.total)} file={pdfs.get(doc.number, '-')}"
            )
    for doc in report.drafts:
        print(
            f"draft {doc.kind} account={doc.account} total={_fmt(ctx, doc.total)} "
            f"(period {doc.period} not over) file={pdfs.get('DRAFT-' + doc.account, '-')}"
        )
    for account in report.unknown:
        print(f"skipped account={account}: unknown to the balance engine", file=sys.stderr)
    if accounts and report.unknown:
        return 1
    return 0


async def _billing_run(ctx: Context, args: argparse.Namespace) -> int:
    code = await _documents(ctx, args, None)
    return code or await _settle(ctx, args)


async def _invoice(ctx: Context, args: argparse.Namespace) -> int:
    return await _documents(ctx, args, [args.account])


async def _settle(ctx: Context, args: argparse.Namespace) -> int:
    rows = settle(ctx.ledger, ctx.catalog, args.period)
    files = export(rows, ctx.catalog, args.period, ctx.out)
    for partner in sorted(ctx.catalog.data.partners):
        mine = [r for r in rows if r.partner == partner]
        print(
            f"settlement {partner} events={sum(r.events for r in mine)} "
            f"gross={_fmt(ctx, sum(r.gross for r in mine))} "
            f"owed={_fmt(ctx, sum(r.owed for r in mine))}"
        )
    print(f"settlement files: {files[-1].parent}")
    return 0


async def _reconcile(ctx: Context, args: argparse.Namespace) -> int:
    report = await reconcile(
        ctx.store, ctx.ledger, ctx.catalog, args.period, ctx.config.billing, args.wait
    )
    counts = " ".join(f"{k}={v}" for k, v in sorted(report.counts.items()))
    print(f"reconcile period={args.period} {counts}")
    for d in report.discrepancies:
        where = " ".join(
            f"{k}={v}"
            for k, v in (("partition", d.partition), ("account", d.account), ("event", d.event_id))
            if v not in (None, "")
        )
        print(f"DISCREPANCY {d.kind} {where}: {d.detail}")
    for a in report.anomalies:
        print(
            f"ANOMALY subscriber={a.subscriber} rating_group={a.rating_group} day={a.day} "
            f"used={a.used} {a.unit} usual={a.usual}"
        )
    path = report.write(ctx.out)
    verdict = "OK: balances, events, ledger and documents agree" if report.ok else "FAILED"
    print(f"{verdict} ({len(report.discrepancies)} discrepancies) report={path}")
    return 0 if report.ok else 1


def bridge(args: argparse.Namespace) -> int:
    cfg = config_module.load(args.config)
    logs.setup(cfg.log_level)

    async def main() -> None:
        store = BalanceStore(redis_target(cfg), cfg.balance, cfg.redis.partitions)
        service = BillingBridge(store, cfg.billing, cfg.state_dir)
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
