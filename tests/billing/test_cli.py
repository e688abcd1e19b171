"""The commands as a person runs them: ocs billing run / invoice / settle / reconcile, and
ocs billing-bridge, against the real Redis and a SQLite ledger."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.ledger import Ledger
from ocs.config import BalanceConfig
from tests.billing.accounts import NOV, november_usage, postpaid, prepaid
from tests.support.serve import DEMO_CATALOG

pytestmark = pytest.mark.slow


def ocs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocs", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def config_file(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "ocs.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\ncatalog = "{DEMO_CATALOG}"\n'
        f'[redis]\nurl = "{redis_url}"\n[billing]\npoll_interval_ms = 10\n'
    )
    return path


@pytest.fixture
async def live_store(redis_url: str) -> AsyncIterator[BalanceStore]:
    store = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), 64)  # as configured
    await store.start()
    yield store
    await store.stop()


async def test_billing_run_reconcile_and_a_planted_duplicate(
    live_store: BalanceStore, config_file: Path, tmp_path: Path
) -> None:
    ids = await postpaid(live_store, "4935001", offers=["payg", "voice_pack"])
    await november_usage(live_store, ids, "cli")
    pre = await prepaid(live_store, "4935002", opening=5000)
    await november_usage(live_store, pre, "pre")
    common = ("--period", "2026-11", "--config", str(config_file))

    run = ocs("billing", "run", *common, "--as-of", "2026-12-02")
    assert run.returncode == 0, run.stderr
    assert "issued invoice INV-000001 account=A-4935001 total=EUR 20.94" in run.stdout
    assert "issued statement STM-000001 account=A-4935002" in run.stdout
    assert "settlement host_mno" in run.stdout
    out = tmp_path / "state/billing"
    invoice = json.loads((out / "invoices/2026-11-01/INV-000001.json").read_text())
    assert invoice["total"] == 2094 and invoice["number"] == "INV-000001"
    assert (out / "invoices/2026-11-01/INV-000001.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "settlement/2026-11/summary.json").exists()

    again = ocs("billing", "invoice", "A-4935001", *common, "--as-of", "2026-12-03")
    assert again.returncode == 0, again.stderr
    assert "unchanged invoice INV-000001" in again.stdout

    ok = ocs("billing", "reconcile", *common)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: balances, events, ledger and documents agree" in ok.stdout

    p = live_store.keys[live_store.partition_of(ids[0])]
    (entry,) = await live_store.execute(p.slot, "XRANGE", p.stream, "-", "+", "COUNT", 1)
    await live_store.execute(p.slot, "XADD", p.stream, "*", "e", entry[1][1])
    bad = ocs("billing", "reconcile", *common)
    assert bad.returncode == 1
    assert "DISCREPANCY duplicated" in bad.stdout and "FAILED (1 discrepancies)" in bad.stdout

    settle = ocs("billing", "settle", *common, "--out", str(tmp_path / "elsewhere"))
    assert settle.returncode == 0, settle.stderr
    assert (tmp_path / "elsewhere/settlement/2026-11/orange_fr.csv").exists()


def start_bridge(config_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ocs", "billing-bridge", "--config", str(config_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_the_bridge_command_runs_until_signalled(
    live_store: BalanceStore, config_file: Path, tmp_path: Path
) -> None:
    process = start_bridge(config_file)
    try:
        ids = await prepaid(live_store, "4935003", opening=10)
        await live_store.topup("bridge-pay", ids[1], 5, "EUR", now_ms=NOV)
        path = tmp_path / "state/billing/ledger.db"
        rows: list[tuple[object, ...]] = []
        for _ in range(300):
            if path.exists():
                ledger = Ledger(path=path).open()
                rows = ledger.query("SELECT event_id FROM events WHERE type = 'topup'")
                ledger.close()
                if rows:
                    break
            await asyncio.sleep(0.05)
        assert rows == [(f"topup:{ids[1]}:bridge-pay",)]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(process.communicate, None, 30)
    assert process.returncode == 0, err
    assert "billing bridge ready" in err and "billing bridge stopped" in err


def test_without_redis_the_commands_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "ocs.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\ncatalog = "{DEMO_CATALOG}"\n')
    result = ocs("billing", "reconcile", "--period", "2026-11", "--config", str(path))
    assert result.returncode == 1
    assert "no redis.url configured and no ocs server running" in result.stderr
    usage = ocs("billing", "run", "--config", str(path))
    assert usage.returncode == 2 and "--period" in usage.stderr
