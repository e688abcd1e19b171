"""The Locust users drive a real `ocs serve` and report every request to Locust's statistics."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow
LOCUSTFILE = Path(__file__).resolve().parents[1] / "loadtests" / "locustfile.py"


def test_locust_gy_users_run_sessions_without_failures(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
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
listen = "127.0.0.1:{port}"
[grpc]
enabled = false
[demo]
subscribers = 20
"""
    )
    serve = ServeProcess(config).start()
    try:
        serve.wait_ready()
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                "5",
                "-r",
                "5",
                "-t",
                "3s",
                "--host",
                f"diameter://127.0.0.1:{port}",
                "--csv",
                str(tmp_path / "run"),
                "--only-summary",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"OCS_LOAD_SUBSCRIBERS": "20", "PATH": "/usr/bin:/bin"},
        )
    finally:
        serve.stop()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with (tmp_path / "run_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    for name in ("CCR-I", "CCR-U", "CCR-T"):
        assert int(rows[name]["Request Count"]) > 0, rows
        assert int(rows[name]["Failure Count"]) == 0, rows
