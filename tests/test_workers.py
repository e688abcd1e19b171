"""`ocs serve --workers N`: workers share the Diameter port, metrics add up, a dead worker is
restarted, and SIGTERM stops everything (workers, then redis)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocs import __version__
from ocs.redis_server import pid_alive
from tests.gy.gateway import INITIAL, TERMINATE, Gateway, Mscc
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[ServeProcess, int, str]]:
    diameter, metrics = free_port(), free_port()
    config = tmp_path / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{tmp_path / "var"}"
catalog = "{DEMO_CATALOG}"
workers = 2
[metrics]
listen = "127.0.0.1:{metrics}"
[diameter]
listen = "127.0.0.1:{diameter}"
[grpc]
enabled = false
[demo]
subscribers = 8
"""
    )
    serve = ServeProcess(config).start()
    try:
        serve.wait_for(r"ocs\.workers: workers ready count=2", timeout=60)
        serve.wait_for(r"ocs\.app: ocs ready .*subsystems=redis,workers,metrics")
        yield serve, diameter, f"http://127.0.0.1:{metrics}/metrics"
    finally:
        serve.stop()


def worker_pids(serve: ServeProcess) -> list[int]:
    pids = [
        int(p) for p in serve.wait_for(r"workers ready count=2 pids=([\d,]+)").group(1).split(",")
    ]
    return pids


def samples(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def sessions(port: int, count: int) -> None:
    for n in range(count):
        gateway = await Gateway.connect(port, f"pgw{n}.workers.example")
        sid = gateway.new_session(gateway.origin_host)
        opened = await gateway.ccr(
            sid, INITIAL, 0, msisdn=f"99910000000{n}", mscc=[Mscc(100, request=True)]
        )
        assert opened[100].result_code == 2001
        assert (
            await gateway.ccr(sid, TERMINATE, 1, mscc=[Mscc(100, used_octets=1000)])
        ).result_code == 2001
        await gateway.close()


def test_workers_share_the_port_and_the_master_adds_up_their_metrics(
    workers: tuple[ServeProcess, int, str],
) -> None:
    serve, port, metrics = workers
    assert len(worker_pids(serve)) == 2
    assert re.search(r"ocs\.app\[w0\]: ocs ready .*balance-sweeper,renewals,demo", serve.output)
    assert re.search(r"ocs\.app\[w1\]: ocs ready", serve.output)
    before = samples(metrics)
    asyncio.run(sessions(port, 6))
    keys = [
        "ocs_diameter_requests_total"
        f"[('command', 'CCR'), ('request_type', '{kind}'), ('result_code', '2001')]"
        for kind in ("INITIAL", "TERMINATE")
    ]
    # a worker adds its counts to its metrics file once a second (ocs.tally)
    deadline = time.monotonic() + 10
    while True:
        after = samples(metrics)
        added = [after.get(key, 0) - before.get(key, 0) for key in keys]
        if added == [6, 6] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert added == [6, 6]  # summed over both workers
    assert after["ocs_server_cpu_seconds_total[]"] > 0
    build = [name for name in after if name.startswith("ocs_build_info[")]
    assert len(build) == 1 and f"('version', '{__version__}')" in build[0]


def test_a_dead_worker_is_restarted_and_sigterm_stops_everything(
    workers: tuple[ServeProcess, int, str], tmp_path: Path
) -> None:
    serve, port, metrics = workers
    first, second = worker_pids(serve)
    assert samples(metrics)["ocs_workers_restarts_total[]"] == 0
    os.kill(second, signal.SIGKILL)
    restarted = serve.wait_for(r"worker restarted index=1 pid=(\d+)", timeout=30)
    new_pid = int(restarted.group(1))
    assert new_pid != second and pid_alive(new_pid)
    assert samples(metrics)["ocs_workers_restarts_total[]"] == 1  # the OcsWorkerRestarted alert
    asyncio.run(sessions(port, 4))  # both workers serve again
    redis_pid = int((tmp_path / "var" / "redis" / "redis.pid").read_text())
    assert serve.stop() == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in (first, new_pid, redis_pid)):
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in (first, new_pid, redis_pid))
    assert "workers stopped count=2" in serve.output
