"""`ocs bench` against the real `ocs serve`: sessions from several processes, then every
balance checked to the cent (a fast server that loses money fails the bench)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path, redis_url: str) -> Iterator[Path]:
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
listen = "127.0.0.1:{free_port()}"
[grpc]
enabled = false
"""
    )
    serve = ServeProcess(config).start()
    try:
        serve.wait_ready()
        yield config
    finally:
        serve.stop()


def test_bench_runs_sessions_and_finds_every_balance_exact(server: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocs",
            "bench",
            "--config",
            str(server),
            "--processes",
            "2",
            "--connections",
            "2",
            "--subscribers",
            "40",
            "--updates",
            "3",
            "--warmup",
            "0.5",
            "--duration",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"bench: ([\d,]+) CCR/s, p99 [\d.]+ ms, (\d+) us server CPU per CCR, balances exact", last
    )
    assert match, last
    assert int(match[1].replace(",", "")) > 0
    assert "result codes 2001:" in result.stdout
