"""TLS/TCP and SCTP listeners, and what ``ocs serve`` says when SCTP is missing."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from ocs.diameter import avps
from ocs.diameter.codec import Codec
from ocs.diameter.server import DiameterServer
from ocs.errors import StartupError
from tests.diameter.client import Client, cer_bytes, port_of, running_server, server_config
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG

SCTP = getattr(socket, "IPPROTO_SCTP", 132)


def kernel_offers_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, SCTP).close()
    except OSError:
        return False
    return True


@pytest.fixture
def pki(tmp_path: Path) -> tuple[trustme.CA, dict[str, str]]:
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    files = {
        "tls_cert": tmp_path / "server.pem",
        "tls_key": tmp_path / "server.key",
        "tls_ca": tmp_path / "ca.pem",
    }
    server.private_key_pem.write_to_path(str(files["tls_key"]))
    server.cert_chain_pems[0].write_to_path(str(files["tls_cert"]))
    ca.cert_pem.write_to_path(str(files["tls_ca"]))
    return ca, {key: str(path) for key, path in files.items()}


async def test_tls_listener_with_mutual_authentication(
    pki: tuple[trustme.CA, dict[str, str]],
) -> None:
    ca, files = pki
    async with running_server(tls_listen="127.0.0.1:0", **files) as server:
        assert {kind for kind, _, _ in server.listening} == {"tcp", "tls"}
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ca.configure_trust(context)
        ca.issue_cert("pgw.mno.example").configure_cert(context)
        client = await Client.connect(port_of(server, "tls"), ssl_context=context)
        (peer,) = server.connected_peers()
        assert peer.transport == "tls"
        await client.close()

        anonymous = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ca.configure_trust(anonymous)  # trusts the server, but shows no certificate
        with pytest.raises((ConnectionError, ssl.SSLError, TimeoutError)):
            await Client.connect(port_of(server, "tls"), ssl_context=anonymous)
        assert len(server.connected_peers()) == 0


async def test_tls_files_that_do_not_load_stop_the_start(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    server = DiameterServer(
        server_config(tls_listen="127.0.0.1:0", tls_cert=missing, tls_key=missing)
    )
    with pytest.raises(StartupError, match=r"tls_cert .*missing\.pem.* is not a readable file"):
        await server.start()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    server = DiameterServer(
        server_config(tls_listen="127.0.0.1:0", tls_cert=str(garbage), tls_key=str(garbage))
    )
    with pytest.raises(StartupError, match="cannot load the TLS certificate"):
        await server.start()


async def test_sctp_listens_where_the_kernel_offers_it_and_says_so_where_not() -> None:
    server = DiameterServer(server_config(sctp_listen="127.0.0.1:0"))
    if not kernel_offers_sctp():
        with pytest.raises(StartupError) as caught:
            await server.start()
        assert "cannot listen on sctp 127.0.0.1:0: the kernel does not offer SCTP" in str(
            caught.value
        )
        assert "modprobe sctp" in str(caught.value)
        assert server.listening == []  # the TCP listener it had opened is closed again
        return
    await server.start()
    try:
        port = port_of(server, "sctp")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, SCTP)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, cer_bytes())
        cea = Codec().decode(await loop.sock_recv(sock, 65536), validate=False)
        assert cea.get(avps.RESULT_CODE) == 2001
        sock.close()
    finally:
        await server.stop()


def test_ocs_serve_explains_a_kernel_without_sctp(tmp_path: Path, redis_url: str) -> None:
    if kernel_offers_sctp():
        pytest.skip("this kernel offers SCTP; the listener itself is tested above")
    config = tmp_path / "ocs.toml"
    port = free_port()
    config.write_text(
        f'state_dir = "{tmp_path}/state"\ncatalog = "{DEMO_CATALOG}"\n'
        f'[redis]\nurl = "{redis_url}"\n'
        "[metrics]\nenabled = false\n"
        f'[diameter]\nlisten = "127.0.0.1:0"\nsctp_listen = "127.0.0.1:{port}"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "ocs", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        f"ocs: cannot start: diameter: cannot listen on sctp 127.0.0.1:{port}: "
        "the kernel does not offer SCTP (Protocol not supported)"
    ) in result.stderr
