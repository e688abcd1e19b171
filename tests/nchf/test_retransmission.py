"""Retransmissions: the same request (ChargingDataRef, invocationSequenceNumber and content)
gets the stored answer and is charged once, on any instance and after a kill -9; equal
sequence numbers with other content (free5GC's SMF sends 0 on every request) are new
requests."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ocs.app import App
from ocs.balance.engine import RedisTarget
from ocs.balance.errors import BalanceError
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.conftest import app_config
from tests.gy.conftest import NOW_MS, money, subscriber
from tests.nchf.conftest import BASE, by_group, charging_data, nchf_url, ref_of, usage
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

MB = 1_000_000


def fix_clock(app: App) -> None:
    app.charging.clock = app.sweeper.clock = lambda: NOW_MS


async def test_a_retransmitted_update_gets_the_stored_answer_and_is_charged_once(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000201", money=1000)
    created = await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000201"))
    ref = ref_of(created)
    update = charging_data(usage(100, used_octets=3 * MB), sequence=1)

    first = await chf.post(f"{BASE}/{ref}/update", json=update)
    again = await chf.post(f"{BASE}/{ref}/update", json={**update, "retransmissionIndicator": True})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content  # the stored bytes, timestamp included
    assert await money(ocs, account) == 1000 - 6

    # free5GC: sequence number 0 on every request; other content is a new request
    free5gc = [charging_data(usage(100, used_octets=MB), sequence=0) for _ in range(2)]
    free5gc[1]["multipleUnitUsage"][0]["usedUnitContainer"][0]["localSequenceNumber"] = 2
    for body in free5gc:
        answered = await chf.post(f"{BASE}/{ref}/update", json=body)
        assert answered.status_code == 200
    assert await money(ocs, account) == 1000 - 6 - 2 - 2


async def test_a_retransmitted_create_names_the_same_resource_and_reserves_once(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000202", money=1000)
    create = charging_data(usage(100), supi="imsi-001011700000202")
    first, second = await asyncio.gather(chf.post(BASE, json=create), chf.post(BASE, json=create))
    assert first.status_code == second.status_code == 201
    assert first.headers["location"] == second.headers["location"]
    assert first.content == second.content
    view = await ocs.balance.get_account(account)
    assert view is not None and view.bucket("money") is not None
    assert sum(b.reserved for b in view.buckets) == 20  # one grant of 10 MB at 2 cents/MB


async def test_concurrent_copies_of_an_update_are_charged_once(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000203", money=1000)
    ref = ref_of(await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000203")))
    update = charging_data(usage(100, used_octets=4 * MB), sequence=7)
    answers = await asyncio.gather(
        *(chf.post(f"{BASE}/{ref}/update", json=update) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({by_group(a)[100]["grantedUnit"]["totalVolume"] for a in answers}) == 1
    assert await money(ocs, account) == 1000 - 8


async def test_a_session_continues_on_another_instance(
    ocs: App, chf: httpx.AsyncClient, tmp_path: Path, redis_url: str
) -> None:
    """sessionFailover: the resource lives in Redis, any instance serves it and answers its
    retransmissions with what the first instance sent."""
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000204", money=1000)
    other = App(
        app_config(tmp_path / "other", redis_url, nchf={"enabled": True, "listen": "127.0.0.1:0"})
    )
    other.charging.clock = lambda: NOW_MS
    await other.start()
    try:
        async with httpx.AsyncClient(
            base_url=nchf_url(other), http1=False, http2=True, timeout=10
        ) as standby:
            created = await chf.post(
                BASE, json=charging_data(usage(100), supi="imsi-001011700000204")
            )
            ref = ref_of(created)
            update = charging_data(usage(100, used_octets=5 * MB), sequence=1)
            first = await chf.post(f"{BASE}/{ref}/update", json=update)
            retried = await standby.post(f"{BASE}/{ref}/update", json=update)
            assert retried.content == first.content
            released = await standby.post(
                f"{BASE}/{ref}/release",
                json=charging_data(usage(100, request=False, used_octets=MB), sequence=2),
            )
            assert released.status_code == 204
    finally:
        await other.stop()
    assert await money(ocs, account) == 1000 - 10 - 2


# ------------------------------------------------------------------ kill -9 of ocs serve


@pytest.fixture
def servers() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.stop()


def serve_config(tmp_path: Path, redis_url: str, port: int) -> Path:
    path = tmp_path / "ocs.toml"
    path.write_text(
        f"""
state_dir = "{tmp_path / "state"}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_url}"
[metrics]
enabled = false
[diameter]
enabled = false
[grpc]
enabled = false
[nchf]
enabled = true
listen = "127.0.0.1:{port}"
[demo]
subscribers = 1
"""
    )
    return path


async def allowance(redis_url: str) -> int:
    """Octets left in the first demo subscriber's bundle."""
    store = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), partitions=64)
    await store.start()
    try:
        account = await store.get_account("demo-999100000000")
        assert account is not None
        return sum(b.balance for b in account.buckets if b.unit == "octets")
    finally:
        await store.stop()


@pytest.mark.slow
async def test_retransmission_after_kill_9_is_answered_identically_and_charged_once(
    tmp_path: Path, redis_url: str, servers: list[ServeProcess]
) -> None:
    port = free_port()
    config = serve_config(tmp_path, redis_url, port)
    server = ServeProcess(config).start()
    servers.append(server)
    server.wait_ready()
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, http1=False, http2=True, timeout=10) as smf:
        created = await smf.post(BASE, json=charging_data(usage(100), supi="imsi-001010000000000"))
        assert created.status_code == 201, created.text
        ref = ref_of(created)
        before = await allowance(redis_url)
        update = charging_data(usage(100, used_octets=7 * MB), sequence=1)
        first = await smf.post(f"{BASE}/{ref}/update", json=update)
        assert first.status_code == 200

    server.signal(signal.SIGKILL)
    assert server.wait() == -signal.SIGKILL
    restarted = ServeProcess(config).start()
    servers.append(restarted)
    restarted.wait_ready()

    async with httpx.AsyncClient(base_url=url, http1=False, http2=True, timeout=10) as smf:
        again = await smf.post(
            f"{BASE}/{ref}/update", json={**update, "retransmissionIndicator": True}
        )
        assert again.status_code == 200 and again.content == first.content
        assert await allowance(redis_url) == before - 7 * MB
        released = await smf.post(
            f"{BASE}/{ref}/release",
            json=charging_data(usage(100, request=False, used_octets=MB), sequence=2),
        )
        assert released.status_code == 204
    assert await allowance(redis_url) == before - 8 * MB


async def test_a_release_whose_answer_was_lost_is_answered_again_from_the_session(
    ocs: App, chf: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release was charged (the session closed) but its answer never reached Redis (the
    process died in between): a retransmission is answered 204 from the closed session's
    tombstone, not 404, and charges nothing again."""
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000209", money=1000)
    created = await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000209"))
    ref = ref_of(created)
    records = ocs.nchf.service.records  # type: ignore[union-attr]
    real = records.answer

    async def lost(*args: object, **kwargs: object) -> None:
        raise BalanceError("connection lost before the answer was stored")

    monkeypatch.setattr(records, "answer", lost)
    release = charging_data(usage(100, request=False, used_octets=2 * MB), sequence=1)
    first = await chf.post(f"{BASE}/{ref}/release", json=release)
    assert first.status_code == 204
    monkeypatch.setattr(records, "answer", real)
    again = await chf.post(
        f"{BASE}/{ref}/release", json={**release, "retransmissionIndicator": True}
    )
    assert again.status_code == 204
    assert await money(ocs, account) == 1000 - 4
