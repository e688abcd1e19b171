"""The balance engine and its sweeper run inside the server, on the server's Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocs.app import App
from ocs.balance.model import Outcome
from ocs.config import ConfigError, load
from ocs.errors import StartupError
from tests.balance.helpers import NOW, make_subscriber
from tests.conftest import app_config


async def test_the_app_starts_the_engine_after_redis_and_then_the_sweeper(app: App) -> None:
    names = [s.name for s in app._started]
    assert names.index("redis-connection") < names.index("balance") < names.index("balance-sweeper")
    ids = await make_subscriber(app.balance, "4925001", opening=5)
    top = await app.balance.topup("p1", ids[1], 10, "EUR", now_ms=NOW)
    assert top.outcome is Outcome.OK and top.balance == 15
    assert (await app.balance.lookup("e164", "4925001")) is not None


async def test_a_changed_partition_count_stops_the_server(tmp_path: Path, redis_url: str) -> None:
    first = App(app_config(tmp_path / "a", redis_url))
    await first.start()
    await first.stop()
    second = App(app_config(tmp_path / "b", redis_url, redis={"partitions": 32}))
    with pytest.raises(StartupError, match="64 partitions but 32"):
        await second.start()


def test_balance_settings_are_read_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "ocs.toml"
    path.write_text("[balance]\nsweep_interval_ms = 250\nlow_balance = 100\n")
    config = load(path, environ={})
    assert config.balance.sweep_interval_ms == 250 and config.balance.low_balance == 100
    path.write_text("[balance]\nsweep_batch = 0\n")
    with pytest.raises(ConfigError, match=r"balance\.sweep_batch"):
        load(path, environ={})
