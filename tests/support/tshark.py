"""Capture Diameter on loopback with Wireshark's ``tshark`` and check what its dissector says.

Needs ``tshark`` (``apt install tshark``) and the right to capture on ``lo``
(root, or membership of the ``wireshark`` group); CI installs it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

needs_tshark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]


class Capture:
    """``tshark`` writing what crosses one TCP port on loopback to a file.

    It also captures UDP datagrams sent to a probe port, to know without guessing when its
    filter is live (the first probe is in the file) and when everything sent before a stop
    has been written (the last probe is)."""

    def __init__(self, port: int, path: Path) -> None:
        self.port, self.path = port, path
        self._probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._probe.bind(("127.0.0.1", 0))  # held: no one else gets this port meanwhile
        self.probe_port = int(self._probe.getsockname()[1])
        self.process = subprocess.Popen(
            [
                *("tshark", "-i", "lo", "-w", str(path)),
                *("-f", f"tcp port {port} or udp dst port {self.probe_port}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def started(self) -> str | None:
        """``None`` once capturing, else what tshark said instead."""
        assert self.process.stderr is not None
        said = []
        for line in self.process.stderr:
            said.append(line)
            if "Capturing on" in line:  # dumpcap says so a moment before its filter is live
                self._until_captured(b"start")
                return None
        self.process.wait(10)
        return "".join(said)[-300:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self._until_captured(b"stop")  # every packet before it is in the file too
            self.process.send_signal(signal.SIGINT)
            self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self._probe.close()

    def _until_captured(self, mark: bytes, within: float = 30.0) -> None:
        """Send ``mark`` to the probe port until tshark has written it to the file."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self._probe.sendto(mark, ("127.0.0.1", self.probe_port))
            found = subprocess.run(
                [
                    *("tshark", "-r", str(self.path), "-T", "fields", "-e", "data.data"),
                    *("-Y", f"udp.dstport == {self.probe_port}"),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )  # the file is still being written: its last block may be cut short
            if mark.hex() in found.stdout.split():
                return
            time.sleep(0.05)
        raise AssertionError(f"tshark did not capture the {mark!r} probe within {within:.0f} s")

    def read(self, *arguments: str) -> str:
        result = subprocess.run(
            ["tshark", "-r", str(self.path), "-d", f"tcp.port=={self.port},diameter", *arguments],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


def expert_problems(capture: Capture, ours: str) -> list[str]:
    """Expert items that matter: any error, and any warning in a frame sent from port ``ours``
    except Wireshark's "Data is empty" for the zero-length example payload of a missing
    string AVP in Failed-AVP, which RFC 6733 section 7.5 prescribes."""
    items = capture.read(
        "-Y",
        "_ws.expert",
        "-T",
        "fields",
        "-E",
        "aggregator=|",
        "-e",
        "frame.number",
        "-e",
        "tcp.srcport",
        "-e",
        "_ws.expert.severity",
        "-e",
        "_ws.expert.message",
    )
    problems = []
    for line in items.splitlines():
        frame, port, severities, messages = [*line.split("\t"), "", ""][:4]
        for severity, message in zip(severities.split("|"), messages.split("|"), strict=False):
            level = int(severity, 0)
            if level >= 0x800000 or (
                port == ours and level >= 0x600000 and message != "Data is empty"
            ):
                problems.append(f"frame {frame} from {port}: {message}")
    return problems
