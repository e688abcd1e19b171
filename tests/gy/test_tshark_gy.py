"""Wireshark's dissector reads a whole Gy run of ocs without a malformed packet or expert error:
CCR/CCA with two rating groups, a final grant with a redirect, RAR/RAA after a top-up, an SMS
event with Cost-Information, and an error answer with Failed-AVP."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ocs.app import App
from ocs.diameter import avps
from ocs.diameter.constants import Command
from tests.conftest import app_config
from tests.gy.conftest import subscriber
from tests.gy.gateway import EVENT, INITIAL, TERMINATE, UPDATE, Gateway, Mscc
from tests.support.tshark import Capture, expert_problems, needs_tshark

pytestmark = needs_tshark

MB = 1_000_000


async def gy_run(tmp_path: Path, redis_url: str, port: int) -> None:
    app = App(app_config(tmp_path / "state", redis_url, diameter={"listen": f"127.0.0.1:{port}"}))
    await app.start()
    try:
        account = await subscriber(app, "999600000001", money=30, offers=("payg", "voice_pack"))
        gateway = await Gateway.connect(port)
        sid = gateway.new_session()
        await gateway.ccr(
            sid,
            INITIAL,
            0,
            msisdn=account,
            visited_network="00101",
            mscc=[Mscc(100, request=True), Mscc(200, request=True)],
        )
        final = await gateway.ccr(
            sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=10 * MB)]
        )
        assert final[100].final_action == 1
        await gateway.ccr(sid, UPDATE, 2, mscc=[Mscc(100, used_octets=5 * MB, reporting_reason=2)])
        await app.operations.topup("pay-tshark", account, 100, "EUR")
        await gateway.wait_for_request(Command.RE_AUTH, sid)
        await gateway.ccr(sid, TERMINATE, 3, mscc=[Mscc(200, used_seconds=42)])
        await gateway.ccr(
            gateway.new_session(),
            EVENT,
            0,
            msisdn=account,
            service_context="32274@3gpp.org",
            requested_action=0,
            mscc=[Mscc(300, request=True, units=1)],
        )
        error = gateway.build(
            gateway.new_session(),
            INITIAL,
            0,
            msisdn=account,
            leave_out=frozenset({avps.CC_REQUEST_NUMBER}),
        )
        assert (await gateway.send(error)).result_code == 5005
        await gateway.close()
    finally:
        await app.stop()


def test_wireshark_reads_a_gy_run_cleanly(capture: Capture, tmp_path: Path, redis_url: str) -> None:
    asyncio.run(gy_run(tmp_path, redis_url, capture.port))
    capture.stop()
    commands = capture.read(
        "-Y", "diameter", "-T", "fields", "-e", "diameter.cmd.code", "-e", "diameter.flags.request"
    )
    seen = {
        (code, request)
        for line in commands.splitlines()
        for code, request in zip(*(part.split(",") for part in line.split("\t")), strict=True)
    }
    assert {("272", "1"), ("272", "0"), ("258", "1"), ("258", "0")} <= seen, commands
    fui = capture.read(
        "-Y", "diameter.Final-Unit-Action == 1", "-T", "fields", "-e", "frame.number"
    )
    assert fui.strip(), "no CCA with Final-Unit-Action REDIRECT was dissected"
    cost = capture.read("-Y", "diameter.Currency-Code == 978", "-T", "fields", "-e", "frame.number")
    assert cost.strip(), "no Cost-Information was dissected"
    assert capture.read("-Y", "_ws.malformed") == ""
    assert expert_problems(capture, str(capture.port)) == []
