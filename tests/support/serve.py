"""Run the real ``ocs serve`` command as a child process and watch its log."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "config" / "catalog.toml"
"""Configs written by tests elsewhere name the demo catalog explicitly."""


class ServeProcess:
    """``python -m ocs serve`` with a config file; stderr is collected line by line."""

    def __init__(
        self,
        config_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        *,
        new_group: bool = False,
    ) -> None:
        self.new_group = new_group
        self.config_path = config_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread

    def start(self) -> ServeProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ocs", "serve", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.cwd,
            process_group=0 if self.new_group else None,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        with self.process.stderr:
            for line in self.process.stderr:
                self.lines.append(line.rstrip("\n"))
                self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """Block until a log line matches ``pattern``; fail if the process exits first."""
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"ocs exited before {pattern!r}:\n{self.output}")
            if match := regex.search(line):
                return match
        raise AssertionError(f"no log line matching {pattern!r} within {timeout}s:\n{self.output}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        self.wait_for(r"ocs ready", timeout)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self._reader.join(timeout=5)  # the rest of stderr
        return code

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.signal(signal.SIGTERM)
        try:
            return self.wait()
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
            self._reader.join(timeout=5)
            return code
