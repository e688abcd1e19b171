"""The people-facing CLI, run as the real ``ocs`` command against the real server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ocs.api.auth import Role
from ocs.app import App
from tests.api.conftest import Api


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


async def ocs_cli(
    app: App, *args: str, token: str = "", env: dict[str, str] | None = None
) -> Result:
    assert app.grpc is not None
    environ = {**os.environ, "OCS_SERVER": f"127.0.0.1:{app.grpc.port}", **(env or {})}
    if token:
        environ["OCS_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocs",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


async def test_a_person_provisions_buys_tops_up_and_reads_usage(api: Api, ocs: App) -> None:
    admin = api.token(Role.ADMIN, "ops")
    steps = [
        (
            "customer",
            "create",
            "C-cli",
            "--name",
            "Grace Hopper",
            "--profile",
            "email=grace@example.org",
        ),
        (
            "account",
            "create",
            "A-cli",
            "--customer",
            "C-cli",
            "--opening",
            "10.00",
            "--timezone",
            "Europe/Berlin",
        ),
        ("subscriber", "create", "S-cli", "--account", "A-cli", "--msisdn", "4919300001"),
    ]
    for step in steps:
        result = await ocs_cli(ocs, *step, token=admin)
        assert result.code == 0, result.stderr
        assert "created" in result.stdout
    bought = await ocs_cli(
        ocs, "offer", "buy", "4919300001", "bundle_s", "--order-id", "cli-1", token=admin
    )
    assert bought.code == 0, bought.stderr
    assert "completed" in bought.stdout and "bundle_s.data.cli-1" in bought.stdout

    shown = await ocs_cli(ocs, "balance", "show", "4919300001", token=admin)
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "available  5.01 EUR" in lines
    data = next(line for line in lines if line.startswith("bundle_s.data.cli-1"))
    assert "500.0 MB" in data and "internet" in data
    as_json = await ocs_cli(ocs, "balance", "show", "--account", "A-cli", "--json", token=admin)
    view = json.loads(as_json.stdout)
    assert view["account_id"] == "A-cli" and view["money_available"] == "501"

    topped = await ocs_cli(
        ocs, "balance", "topup", "4919300001", "2.50", "--payment-id", "pay-cli", token=admin
    )
    assert topped.code == 0 and "balance 7.51 EUR" in topped.stdout
    again = await ocs_cli(
        ocs, "balance", "topup", "4919300001", "2.50", "--payment-id", "pay-cli", token=admin
    )
    assert "already applied" in again.stdout and "7.51 EUR" in again.stdout

    usage = await ocs_cli(ocs, "usage", "4919300001", token=admin)
    assert usage.code == 0, usage.stderr
    rows = usage.stdout.splitlines()
    assert rows[0].split() == ["time", "type", "subscriber", "service", "used", "charged"]
    assert "topup" in rows[2] and "-2.50 EUR" in rows[2]
    assert any("purchase" in row and "4.99 EUR" in row for row in rows)  # the bundle's price

    suspended = await ocs_cli(
        ocs, "subscriber", "suspend", "4919300001", "--reason", "lost phone", token=admin
    )
    assert suspended.code == 0 and "is suspended" in suspended.stdout
    view_text = await ocs_cli(ocs, "customer", "show", "C-cli", token=admin)
    assert "suspended" in view_text.stdout and "grace@example.org" in view_text.stdout
    offers = await ocs_cli(ocs, "offer", "list", "--json", token=admin)
    assert {o["offer_id"] for o in json.loads(offers.stdout)["offers"]} >= {"payg", "bundle_s"}


async def test_mistakes_and_refusals_are_one_clear_line(api: Api, ocs: App, tmp_path: Path) -> None:
    from ocs.api.auth import Role

    subscriber = api.token(Role.SUBSCRIBER, "me", "A-mine")
    refused = await ocs_cli(ocs, "balance", "show", "--account", "A-other", token=subscriber)
    assert refused.code == 1
    assert refused.stderr.strip().startswith("ocs: PERMISSION_DENIED:")
    missing = await ocs_cli(ocs, "balance", "show", "--account", "A-x")
    assert missing.code == 2 and "no token" in missing.stderr
    admin = api.token(Role.ADMIN, "ops")
    bad = await ocs_cli(
        ocs, "account", "create", "A-y", "--customer", "C-none", "--opening", "1.234", token=admin
    )
    assert bad.code == 2 and "more than 2 decimals" in bad.stderr
    unknown = await ocs_cli(ocs, "subscriber", "show", "4919399999", token=admin)
    assert unknown.code == 1 and "NOT_FOUND" in unknown.stderr and "Traceback" not in unknown.stderr
    down = await ocs_cli(ocs, "offer", "list", token=admin, env={"OCS_SERVER": "127.0.0.1:1"})
    assert down.code == 1 and "cannot reach ocs" in down.stderr


async def test_token_create_mints_from_the_configured_key(
    api: Api, ocs: App, tmp_path: Path
) -> None:
    config = tmp_path / "ocs.toml"
    config.write_text(f'state_dir = "{ocs.config.state_dir}"\n')
    made = await ocs_cli(
        ocs, "token", "create", "--role", "care", "--subject", "agent-7", "--config", str(config)
    )
    assert made.code == 0, made.stderr
    token = made.stdout.strip()
    assert ocs.grpc is not None and ocs.grpc.tokens is not None
    principal = ocs.grpc.tokens.verify(token)
    assert (principal.role.value, principal.subject) == ("care", "agent-7")
    offers = await ocs_cli(ocs, "offer", "list", token=token)
    assert offers.code == 0 and "bundle_s" in offers.stdout
    wrong = await ocs_cli(
        ocs, "token", "create", "--role", "subscriber", "--subject", "x", "--config", str(config)
    )
    assert wrong.code == 2 and "account" in wrong.stderr
    nokey = tmp_path / "other.toml"
    nokey.write_text(f'state_dir = "{tmp_path / "empty"}"\n')
    absent = await ocs_cli(
        ocs, "token", "create", "--role", "admin", "--subject", "x", "--config", str(nokey)
    )
    assert absent.code == 1 and "token key" in absent.stderr
