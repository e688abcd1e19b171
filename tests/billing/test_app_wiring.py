"""The bridge runs inside the server when [billing] enabled, on the server's Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ocs.app import App
from ocs.billing_bridge.ledger import Ledger
from ocs.config import ConfigError, load
from tests.balance.helpers import NOW, make_subscriber
from tests.conftest import app_config


async def test_the_server_runs_the_bridge_after_the_engine_when_enabled(
    tmp_path: Path, redis_url: str
) -> None:
    config = app_config(
        tmp_path / "state", redis_url, billing={"enabled": True, "poll_interval_ms": 5}
    )
    app = App(config)
    await app.start()
    try:
        names = [s.name for s in app._started]
        assert names.index("balance") < names.index("billing-bridge")
        ids = await make_subscriber(app.balance, "4931001", opening=5)
        await app.balance.topup("p1", ids[1], 10, "EUR", now_ms=NOW)
        ledger = Ledger(path=tmp_path / "state/billing/ledger.db").open()
        for _ in range(500):
            rows = ledger.query("SELECT event_id FROM events WHERE type = 'topup'")
            if rows:
                break
            await asyncio.sleep(0.01)
        assert rows == [(f"topup:{ids[1]}:p1",)]
        ledger.close()
    finally:
        await app.stop()


async def test_the_bridge_is_off_by_default(app: App) -> None:
    assert "billing-bridge" not in [s.name for s in app._started]


def test_billing_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "ocs.toml"
    path.write_text('[billing]\nledger_dsn = "mysql://x"\n')
    with pytest.raises(ConfigError, match=r"billing\.ledger_dsn: must be empty"):
        load(path, environ={})
    path.write_text("[billing]\nbatch_size = 0\n")
    with pytest.raises(ConfigError, match=r"billing\.batch_size"):
        load(path, environ={})


def test_the_demo_config_runs_the_bridge_on_the_embedded_default() -> None:
    config = load(Path("config/ocs.toml"), environ={})
    assert config.billing.enabled and config.billing.ledger_dsn == ""
