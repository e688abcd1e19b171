"""Overload bounds (RESOURCE_EXHAUSTED, never an unbounded queue), TLS, and mutual TLS for
network functions, on the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import trustme
from google.rpc import error_details_pb2

from ocs.api.v1 import admin_pb2, balance_pb2, common_pb2
from ocs.api.v1 import credit_control_pb2 as cc
from ocs.app import App
from tests.api.conftest import Api, error_info, status_of
from tests.conftest import app_config
from tests.support.portal import until


async def started(tmp_path: Path, redis_url: str, **grpc_config: object) -> App:
    app = App(app_config(tmp_path / "state", redis_url, grpc=grpc_config))
    await app.start()
    return app


async def test_calls_beyond_the_bound_are_resource_exhausted(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await started(tmp_path, redis_url, max_concurrent_rpcs=1, max_watchers=1)
    api = Api.connect(app)
    try:
        own = await api.customer("4919100001")
        selector = balance_pb2.AccountSelector(account_id=own)
        assert app.grpc is not None
        release = asyncio.Event()
        get_account = app.balance.get_account

        async def held_read(account_id: str) -> object:
            await release.wait()  # the store holds the first call until the second is refused
            return await get_account(account_id)

        monkeypatch.setattr(app.balance, "get_account", held_read)
        held = asyncio.ensure_future(api.balance.GetBalance(selector, metadata=api.as_care))
        await until(
            lambda: app.grpc is not None and app.grpc.dispatcher.unary_limit.used == 1,
            what="the first call to take the only slot",
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.balance.GetBalance(selector, metadata=api.as_care)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_info(caught.value).reason == "OVERLOADED"
        status = status_of(caught.value)
        assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)
        release.set()
        assert (await held).account_id == own  # the first call completes once released

        watch = api.balance.WatchBalance(selector, metadata=api.as_care)
        assert (await watch.read()).type == "snapshot"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.balance.WatchBalance(selector, metadata=api.as_care).read()
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        watch.cancel()
        await until(
            lambda: app.grpc is not None and not app.grpc.dispatcher.watch_limit.used,
            what="the cancelled watch to free its slot",
        )
        again = api.balance.WatchBalance(selector, metadata=api.as_care)
        assert (await again.read()).type == "snapshot"  # the slot is free again
        again.cancel()
    finally:
        await api.channel.close()
        await app.stop()


# ---------------------------------------------------------------- TLS and mutual TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("pki")
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("pgw1.mno.example")
    files = {
        "ca": folder / "ca.pem",
        "cert": folder / "server.pem",
        "key": folder / "server.key",
        "client_cert": folder / "client.pem",
        "client_key": folder / "client.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    return files


@pytest.fixture
async def tls_app(tmp_path: Path, redis_url: str, pki: dict[str, Path]) -> AsyncIterator[App]:
    app = await started(
        tmp_path,
        redis_url,
        tls_cert=str(pki["cert"]),
        tls_key=str(pki["key"]),
        tls_client_ca=str(pki["ca"]),
        mtls_listen="127.0.0.1:0",
        network_function_mtls=True,
    )
    yield app
    await app.stop()


def channel(port: int, pki: dict[str, Path], *, client_cert: bool) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].read_bytes(),
        private_key=pki["client_key"].read_bytes() if client_cert else None,
        certificate_chain=pki["client_cert"].read_bytes() if client_cert else None,
    )
    return grpc.aio.secure_channel(
        f"127.0.0.1:{port}", credentials, options=[("grpc.ssl_target_name_override", "localhost")]
    )


def session(sid: str, number: str) -> cc.SessionRequest:
    return cc.SessionRequest(
        session_id=sid,
        subscriber=common_pb2.SubscriberRef(msisdn=number),
        items=[cc.UsageItem(rating_group=100, requested=common_pb2.ServiceUnits())],
    )


async def test_tls_and_network_functions_over_mutual_tls(
    tls_app: App, pki: dict[str, Path]
) -> None:
    assert tls_app.grpc is not None
    port, mtls_port = tls_app.grpc.port, tls_app.grpc.mtls_listening[0][1]
    tls = Api.connect(tls_app, channel(port, pki, client_cert=False))
    mutual = Api.connect(tls_app, channel(mtls_port, pki, client_cert=True))
    try:
        own = await tls.customer("4919100002")  # admin over server-authenticated TLS
        view = await tls.balance.GetBalance(
            balance_pb2.AccountSelector(account_id=own), metadata=tls.as_subscriber(own)
        )
        assert view.account_id == own
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await tls.cc.Initial(session("t-1", "4919100002"), metadata=tls.as_nf)
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "client certificate" in (caught.value.details() or "")
        answer = await mutual.cc.Initial(session("t-2", "4919100002"), metadata=mutual.as_nf)
        assert answer.items[0].result_code == 2001
        anonymous = Api.connect(tls_app, channel(mtls_port, pki, client_cert=False))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await anonymous.cc.Initial(
                session("t-3", "4919100002"), metadata=mutual.as_nf, timeout=5
            )
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # the handshake fails
        await anonymous.channel.close()
        plain = Api.connect(tls_app, grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await plain.admin.GetAccount(
                admin_pb2.GetAccountRequest(account_id=own),
                metadata=plain.as_admin,
                timeout=5,
            )
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        await plain.channel.close()
    finally:
        await tls.channel.close()
        await mutual.channel.close()
