"""Fixtures of the charging-core tests: the balance engine on the session redis-server, the
demo catalog (or a variant of it), and a clock the tests step by hand."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from ocs.policy.catalog import Catalog, load_catalog
from ocs.policy.schema import CatalogFile

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "config" / "catalog.toml"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[BalanceStore]:
    running = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), partitions=8)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


def catalog_with(change: Callable[[dict[str, Any]], None]) -> Catalog:
    """The demo catalog with ``change`` applied to its TOML data."""
    data = tomllib.loads(DEMO_CATALOG.read_text())
    change(data)
    return Catalog.build(CatalogFile.model_validate(data), "test")
