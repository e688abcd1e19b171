"""The embedded default: ocs starts its own redis-server under the state dir.

Layout of the state dir (default ``./var``)::

    var/ocs.lock          held (flock) by the one ocs server using this state dir
    var/redis/            redis-server's dir: AOF, redis.conf (0600), redis.log
    var/redis/password    generated once, 0600
    var/redis/url         connection URL while the server runs (for ocs CLI tools)

A second ``ocs serve`` on the same state dir finds the lock held and refuses to
start, so two redis-servers never write the same files.

The redis-server is ocs's child, and ocs watches it (every 0.1 s): if it dies (kill -9, the OOM
killer, a crash) ocs logs it and starts it again on the same dir, socket and password, which
replays the AOF; every connection reconnects by itself. Nothing it acknowledged is lost that way:
it writes each command to the AOF before answering, and ocs fsyncs the AOF once a second
(:mod:`ocs.redis_aof`). A server that keeps dying is restarted
after a growing pause. With ``ocs serve --workers N`` the master does this for all its workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import signal
import socket
import time
from pathlib import Path

from ocs.errors import StartupError
from ocs.redis_aof import AofSyncer
from ocs.redis_server import MAX_UNIX_SOCKET_PATH, RedisServer, find_redis_server, pid_alive
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.redis")

WATCH_INTERVAL = 0.1
"""How often the child is checked: a dead redis-server is noticed within this."""
RESTART_BACKOFF = (0.0, 0.5, 1.0, 2.0, 5.0)
"""Pauses before restarting a server that died again soon (< STABLE_AFTER) after a start."""
STABLE_AFTER = 30.0


class StateDirLock:
    """An exclusive ``flock`` on ``<state_dir>/ocs.lock``, released when the process dies."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "ocs.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StartupError(f"cannot use state dir {self.state_dir}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                f"state dir {self.state_dir.resolve()} is in use by another ocs server "
                f"(pid {holder}); stop it or choose another state dir (OCS_STATE_DIR)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(state_dir: Path) -> int | None:
        """The pid of the ocs server holding ``state_dir``, or None if it is free."""
        path = state_dir / "ocs.lock"
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None


def running_server_url(state_dir: Path) -> str | None:
    """The URL of the embedded redis of the ocs server running on ``state_dir``, if any."""
    if StateDirLock.holder(state_dir) is None:
        return None
    try:
        return (state_dir / "redis" / "url").read_text().strip() or None
    except OSError:
        return None


def _read_or_create_password(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        password = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        return password


def _stop_orphan(server: RedisServer) -> None:
    """A redis-server left on our files by a killed ocs (we hold the lock, so it is ours)."""
    try:
        pid = int(server.pid_path.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"redis-server" not in cmdline or not pid_alive(pid):
        return
    log.warning("stopping orphaned redis-server pid=%d dir=%s", pid, server.directory)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


class EmbeddedRedis:
    """Subsystem: lock the state dir, run redis-server in it, publish its URL."""

    name = "redis"

    def __init__(self, state_dir: Path, server_binary: str = "", durability: str = "local") -> None:
        self.state_dir = state_dir
        self.server_binary = server_binary
        # "no": redis writes each command to the AOF before answering it, and ocs fsyncs the
        # file once a second (ocs.redis_aof explains why not redis' own "everysec").
        self.appendfsync = "always" if durability == "fsync" else "no"
        self.syncer: AofSyncer | None = None
        self.lock = StateDirLock(state_dir)
        self.server: RedisServer | None = None
        self.restarts = 0
        self._watcher: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None
        self.restarted = asyncio.Event()
        """Set after each restart (tests wait on it)."""

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("embedded redis is not started")
        return self.server.url

    async def start(self) -> None:
        # Synchronous on purpose: the child must be forked from the main thread
        # (PR_SET_PDEATHSIG follows the forking thread), and nothing is being
        # served yet while it starts.
        self.lock.acquire()
        try:
            directory = self.state_dir / "redis"
            # Private: the AOF holds every balance and the password file the key.
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.chmod(0o700)
            password = _read_or_create_password(directory / "password")
            socket_path = (directory / "redis.sock").resolve()
            # A deep state dir cannot hold a unix socket: use loopback TCP instead.
            port = 0 if len(str(socket_path)) <= MAX_UNIX_SOCKET_PATH else _free_port()
            server = RedisServer(
                directory,
                password=password,
                port=port,
                binary=find_redis_server(self.server_binary),
                appendfsync=self.appendfsync,
            )
            _stop_orphan(server)
            server.start()
            url_path = directory / "url"
            fd = os.open(url_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(server.url + "\n")
        except BaseException:
            self.lock.release()
            raise
        self.server = server
        where = f"unix:{server.socket_path}" if server.port == 0 else f"127.0.0.1:{server.port}"
        log.info(
            "embedded redis-server started pid=%d address=%s dir=%s aof_fsync=%s",
            server.process.pid if server.process else -1,
            where,
            server.directory,
            "always" if self.appendfsync == "always" else "every-1s-by-ocs",
        )
        loop = asyncio.get_running_loop()
        self._watcher = loop.create_task(self._watch(server), name="embedded-redis-watch")
        if self.appendfsync == "no":
            self.syncer = AofSyncer(server.directory)
            self._syncing = loop.create_task(self.syncer.run(), name="embedded-redis-aof-sync")

    async def _watch(self, server: RedisServer) -> None:
        """Restart the child whenever it dies, until stop()."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        quick_deaths = -1  # the first death after a stable run restarts at once
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            process = server.process
            if process is None or process.poll() is None:
                continue
            code = process.returncode
            cause = f"signal={-code}" if code < 0 else f"code={code}"
            stable = loop.time() - started >= STABLE_AFTER or self.restarts == 0
            quick_deaths = 0 if stable else quick_deaths + 1
            delay = RESTART_BACKOFF[min(quick_deaths, len(RESTART_BACKOFF) - 1)]
            log.error(
                "embedded redis-server died pid=%d %s: restarting it on the same data "
                "dir=%s restart_in=%.1fs last_log=%s",
                process.pid,
                cause,
                server.directory,
                delay,
                server.log_tail(1),
            )
            server.process = None
            await asyncio.sleep(delay)
            began = loop.time()
            try:
                await server.start_async()
            except StartupError as exc:
                log.error("embedded redis-server restart failed error=%s", exc)
                started = loop.time()
                continue
            started = loop.time()
            self.restarts += 1
            log.warning(
                "embedded redis-server restarted pid=%d restarts=%d took=%.2fs (AOF replayed)",
                server.process.pid if server.process else -1,
                self.restarts,
                started - began,
            )
            self.restarted.set()
            self.restarted.clear()

    async def stop(self) -> None:
        await cancel_and_wait([self._watcher, self._syncing])
        self._watcher = self._syncing = None
        if self.server is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.server.directory / "url").unlink()
            self.server.stop()
            log.info("embedded redis-server stopped")
            self.server = None
        self.lock.release()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
