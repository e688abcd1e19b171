"""The Locust users drive a real `ocs serve` and report every request to Locust's statistics."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from ocs.balance.events import decode
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow
LOCUSTFILE = Path(__file__).resolve().parents[1] / "loadtests" / "locustfile.py"
BIN = Path(sys.executable).parent


def _config(
    tmp_path: Path, redis_url: str, diameter: int, grpc: int, *, billing: bool = False
) -> Path:
    config = tmp_path / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{tmp_path / "state"}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_url}"
[metrics]
enabled = false
[diameter]
listen = "127.0.0.1:{diameter}"
[grpc]
enabled = {"true" if grpc else "false"}
listen = "127.0.0.1:{grpc or 50051}"
[demo]
subscribers = 20
[billing]
enabled = {"true" if billing else "false"}
"""
    )
    return config


def _locust(
    tmp_path: Path, host: str, users: list[str], env: dict[str, str]
) -> dict[str, dict[str, str]]:
    result = subprocess.run(
        [
            *(str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", "6", "-r", "6"),
            *("-t", "4s", "--host", host, "--csv", str(tmp_path / "run"), "--only-summary"),
            *users,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"OCS_LOAD_SUBSCRIBERS": "20", "PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with (tmp_path / "run_stats.csv").open() as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def _token(config: Path, role: str) -> str:
    command = [str(BIN / "ocs"), "token", "create", "--config", str(config), "--role", role]
    result = subprocess.run(
        [*command, "--subject", "locust"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _assert_clean(rows: dict[str, dict[str, str]], names: tuple[str, ...]) -> None:
    for name in names:
        assert int(rows[name]["Request Count"]) > 0, rows
        assert int(rows[name]["Failure Count"]) == 0, rows


def test_locust_gy_users_run_sessions_without_failures(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    serve = ServeProcess(_config(tmp_path, redis_url, port, 0)).start()
    try:
        serve.wait_ready()
        mix = {"OCS_LOAD_MIX": "100,100@20801,500,100@310260"}  # home, EU, video, world
        rows = _locust(tmp_path, f"diameter://127.0.0.1:{port}", ["GyGateway"], mix)
    finally:
        serve.stop()
    _assert_clean(rows, ("CCR-I", "CCR-U", "CCR-T"))
    # the mix reached the charging engine: sessions charged per rating group and network
    charged = _charged_sessions(redis_url)
    assert {(100, ""), (100, "20801"), (500, ""), (100, "310260")} <= charged, charged


def test_locust_grpc_gateways_and_self_care_apps_run_without_failures(
    tmp_path: Path, redis_url: str
) -> None:
    grpc_port = free_port()
    config = _config(tmp_path, redis_url, free_port(), grpc_port)
    serve = ServeProcess(config).start()
    try:
        serve.wait_ready()
        env = {
            "OCS_LOAD_GRPC": f"127.0.0.1:{grpc_port}",
            "OCS_LOAD_TOKEN": _token(config, "network_function"),
            "OCS_LOAD_CARE_TOKEN": _token(config, "care"),
        }
        rows = _locust(tmp_path, "diameter://unused", ["GrpcGateway", "SelfCareApp"], env)
    finally:
        serve.stop()
    _assert_clean(rows, ("Initial", "Update", "Terminate", "GetBalance"))
    for name in ("ListUsage", "TopUp"):  # rarer tasks: whatever ran succeeded
        assert name not in rows or int(rows[name]["Failure Count"]) == 0, rows


def test_a_billing_run_over_the_whole_locust_mix_reconciles_three_ways(
    tmp_path: Path, redis_url: str
) -> None:
    """Gy sessions (home, EU, world roaming, partner video), gRPC sessions, top-ups, CC-Money
    debits, refunds naming them and offer purchases, all at once against one server with its
    billing bridge; then a billing run of the month and a reconciliation: no discrepancy."""
    diameter, grpc_port = free_port(), free_port()
    config = _config(tmp_path, redis_url, diameter, grpc_port, billing=True)
    serve = ServeProcess(config).start()
    try:
        serve.wait_ready()
        env = {
            "OCS_LOAD_GRPC": f"127.0.0.1:{grpc_port}",
            "OCS_LOAD_TOKEN": _token(config, "network_function"),
            "OCS_LOAD_CARE_TOKEN": _token(config, "care"),
            "OCS_LOAD_ADMIN_TOKEN": _token(config, "admin"),
            "OCS_LOAD_MIX": "100,100@20801,500,100@310260",
        }
        users = ["GyGateway", "GrpcGateway", "SelfCareApp", "MoneyMix"]
        rows = _locust(tmp_path, f"diameter://127.0.0.1:{diameter}", users, env)
        _assert_clean(rows, ("CCR-I", "Initial", "Debit"))
        for name in ("Refund", "PurchaseOffer", "TopUp"):  # rarer: whatever ran succeeded
            assert name not in rows or int(rows[name]["Failure Count"]) == 0, rows
        now = datetime.now(UTC)
        month = f"{now.year:04d}-{now.month:02d}"
        after = (now.replace(day=1) + timedelta(days=32)).replace(day=2).date().isoformat()
        common = ("--period", month, "--config", str(config))
        run = _ocs("billing", "run", *common, "--as-of", after)
        assert run.returncode == 0, run.stdout + run.stderr
        checked = _ocs("billing", "reconcile", *common, "--wait", "30")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "0 discrepancies" in checked.stdout, checked.stdout
    finally:
        serve.stop()


def _ocs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ocs"), *args], capture_output=True, text=True, timeout=180)


def _charged_sessions(redis_url: str) -> set[tuple[int, str]]:
    """(rating group, visited network) of every session event item that charged usage."""
    seen: set[tuple[int, str]] = set()
    with redis.Redis.from_url(redis_url) as client:
        for stream in client.scan_iter(match="*events", _type="stream"):
            for entry_id, fields in client.xrange(stream):
                data = decode(entry_id, fields).data
                if data.get("type") != "session":
                    continue
                network = (data.get("info") or {}).get("visited_network", "")
                seen |= {(item["rg"], network) for item in data["items"] if item.get("used")}
    return seen
