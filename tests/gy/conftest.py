"""Fixtures for Gy tests: the whole app on free ports, a connected gateway, subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocs.app import App
from ocs.balance.model import Identity
from ocs.policy.offers import allowance_buckets
from tests.conftest import app_config
from tests.gy.gateway import Gateway

NOW_MS = 1_795_000_000_000  # 2026-11-18, a Wednesday


def diameter_port(app: App) -> int:
    assert app.diameter is not None
    return app.diameter.listening[0][2]


@pytest.fixture
async def ocs(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    """The server on the session redis-server, Diameter on a free port. The sweeper runs
    every 100 ms, so a test whose clock it does not share fails reliably, not now and then."""
    app = App(app_config(tmp_path / "state", redis_url, balance={"sweep_interval_ms": 100}))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def gateway(ocs: App) -> AsyncIterator[Gateway]:
    connected = await Gateway.connect(diameter_port(ocs))
    yield connected
    await connected.close()


async def subscriber(
    app: App,
    msisdn: str,
    *,
    money: int = 0,
    offers: tuple[str, ...] = ("payg",),
    timezone: str = "Europe/Berlin",
    now_ms: int = NOW_MS,
) -> str:
    """A prepaid subscriber (customer, account and subscriber ids ``<msisdn>``) with
    ``money`` cents and the allowances of its bundles; returns the account id."""
    store = app.balance
    assert (await store.create_customer(f"t:c:{msisdn}", msisdn, now_ms=now_ms)).ok
    created = await store.create_account(
        f"t:a:{msisdn}",
        msisdn,
        msisdn,
        currency="EUR",
        now_ms=now_ms,
        opening_balance=money,
        timezone=timezone,
    )
    assert created.ok, created
    created = await store.create_subscriber(
        f"t:s:{msisdn}",
        msisdn,
        msisdn,
        identities=[Identity("e164", msisdn), Identity("imsi", "00101" + msisdn[-10:])],
        now_ms=now_ms,
        offers=offers,
    )
    assert created.ok, created
    for offer in offers:
        buckets = allowance_buckets(app.catalog, offer, now_ms, "t")
        if buckets:
            assert (
                await store.add_buckets(f"t:b:{msisdn}:{offer}", msisdn, buckets, now_ms=now_ms)
            ).ok
    return msisdn


async def money(app: App, account_id: str) -> int:
    account = await app.balance.get_account(account_id)
    assert account is not None
    return account.money


async def bucket_balance(app: App, account_id: str, prefix: str) -> tuple[int, int]:
    """(balance, reserved) of the account's bucket whose id starts with ``prefix``."""
    account = await app.balance.get_account(account_id)
    assert account is not None
    bucket = next(b for b in account.buckets if b.id.startswith(prefix))
    return bucket.balance, bucket.reserved
