"""Capture Diameter on loopback with Wireshark's ``tshark`` and check what its dissector says.

Needs ``tshark`` (``apt install tshark``) and the right to capture on ``lo``
(root, or membership of the ``wireshark`` group); CI installs it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

needs_tshark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]


class Capture:
    """``tshark`` writing what crosses one TCP port on loopback to a file."""

    def __init__(self, port: int, path: Path) -> None:
        self.port, self.path = port, path
        self.process = subprocess.Popen(
            ["tshark", "-i", "lo", "-f", f"tcp port {port}", "-w", str(path)],
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
            if "Capturing on" in line:
                time.sleep(1.0)  # dumpcap says so a moment before its filter is live
                return None
        self.process.wait(10)
        return "".join(said)[-300:]

    def stop(self) -> None:
        if self.process.poll() is None:
            time.sleep(0.5)  # let dumpcap write the last packets out of its buffer
            self.process.send_signal(signal.SIGINT)
            self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()

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
