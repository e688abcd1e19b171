"""The embedded default: `ocs serve` runs its own redis-server and cleans up after itself."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ocs.embedded_redis import running_server_url
from ocs.redis_server import pid_alive
from tests.support.serve import DEMO_CATALOG, ServeProcess


def serve_config(tmp_path: Path) -> Path:
    path = tmp_path / "ocs.toml"
    path.write_text(
        f"""
state_dir = "{tmp_path / "var"}"
catalog = "{DEMO_CATALOG}"
[metrics]
listen = "127.0.0.1:0"
[diameter]
listen = "127.0.0.1:0"
[grpc]
listen = "127.0.0.1:0"
"""
    )
    return path


@pytest.fixture
def servers() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.stop()


def start(tmp_path: Path, servers: list[ServeProcess]) -> ServeProcess:
    server = ServeProcess(serve_config(tmp_path)).start()
    servers.append(server)
    return server


def redis_pid(tmp_path: Path) -> int:
    return int((tmp_path / "var" / "redis" / "redis.pid").read_text())


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_data_survives_a_restart_and_sigterm_leaves_no_redis(
    tmp_path: Path, servers: list[ServeProcess]
) -> None:
    first = start(tmp_path, servers)
    first.wait_ready()
    assert "embedded redis-server started" in first.output
    url = running_server_url(tmp_path / "var")
    assert url is not None and url.startswith("unix://")
    pid = redis_pid(tmp_path)
    with redis.Redis.from_url(url) as client:
        client.set("balance:demo", "1234")
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    assert wait_gone(pid), "redis-server still running after ocs exited"
    assert running_server_url(tmp_path / "var") is None

    second = start(tmp_path, servers)
    second.wait_ready()
    url = running_server_url(tmp_path / "var")
    assert url is not None
    with redis.Redis.from_url(url) as client:
        assert client.get("balance:demo") == b"1234"  # replayed from the AOF


def test_redis_requires_the_generated_password(tmp_path: Path, servers: list[ServeProcess]) -> None:
    start(tmp_path, servers).wait_ready()
    url = running_server_url(tmp_path / "var")
    assert url is not None
    no_password = url.split("?")[0]
    with redis.Redis.from_url(no_password) as client, pytest.raises(redis.AuthenticationError):
        client.get("anything")
    state = tmp_path / "var" / "redis"
    assert (state / "password").stat().st_mode & 0o077 == 0
    assert (state / "redis.conf").stat().st_mode & 0o077 == 0
    assert "appendonly yes" in (state / "redis.conf").read_text()
    assert "appendfsync no" in (state / "redis.conf").read_text()  # ocs fsyncs it


def test_second_server_on_the_same_state_dir_is_refused(
    tmp_path: Path, servers: list[ServeProcess]
) -> None:
    first = start(tmp_path, servers)
    first.wait_ready()
    pid = redis_pid(tmp_path)
    second = start(tmp_path, servers)
    assert second.wait(timeout=30) == 1
    assert "in use by another ocs server" in second.output
    assert f"pid {first.process.pid}" in second.output  # type: ignore[union-attr]
    assert "Traceback" not in second.output
    # the first server and its redis are untouched
    assert first.process is not None and first.process.poll() is None
    assert redis_pid(tmp_path) == pid and pid_alive(pid)


def test_killed_server_takes_its_redis_along_and_restarts_cleanly(
    tmp_path: Path, servers: list[ServeProcess]
) -> None:
    first = start(tmp_path, servers)
    first.wait_ready()
    pid = redis_pid(tmp_path)
    first.signal(signal.SIGKILL)
    first.wait()
    assert wait_gone(pid), "redis-server outlived a SIGKILLed ocs"
    second = start(tmp_path, servers)
    second.wait_ready()
    assert redis_pid(tmp_path) != pid


def test_unreachable_external_redis_fails_start_clearly(
    tmp_path: Path, servers: list[ServeProcess]
) -> None:
    server = ServeProcess(
        serve_config(tmp_path), env={"OCS_REDIS_URL": "redis://127.0.0.1:1/0"}
    ).start()
    servers.append(server)
    assert server.wait(timeout=30) == 1
    assert "ocs: cannot start: cannot reach redis at redis://127.0.0.1:1/0" in server.output
    assert "Traceback" not in server.output
    assert not (tmp_path / "var" / "redis").exists()  # no embedded server was started


def test_sigint_also_shuts_down_gracefully(tmp_path: Path, servers: list[ServeProcess]) -> None:
    server = start(tmp_path, servers)
    server.wait_ready()
    pid = redis_pid(tmp_path)
    server.signal(signal.SIGINT)
    assert server.wait() == 0
    assert "shutting down signal=SIGINT" in server.output
    assert "ocs stopped" in server.output
    assert wait_gone(pid)
    assert os.path.exists(tmp_path / "var" / "redis" / "appendonly.aof")


def test_ctrl_c_to_the_process_group_lets_ocs_stop_redis_last(
    tmp_path: Path, servers: list[ServeProcess]
) -> None:
    """A terminal's Ctrl-C signals the whole foreground group; redis must not die first."""
    server = ServeProcess(serve_config(tmp_path), new_group=True).start()
    servers.append(server)
    server.wait_ready()
    pid = redis_pid(tmp_path)
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGINT)
    assert server.wait() == 0
    assert "pubsub feed lost" not in server.output
    log = (tmp_path / "var" / "redis" / "redis.log").read_text()
    assert "Received SIGINT" not in log  # stopped by ocs (SIGTERM), not by the terminal
    assert wait_gone(pid)
