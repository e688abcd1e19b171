"""The REST API and portal tests' app: one per test module (portal on, billing on, sandbox
payments, a real SMTP server), an HTTP client whose every answer is validated against
the served OpenAPI document."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from ocs.api.auth import Role
from ocs.app import App
from ocs.redis_server import RedisServer
from ocs.tmf.http import dumps
from tests.conftest import app_config
from tests.support.openapi_check import OpenApi
from tests.support.ports import free_port
from tests.support.smtp import MailServer


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Rest:
    app: App
    session: aiohttp.ClientSession
    openapi: OpenApi

    @property
    def url(self) -> str:
        assert self.app.portal is not None
        return self.app.portal.url

    def token(self, role: Role, subject: str = "tester", account: str = "") -> str:
        assert self.app.grpc is not None and self.app.grpc.tokens is not None
        return self.app.grpc.tokens.create(role, subject, ttl_s=600, account_id=account)

    async def call(
        self,
        method: str,
        path: str,
        *,
        role: Role | None = Role.ADMIN,
        account: str = "",
        body: Any = None,
        headers: dict[str, str] | None = None,
        subject: str = "tester",
        params: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if role is not None:
            sent["Authorization"] = f"Bearer {self.token(role, subject, account)}"
        data: io.BytesIO | None = None
        if body is not None:
            text = dumps(body) if not isinstance(body, str | bytes) else body
            data = io.BytesIO(text.encode() if isinstance(text, str) else text)
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.url + path, data=data, headers=sent, params=params
        ) as response:
            raw = await response.read()
            content_type = response.content_type
            parsed: Any = raw
            if content_type == "application/json":
                parsed = json.loads(raw, parse_float=Decimal)
            self.openapi.check(method, path, response.status, content_type, _plain(parsed))
            return Reply(response.status, parsed, dict(response.headers))

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.call("POST", path, body=body, **kwargs)

    async def patch(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.call("PATCH", path, body=body, **kwargs)


def _plain(value: Any) -> Any:
    """Decimals as floats for the schema validator only (``type: number``)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def portal_config(state: Path, redis_url: str, mail_port: int, **portal: Any) -> Any:
    settings: dict[str, Any] = {
        "enabled": True,
        "listen": f"127.0.0.1:{free_port()}",
        "cookie_secure": True,
        "sandbox_payments": True,
        "feed_interval_ms": 50,
        "smtp": {"host": "127.0.0.1", "port": mail_port, "sender": "ocs <care@ocs.test>"},
    }
    settings.update(portal)
    return app_config(
        state, redis_url, billing={"enabled": True, "poll_interval_ms": 20}, portal=settings
    )


@pytest.fixture(scope="module")
def mail() -> Any:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ocs_portal(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    mail: MailServer,
) -> AsyncIterator[App]:
    """The app of a test module; the module's ``PORTAL`` dict changes [portal] settings."""
    with redis_server.client() as client:
        client.flushall()
    config = portal_config(
        tmp_path_factory.mktemp("portal"),
        redis_server.url,
        mail.port,
        **getattr(request.module, "PORTAL", {}),
    )
    app = App(config)
    await app.start()
    yield app
    await app.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rest(ocs_portal: App) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as session:
        assert ocs_portal.portal is not None
        async with session.get(ocs_portal.portal.url + "/tmf-api/openapi.json") as response:
            document = await response.json()
        yield Rest(ocs_portal, session, OpenApi(document))


async def make_customer(
    app: App,
    name: str,
    msisdn: str,
    *,
    imsi: str = "",
    money: int = 1000,
    credit_limit: int = 0,
    email: str = "",
    offers: tuple[str, ...] = ("payg",),
    segment: str = "",
) -> str:
    """Customer ``C-<key>``, account ``A-<key>``, subscriber ``S-<key>`` (key: the first word of
    ``name``, lower case) in the balance engine, opened last month (ten days before this month
    began), its ``offers`` bought then (their prices charged: last month's bill shows them);
    returns the key."""
    from datetime import UTC, datetime, timedelta

    from ocs.api.orders import purchase_charges
    from ocs.balance.model import Identity
    from ocs.charging.core import wall_clock_ms
    from ocs.policy.offers import allowance_buckets

    key = name.split()[0].lower()
    store = app.balance
    month = datetime.fromtimestamp(wall_clock_ms() / 1000, UTC).replace(
        day=1, hour=12, minute=0, second=0, microsecond=0
    )
    now = int((month - timedelta(days=10)).timestamp() * 1000)
    profile = {"email": email} if email else {}
    if segment:
        profile["segment"] = segment
    await store.create_customer(f"t:c:{key}", f"C-{key}", now_ms=now, name=name, profile=profile)
    await store.create_account(
        f"t:a:{key}",
        f"A-{key}",
        f"C-{key}",
        currency="EUR",
        now_ms=now,
        opening_balance=money + _prices(app, offers),
        credit_limit=credit_limit,
        timezone="Europe/Berlin",
    )
    identities = [Identity("e164", msisdn)] + ([Identity("imsi", imsi)] if imsi else [])
    result = await store.create_subscriber(
        f"t:s:{key}", f"S-{key}", f"A-{key}", identities=identities, now_ms=now, offers=()
    )
    assert result.ok, result
    account = await store.get_account(f"A-{key}")
    assert account is not None
    for offer in offers:
        charges, renew_at = purchase_charges(app.catalog, offer, account, now)
        bought = await store.purchase(
            f"t:b:{key}:{offer}",
            f"S-{key}",
            offer,
            kind="purchase",
            charges=charges,
            buckets=allowance_buckets(app.catalog, offer, now, "t"),
            now_ms=now,
            renew_at=renew_at,
        )
        assert bought.ok, bought
    return key


def _prices(app: App, offers: tuple[str, ...]) -> int:
    """What buying ``offers`` charges (the opening balance covers it, so ``money`` is left)."""
    total = 0
    for offer_id in offers:
        offer = app.catalog.offer(offer_id)
        assert offer is not None
        total += offer.price + (0 if offer.price_covers_first_period else offer.recurring_fee)
    return total


async def until(condition: Any, within: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition`` (sync or async callable) until it returns something truthy."""
    import asyncio
    import inspect
    import time

    deadline = time.monotonic() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def last_month(now_ms: int) -> str:
    from datetime import UTC, datetime

    today = datetime.fromtimestamp(now_ms / 1000, UTC)
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


async def issue_bill(app: App, account: str) -> str:
    """The account's document for last month, issued by the billing run once the ledger holds
    every event (its purchases are events); its number."""
    from ocs.billing_bridge.reconcile import wait_caught_up
    from ocs.billing_bridge.run import run_period
    from ocs.charging.core import wall_clock_ms

    assert not await wait_caught_up(app.balance, 20.0), "the billing bridge is behind"

    assert app.portal is not None and app.portal.db is not None
    now = wall_clock_ms()
    report = await run_period(
        app.balance,
        app.portal.db,
        app.catalog,
        last_month(now),
        now,
        app.config.state_dir / "billing",
        accounts=[account],
    )
    documents = report.issued + report.unchanged
    assert documents, report
    return documents[0].number


async def sign_in(person: Any, login: str, password: str) -> None:
    page = person.page
    await page.goto("/signin")
    await page.get_by_label("Mobile number or agent login").fill(login)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
