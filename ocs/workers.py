"""``ocs serve --workers N``: one master process and N worker processes (one event loop each).

The master holds the state dir and the embedded redis-server, serves
``/metrics`` for every process, and supervises the workers: a worker that dies
is restarted (after a short backoff), and SIGINT/SIGTERM stop every worker
gracefully before redis stops.

Each worker is a fresh interpreter running the charging server (``ocs serve
--worker-index i``) on the shared listening ports: SO_REUSEPORT lets the kernel
spread connections over the workers. Worker 0 alone runs the expiry sweeper,
demo provisioning and the billing bridge. Metrics use prometheus_client's
multiprocess mode: one file per process under ``<state_dir>/metrics``, summed by
the master (``PROMETHEUS_MULTIPROC_DIR`` must be set before a worker imports
prometheus_client, which a fresh interpreter guarantees).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from prometheus_client import multiprocess

from ocs.redis_server import die_with_parent

log = logging.getLogger("ocs.workers")

WORKER_INDEX_ENV = "OCS_WORKER_INDEX"
READY_FD_ENV = "OCS_READY_FD"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
RESTART_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)
READY_TIMEOUT = 60.0


def signal_ready() -> None:
    """Called by a worker once it serves: tells the master through the inherited pipe."""
    fd = os.environ.get(READY_FD_ENV)
    if fd:
        with contextlib.suppress(OSError):
            os.write(int(fd), b"ready\n")
            os.close(int(fd))


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0


class Workers:
    """Subsystem of the master: start, watch and stop the worker processes."""

    name = "workers"

    def __init__(
        self,
        count: int,
        config_path: Path | None,
        metrics_dir: Path,
        redis_url: Callable[[], str] | None,
        stop_timeout: float = 20.0,
    ) -> None:
        self.workers = [Worker(i) for i in range(count)]
        self.config_path = config_path
        self.metrics_dir = metrics_dir
        self.redis_url = redis_url
        self.stop_timeout = stop_timeout
        self.stopping = False
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def restarts(self) -> int:
        """Workers restarted after they died, since the master started."""
        return sum(worker.restarts for worker in self.workers)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process and w.process.returncode is None]

    async def start(self) -> None:
        # Files of an earlier run would be summed with this one's.
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.metrics_dir.glob("*.db"):
            stale.unlink()
        await asyncio.gather(*(self._spawn(worker) for worker in self.workers))
        log.info("workers ready count=%d pids=%s", len(self.workers), ",".join(map(str, self.pids)))

    async def _spawn(self, worker: Worker) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env.update(
            {
                WORKER_INDEX_ENV: str(worker.index),
                READY_FD_ENV: str(write_fd),
                MULTIPROC_ENV: str(self.metrics_dir),
                "OCS_METRICS_ENABLED": "false",
                "OCS_DIAMETER_REUSE_PORT": "true",
                "OCS_NCHF_REUSE_PORT": "true",
            }
        )
        if self.redis_url is not None:
            env["OCS_REDIS_URL"] = self.redis_url()
        arguments = [sys.executable, "-m", "ocs", "serve", "--worker-index", str(worker.index)]
        if self.config_path is not None:
            arguments += ["--config", str(self.config_path)]
        try:
            worker.process = await asyncio.create_subprocess_exec(
                *arguments,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(write_fd,),
                preexec_fn=die_with_parent,
            )
        finally:
            os.close(write_fd)
        try:
            ready = await asyncio.wait_for(_read_line(read_fd), READY_TIMEOUT)
        finally:
            os.close(read_fd)
        if ready != b"ready\n":
            code = await worker.process.wait()
            raise RuntimeError(f"worker {worker.index} exited with code {code} before serving")
        task = asyncio.get_running_loop().create_task(self._watch(worker))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, worker: Worker) -> None:
        process = worker.process
        assert process is not None
        code = await process.wait()
        multiprocess.mark_process_dead(process.pid, str(self.metrics_dir))
        if self.stopping:
            return
        delay = RESTART_BACKOFF[min(worker.restarts, len(RESTART_BACKOFF) - 1)]
        worker.restarts += 1
        log.error(
            "worker died index=%d pid=%d code=%s restarting_in=%.1fs restarts=%d",
            worker.index,
            process.pid,
            code,
            delay,
            worker.restarts,
        )
        await asyncio.sleep(delay)
        if not self.stopping:
            try:
                await self._spawn(worker)
                pid = worker.process.pid if worker.process else -1
                log.info("worker restarted index=%d pid=%d", worker.index, pid)
            except (OSError, RuntimeError, TimeoutError) as exc:
                log.error("worker restart failed index=%d error=%s", worker.index, exc)

    async def stop(self) -> None:
        self.stopping = True
        running = [w.process for w in self.workers if w.process and w.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), self.stop_timeout)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    log.error("worker did not stop in time pid=%d: killing it", process.pid)
                    process.kill()
            await asyncio.gather(*(p.wait() for p in running))
        for task in list(self._watchers):
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        log.info("workers stopped count=%d", len(running))


async def _read_line(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(fd), "rb", buffering=0)
    )
    try:
        return await reader.readline()
    finally:
        transport.close()
