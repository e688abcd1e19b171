"""Wireshark's Diameter dissector reads what ocs sends: CER/CEA, CCR/CCA, DWR/DWA
both ways, an error answer with Failed-AVP, and DPR/DPA, captured on loopback.

Needs ``tshark`` (``apt install tshark``) and the right to capture on ``lo``
(root, or membership of the ``wireshark`` group); CI installs it. The test fails
on any malformed packet or expert error, and on any expert warning in a frame
ocs sent.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Message
from ocs.diameter.constants import Application, Command, ResultCode
from tests.diameter.client import Client, running_server
from tests.diameter.messages import ccr, ccr_avps
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]


def answer(request: Message, peer: PeerInfo) -> Message:
    return request.answer(ResultCode.DIAMETER_SUCCESS, peer.local)


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


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Capture]:
    running = Capture(free_port(), tmp_path / "diameter.pcapng")
    try:
        problem = running.started()
        if problem is not None:
            pytest.skip(f"tshark cannot capture on lo here: {problem}")
        yield running
    finally:
        running.stop()


async def exchange(port: int) -> None:
    async with running_server(listen=f"127.0.0.1:{port}", watchdog_interval=0.3) as server:
        server.register(Application.CREDIT_CONTROL, Command.CREDIT_CONTROL, answer)
        client = await Client.connect(port, watchdog=0.5)
        await client.ccr(1)
        client.send_raw(ccr(ccr_avps()[:2], hop_by_hop=0x4242))  # gets 5005 with Failed-AVP
        client.peer.send_watchdog(asyncio.get_running_loop().time())  # our DWA to its DWR
        client.send_raw(client.peer.data_to_send())
        await asyncio.sleep(1.0)  # and the server's own DWR after Tw of quiet
        await client.disconnect()
        await client.close()


def test_wireshark_reads_cer_ccr_dwr_dpr_without_malformed_packets(capture: Capture) -> None:
    asyncio.run(exchange(capture.port))
    capture.stop()
    fields = capture.read(
        "-Y",
        "diameter",
        "-T",
        "fields",
        "-e",
        "tcp.srcport",
        "-e",
        "diameter.cmd.code",
        "-e",
        "diameter.flags.request",
        "-e",
        "diameter.Result-Code",
    )
    seen = set()
    for line in fields.splitlines():  # a segment holding two messages lists both, comma-joined
        port, codes, requests, results = [*line.split("\t"), ""][:4]
        answer_results = iter(results.split(",") if results else [])
        for code, request in zip(codes.split(","), requests.split(","), strict=True):
            result = "" if request == "1" else next(answer_results, "")
            seen.add((port, code, request, result))
    ours = str(capture.port)
    assert len({port for port, *_ in seen}) == 2, fields
    for code in ("257", "272", "282"):  # CEA, CCA, DPA sent by ocs
        assert (ours, code, "0", "2001") in seen, fields
    assert (ours, "272", "0", "5005") in seen, fields  # the error answer with Failed-AVP
    assert (ours, "280", "1", "") in seen and (ours, "280", "0", "2001") in seen, fields
    assert capture.read("-Y", "_ws.malformed") == ""
    # Expert items: no error anywhere; no warning in what ocs sent, except Wireshark's
    # "Data is empty" for the zero-length example payload of a missing string AVP in
    # Failed-AVP, which RFC 6733 section 7.5 prescribes.
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
    assert problems == [], problems
