"""Registration with an NRF (TS 29.510 Nnrf_NFManagement): a real HTTP/2 server plays the
NRF; ocs registers as a CHF with the service's apiPrefix, sends heartbeats at the NRF's
heartBeatTimer, registers again when the NRF forgot it, deregisters at stop."""

from __future__ import annotations

import json
from pathlib import Path

from ocs.app import App
from tests.conftest import app_config
from tests.nchf.peer import Received, running_peer

INSTANCE = "4947a69a-f61b-4bc1-b9da-47c9c5d14b64"


async def test_ocs_registers_as_a_chf_keeps_it_alive_and_deregisters(
    tmp_path: Path, redis_url: str
) -> None:
    heartbeats = 0

    def nrf(request: Received) -> tuple[int, bytes]:
        nonlocal heartbeats
        if request.method == "PUT":
            profile = request.json()
            return 201, json.dumps({**profile, "heartBeatTimer": 1}).encode()
        if request.method == "PATCH":
            heartbeats += 1
            return (404, b"") if heartbeats == 2 else (204, b"")  # the 2nd: "who are you?"
        return 204, b""

    async with running_peer(nrf) as peer:
        app = App(
            app_config(
                tmp_path / "state",
                redis_url,
                nchf={
                    "enabled": True,
                    "listen": "127.0.0.1:0",
                    "nrf_uri": peer.url,
                    "nf_instance_id": INSTANCE,
                    "api_root": "http://chf.example.org:8090",
                    "api_prefix": "/chf",
                    "heartbeat_s": 30,
                },
            )
        )
        await app.start()
        try:
            requests = await peer.wait_for(5, 15)
        finally:
            await app.stop()
        registration = requests[0]
        assert registration.method == "PUT" and registration.http_version == "2"
        assert registration.path == f"/nnrf-nfm/v1/nf-instances/{INSTANCE}"
        profile = registration.json()
        assert profile["nfType"] == "CHF" and profile["nfStatus"] == "REGISTERED"
        assert profile["fqdn"] == "chf.example.org"
        (service,) = profile["nfServices"]
        assert service["serviceName"] == "nchf-convergedcharging"
        assert service["versions"] == [{"apiVersionInUri": "v3", "apiFullVersion": "3.1.6"}]
        assert service["apiPrefix"] == "http://chf.example.org:8090/chf"
        assert service["ipEndPoints"] == [{"port": 8090, "transport": "TCP"}]
        # heartbeat (1 s, the NRF's timer), heartbeat -> 404, register again, heartbeat
        methods = [r.method for r in requests[1:5]]
        assert methods == ["PATCH", "PATCH", "PUT", "PATCH"]
        assert requests[1].headers["content-type"] == "application/json-patch+json"
        assert requests[1].json() == [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}]
        await peer.wait_until(lambda: peer.received[-1].method == "DELETE")
        deregistration = peer.received[-1]
        assert deregistration.method == "DELETE"
        assert deregistration.path == f"/nnrf-nfm/v1/nf-instances/{INSTANCE}"
