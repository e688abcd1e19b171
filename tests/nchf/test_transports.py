"""HTTP/2 as 5G cores use it: h2c with prior knowledge (curl, an independent client) and
HTTP/2 over TLS (ALPN h2), with client certificates when a CA is configured."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme

from ocs.app import App
from ocs.errors import StartupError
from tests.conftest import app_config
from tests.gy.conftest import NOW_MS, money, subscriber
from tests.nchf.conftest import BASE, by_group, charging_data, nchf_url, usage
from tests.support.ports import free_port

MB = 1_000_000


def curl(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "10", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (apt install curl)")
async def test_curl_with_http2_prior_knowledge_creates_a_session(ocs: App, tmp_path: Path) -> None:
    ocs.charging.clock = ocs.sweeper.clock = lambda: NOW_MS
    account = await subscriber(ocs, "491700000501", money=1000)
    body = tmp_path / "create.json"
    body.write_text(json.dumps(charging_data(usage(100), supi="imsi-001011700000501")))
    headers = tmp_path / "headers.txt"
    done = await asyncio.to_thread(
        curl,
        "--http2-prior-knowledge",
        "--dump-header",
        str(headers),
        "-H",
        "content-type: application/json",
        "--data-binary",
        f"@{body}",
        f"{nchf_url(ocs)}{BASE}",
    )
    status_line, *header_lines = headers.read_text().splitlines()
    assert status_line.strip() == "HTTP/2 201"
    location = next(line.split(": ", 1)[1] for line in header_lines if line.startswith("location"))
    grant = json.loads(done.stdout)["multipleUnitInformation"][0]
    assert (grant["ratingGroup"], grant["grantedUnit"]) == (100, {"totalVolume": 10 * MB})
    release = tmp_path / "release.json"
    release.write_text(json.dumps(charging_data(usage(100, request=False, used_octets=MB))))
    await asyncio.to_thread(
        curl,
        "--http2-prior-knowledge",
        "-H",
        "content-type: application/json",
        "--data-binary",
        f"@{release}",
        f"{location.strip()}/release",
    )
    assert await money(ocs, account) == 998


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("nchf-pki")
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("smf1.5gc.mnc001.mcc001.3gppnetwork.org")
    files = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key", "ccert", "ckey")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["ckey"]))
    client.cert_chain_pems[0].write_to_path(str(files["ccert"]))
    return files


@pytest.fixture
async def tls_ocs(tmp_path: Path, redis_url: str, pki: dict[str, Path]) -> AsyncIterator[App]:
    app = App(
        app_config(
            tmp_path / "state",
            redis_url,
            nchf={
                "enabled": True,
                "listen": "127.0.0.1:0",
                "tls_listen": "127.0.0.1:0",
                "tls_cert": str(pki["cert"]),
                "tls_key": str(pki["key"]),
                "tls_ca": str(pki["ca"]),
            },
        )
    )
    await app.start()
    yield app
    await app.stop()


async def test_http2_over_tls_with_a_client_certificate(tls_ocs: App, pki: dict[str, Path]) -> None:
    assert tls_ocs.nchf is not None
    scheme, host, port = tls_ocs.nchf.server.listening[1]
    assert scheme == "https"
    tls_ocs.charging.clock = lambda: NOW_MS
    await subscriber(tls_ocs, "491700000502", money=1000)
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    context.load_cert_chain(str(pki["ccert"]), str(pki["ckey"]))
    async with httpx.AsyncClient(
        base_url=f"https://{host}:{port}", http2=True, verify=context, timeout=10
    ) as smf:
        created = await smf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000502"))
        assert created.http_version == "HTTP/2"  # negotiated by ALPN
        assert created.status_code == 201
        assert by_group(created)[100]["grantedUnit"] == {"totalVolume": 10 * MB}
        assert created.headers["location"].startswith(f"https://{host}:{port}{BASE}/")

    anonymous = ssl.create_default_context(cafile=str(pki["ca"]))
    async with httpx.AsyncClient(
        base_url=f"https://{host}:{port}", http2=True, verify=anonymous, timeout=10
    ) as stranger:
        with pytest.raises(httpx.HTTPError):
            await stranger.post(BASE, json=charging_data())


def _time_wait_on(port: int) -> None:
    """Leave a connection in TIME_WAIT on the server's side of ``port``, as a stop that
    closed the SMFs' connections does."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        with socket.create_connection(("127.0.0.1", port)) as smf:
            accepted, _ = listener.accept()
            accepted.close()  # the server closes first: its end goes to TIME_WAIT
            assert smf.recv(1) == b""


async def test_a_restart_listens_again_while_old_connections_are_in_time_wait(
    tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    _time_wait_on(port)
    app = App(
        app_config(
            tmp_path / "state", redis_url, nchf={"enabled": True, "listen": f"127.0.0.1:{port}"}
        )
    )
    await app.start()  # was: "nchf: cannot listen on 127.0.0.1:<port>: Address already in use"
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", http1=False, http2=True, timeout=10
        ) as smf:
            answered = await smf.post(BASE, json={})
        assert answered.status_code == 400
    finally:
        await app.stop()


async def test_a_port_another_process_listens_on_is_refused_at_start(
    tmp_path: Path, redis_url: str
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        app = App(
            app_config(
                tmp_path / "state", redis_url, nchf={"enabled": True, "listen": f"127.0.0.1:{port}"}
            )
        )
        with pytest.raises(StartupError, match=f"nchf: cannot listen on 127.0.0.1:{port}"):
            await app.start()
        await app.stop()
