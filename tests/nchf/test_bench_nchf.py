"""`ocs bench --protocol nchf` against the real `ocs serve`: Nchf sessions from two
processes, then every balance checked to the cent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow


def test_bench_runs_nchf_sessions_and_finds_every_balance_exact(
    tmp_path: Path, redis_url: str
) -> None:
    config = tmp_path / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{tmp_path / "state"}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_url}"
[metrics]
listen = "127.0.0.1:{free_port()}"
[diameter]
enabled = false
[grpc]
enabled = false
[nchf]
enabled = true
listen = "127.0.0.1:{free_port()}"
"""
    )
    serve = ServeProcess(config).start()
    try:
        serve.wait_ready()
        result = subprocess.run(
            [
                *(sys.executable, "-m", "ocs", "bench", "--config", str(config)),
                *("--protocol", "nchf", "--processes", "2", "--connections", "2"),
                *("--subscribers", "40", "--updates", "3", "--warmup", "0.5", "--duration", "2"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        serve.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"bench: ([\d,]+) CCR/s, p99 [\d.]+ ms, (\d+) us server CPU per CCR, balances exact", last
    )
    assert match, last
    assert int(match[1].replace(",", "")) > 0
    assert re.search(r"result codes 200: \d+, 201: \d+, 204: \d+", result.stdout), result.stdout
