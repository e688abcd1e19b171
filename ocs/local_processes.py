"""The pieces the local cluster is made of: free ports, certificates, child processes, a
redis-server that speaks TLS, and a PostgreSQL of its own (see :mod:`ocs.local_cluster`)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ocs.redis_server import die_with_parent

TLS_REDIS_SERVER_ENV = "OCS_TLS_REDIS_SERVER"


def free_port(bus: bool = False) -> int:
    """A loopback port that was free a moment ago (and, for a cluster node, its +10000 too)."""
    import socket

    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not bus:
            return port
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def tls_redis_server() -> str:
    """A redis-server that speaks TLS (Debian's), or the one OCS_TLS_REDIS_SERVER names."""
    named = os.environ.get(TLS_REDIS_SERVER_ENV) or shutil.which("redis-server") or ""
    for candidate in (named, "/usr/bin/redis-server"):
        if candidate and Path(candidate).is_file():
            probe = subprocess.run(
                [candidate, "--tls-port", "0", "--port", "0"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if "Bad directive" not in probe.stdout + probe.stderr:
                return candidate
    raise RuntimeError(
        "no redis-server with TLS: install Debian's redis-server package "
        f"(apt-get install redis-server) or set {TLS_REDIS_SERVER_ENV}"
    )


def make_certificates(directory: Path) -> dict[str, str]:
    """A CA and one server/client certificate for 127.0.0.1 and localhost, with openssl."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "node.key", "node.csr", "node.pem")
    )
    ext = directory / "node.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "basicConstraints=CA:FALSE\n"
    )

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "30",
        "-subj",
        "/CN=ocs local CA",
    )
    openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=localhost",
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "30",
        "-extfile",
        str(ext),
    )
    for path in (ca_key, key):
        path.chmod(0o600)
    return {"ca": str(ca), "cert": str(cert), "key": str(key)}


@dataclass
class Process:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.popen is not None:  # started again after a kill: reap the old one
            if self.popen.poll() is None:
                raise RuntimeError(f"{self.name} is still running")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            preexec_fn=die_with_parent,
            start_new_session=True,  # its own group: kill -9 of an ocs takes its workers
        )
        handle.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        """Signal the process group (an ocs master and its workers)."""
        if self.running:
            os.killpg(self.pid, signum)

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal(signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)  # the master stops its own workers
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        self.popen = None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            if self.popen is not None and self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name}: no {text!r} in its log ({self.log}):\n" + self.log_text()[-3000:]
        )


class PostgresProcess:
    """initdb + postgres under ``directory`` (as the ``postgres`` user when run as root)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.data = self.directory / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def bindir() -> Path:
        found = shutil.which("initdb")
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
        if found:
            candidates.insert(0, found)
        if not candidates:
            raise RuntimeError("no PostgreSQL server binaries: apt-get install postgresql")
        return Path(candidates[0]).parent

    def _as_owner(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def start(self) -> str:
        bindir = self.bindir()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        if not self.data.exists():
            subprocess.run(
                self._as_owner(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        self.user,
                        "-A",
                        "trust",
                        "-N",
                    ]
                ),
                check=True,
                capture_output=True,
                timeout=120,
            )
        log = (self.directory / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            self._as_owner(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-k",
                    str(self.directory),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                ]
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        log.close()
        import psycopg

        dsn = f"postgresql://{self.user}@/postgres?host={self.directory}&port={self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = 'ocs'"
                    ).fetchone()
                    if not exists:
                        conn.execute("CREATE DATABASE ocs")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.1)
        return f"postgresql://{self.user}@/ocs?host={self.directory}&port={self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
