"""The commands as a person runs them: ocs billing run / invoice / settle / reconcile, and
ocs billing-bridge, against the real Redis and a SQLite ledger."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from subprocess import PIPE

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
    summary = run.stdout.splitlines()
    assert "billing run 2026-11 as of 2026-12-02 00:00 UTC: 2 accounts, 2 documents" in summary
    assert re.search(r"^invoice +1 +0 +0 +EUR 17\.60 +EUR 3\.34 +EUR 20\.94$", run.stdout, re.M)
    assert re.search(r"^statement +1 +0 +0 ", run.stdout, re.M)
    assert re.search(r"^  discount +1 +EUR -1\.13$", run.stdout, re.M)  # lines by kind
    assert "discrepancies: none" in summary
    assert "INV-000001" not in run.stdout  # per-account lines only with --accounts
    assert "settlement host_mno" in run.stdout
    out = tmp_path / "state/billing"
    invoice = json.loads((out / "invoices/2026-11-01/INV-000001.json").read_text())
    assert invoice["total"] == 2094 and invoice["number"] == "INV-000001"
    assert (out / "invoices/2026-11-01/INV-000001.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "settlement/2026-11/summary.json").exists()

    listed = ocs("billing", "run", *common, "--as-of", "2026-12-02", "--accounts", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["documents"]["invoice"] | {"lines": None} == {
        "issued": 0,
        "unchanged": 1,
        "draft": 0,
        "net": 1760,
        "tax": 334,
        "total": 2094,
        "lines": None,
    }
    assert data["documents"]["statement"]["unchanged"] == 1 and data["discrepancies"] == []
    assert {(a["status"], a["number"], a["total"]) for a in data["accounts"]} >= {
        ("unchanged", "INV-000001", 2094)
    }
    assert {p["partner"] for p in data["settlement"]["partners"]} >= {"host_mno"}

    again = ocs("billing", "invoice", "A-4935001", *common, "--as-of", "2026-12-03")
    assert again.returncode == 0, again.stderr
    assert "unchanged invoice INV-000001 account=A-4935001 total=EUR 20.94" in again.stdout

    ok = ocs("billing", "reconcile", *common)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: balances, events, ledger and documents agree" in ok.stdout

    # a late event in the issued period: the run says so (exit 1); --correct settles it
    await live_store.adjust("late", ids[1], "money", -500, reason="late", actor="care", now_ms=NOV)
    late = ocs("billing", "run", *common, "--as-of", "2026-12-04")
    assert late.returncode == 1, late.stdout + late.stderr
    assert "discrepancies: 1" in late.stdout
    assert "DISCREPANCY changed_since_issued account=A-4935001 document=INV-000001" in late.stdout
    fixed = ocs("billing", "run", *common, "--as-of", "2026-12-04", "--correct", "--accounts")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "issued credit_note CN-000002 account=A-4935001 total=EUR -20.94" in fixed.stdout
    assert "issued invoice INV-000003 account=A-4935001 total=EUR 26.89" in fixed.stdout
    checked = ocs("billing", "reconcile", *common, "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["ok"] is True

    p = live_store.keys[live_store.partition_of(ids[0])]
    (entry,) = await live_store.execute(p.slot, "XRANGE", p.stream, "-", "+", "COUNT", 1)
    await live_store.execute(p.slot, "XADD", p.stream, "*", "e", entry[1][1])
    bad = ocs("billing", "reconcile", *common)
    assert bad.returncode == 1
    assert "DISCREPANCY duplicated" in bad.stdout and "FAILED (1 discrepancies)" in bad.stdout

    settle = ocs("billing", "settle", *common, "--out", str(tmp_path / "elsewhere"), "--json")
    assert settle.returncode == 0, settle.stderr
    assert json.loads(settle.stdout)["settlement"]["month"] == "2026-11"
    assert (tmp_path / "elsewhere/settlement/2026-11/orange_fr.csv").exists()


BAD_OPTIONS = [
    (("run", "--period", "2026-13"), "argument --period: month 13 of '2026-13' is not 01..12"),
    (("run", "--period", "abc"), "argument --period: 'abc' is not a bill period"),
    (("run", "--period", "2026-11", "--as-of", "soon"), "argument --as-of: 'soon' is not"),
    (("run",), "the following arguments are required: --period"),
    (("invoice", "A-1", "--period", "2026-02-30"), "argument --period: '2026-02-30' is not"),
    (("invoice", " ", "--period", "2026-11"), "argument account: ' ' is not an account id"),
    (("settle", "--period", "2026-11-01"), "argument --period: '2026-11-01' is not a month"),
    (("settle", "--period", "1969-12"), "argument --period: year 1969"),
    (("reconcile", "--period", "2026-11", "--wait", "-1"), "argument --wait: -1 is not"),
    (("reconcile", "--period", "2026-11", "--wait", "nan"), "argument --wait: nan is not"),
    (("run", "--period", "2026-11", "--out", "FILE/sub"), "--out FILE/sub: cannot create"),
]


def test_a_bad_option_is_one_line_naming_it_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "ocs.toml"  # no Redis: options are checked before anything connects
    path.write_text(f'state_dir = "{tmp_path / "state"}"\ncatalog = "{DEMO_CATALOG}"\n')
    (tmp_path / "FILE").write_text("not a directory")
    running = []
    for args, says in BAD_OPTIONS:  # all at once: each is a process start, nothing more
        args = tuple(a.replace("FILE", str(tmp_path / "FILE")) for a in args)
        command = [sys.executable, "-m", "ocs", "billing", *args, "--config", str(path)]
        process = subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True)
        running.append((args, says.replace("FILE", str(tmp_path / "FILE")), process))
    for args, says, process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, (args, out, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (args, err)
        assert err.startswith(f"ocs billing {args[0]}: {says}"), (args, err)
        assert out == "", (args, out)


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
