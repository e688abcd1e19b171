"""Bearer tokens have a maximum lifetime and can be revoked, on the real server and with the
real `ocs token` commands. On 94cca2e a 100-year admin token was accepted and a leaked
token could not be stopped before it expired."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import jwt
import pytest

from ocs.api.auth import Role, read_key
from ocs.api.v1 import admin_pb2
from ocs.app import App
from tests.api.conftest import Api
from tests.conftest import app_config

YEAR = 365 * 86400


@pytest.fixture
async def app(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    running = App(app_config(tmp_path / "state", redis_url, grpc={"token_max_ttl_s": 86400}))
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def api(app: App) -> AsyncIterator[Api]:
    client = Api.connect(app)
    yield client
    await client.channel.close()


def config_file(tmp_path: Path) -> Path:
    """A config for the `ocs token` commands: the app's state dir (its key, its list)."""
    path = tmp_path / "cli.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[grpc]\ntoken_max_ttl_s = 86400\n')
    return path


def ocs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocs", *args], capture_output=True, text=True, timeout=60
    )


async def offers(api: Api, token: str) -> grpc.StatusCode:
    """The status of an admin read with ``token``."""
    try:
        await api.admin.ListOffers(
            admin_pb2.ListOffersRequest(), metadata=(("authorization", f"Bearer {token}"),)
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_a_token_longer_than_the_maximum_is_neither_minted_nor_accepted(
    api: Api, app: App, tmp_path: Path
) -> None:
    key = read_key(tmp_path / "state" / "grpc" / "token.key")
    now = int(time.time())
    century = jwt.encode(
        {"iss": "ocs", "aud": "ocs-grpc", "sub": "eve", "role": "admin", "iat": now,
         "exp": now + 100 * YEAR, "jti": "c1"},
        key,
        algorithm="HS256",
    )  # fmt: skip
    assert await offers(api, century) == grpc.StatusCode.UNAUTHENTICATED
    day = api.token(Role.ADMIN, "ops", ttl=86400)
    assert await offers(api, day) == grpc.StatusCode.OK
    minted = ocs("token", "create", "--role", "admin", "--subject", "eve", "--ttl", "36500d",
                 "--config", str(config_file(tmp_path)))  # fmt: skip
    assert minted.returncode == 2
    assert "longer than grpc.token_max_ttl_s (86400s)" in minted.stderr


async def test_a_revoked_token_is_refused_on_its_next_call(api: Api, tmp_path: Path) -> None:
    config = str(config_file(tmp_path))
    leaked = api.token(Role.ADMIN, "alice")
    kept = api.token(Role.ADMIN, "alice")
    other = api.token(Role.ADMIN, "bob")
    assert await offers(api, leaked) == grpc.StatusCode.OK  # verified and cached
    revoked = ocs("token", "revoke", leaked, "--config", config)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith("revoked: jti ")
    await until(lambda: offers(api, leaked), grpc.StatusCode.UNAUTHENTICATED)
    assert await offers(api, kept) == grpc.StatusCode.OK  # another token of the same person
    assert ocs("token", "revoke", "--subject", "alice", "--config", config).returncode == 0
    await until(lambda: offers(api, kept), grpc.StatusCode.UNAUTHENTICATED)
    assert await offers(api, other) == grpc.StatusCode.OK


async def until(status: object, expected: grpc.StatusCode, within: float = 5.0) -> None:
    """Poll a call until it gets ``expected`` (the list is re-read within a second)."""
    deadline = time.monotonic() + within
    while (got := await status()) != expected:  # type: ignore[operator]
        assert time.monotonic() < deadline, f"still {got} after {within}s"
        await asyncio.sleep(0.05)
