"""Wireshark's Diameter dissector reads what ocs sends: CER/CEA, CCR/CCA, DWR/DWA
both ways, an error answer with Failed-AVP, and DPR/DPA, captured on loopback.

Needs ``tshark`` (``apt install tshark``) and the right to capture on ``lo``
(root, or membership of the ``wireshark`` group); CI installs it. The test fails
on any malformed packet or expert error, and on any expert warning in a frame
ocs sent.
"""

from __future__ import annotations

import asyncio

from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Message
from ocs.diameter.constants import Application, Command, ResultCode
from tests.diameter.client import Client, running_server
from tests.diameter.messages import ccr, ccr_avps
from tests.support.tshark import Capture, expert_problems, needs_tshark

pytestmark = needs_tshark


def answer(request: Message, peer: PeerInfo) -> Message:
    return request.answer(ResultCode.DIAMETER_SUCCESS, peer.local)


async def exchange(port: int) -> None:
    async with running_server(listen=f"127.0.0.1:{port}", watchdog_interval=0.3) as server:
        server.register(Application.CREDIT_CONTROL, Command.CREDIT_CONTROL, answer)
        client = await Client.connect(port, watchdog=0.5)
        await client.ccr(1)
        client.send_raw(ccr(ccr_avps()[:2], hop_by_hop=0x4242))  # gets 5005 with Failed-AVP
        client.peer.send_watchdog(asyncio.get_running_loop().time())  # our DWA to its DWR
        client.send_raw(client.peer.data_to_send())
        for _ in range(2000):  # and the server's own DWR after Tw (0.3 s) of quiet
            if client.seen.received["DWR"]:
                break
            await asyncio.sleep(0.01)
        assert client.seen.received["DWR"], "the server sent no DWR"
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
    assert expert_problems(capture, ours) == []
