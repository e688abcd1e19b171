"""Nchf sessions end to end over real HTTP/2: create, update, release against real balances."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from prometheus_client import REGISTRY

from ocs.app import App
from ocs.balance.model import Identity
from ocs.policy.catalog import load_catalog
from tests.conftest import app_config
from tests.gy.conftest import NOW_MS, money, subscriber
from tests.nchf.conftest import BASE, by_group, charging_data, nchf_url, ref_of, usage
from tests.support.serve import DEMO_CATALOG

MB = 1_000_000


async def test_create_update_release_charges_what_was_used(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    account = await subscriber(ocs, "491700000001", money=1000)

    def answered(operation: str, status: str, cause: str = "") -> float:
        labels = {"operation": operation, "status": status, "cause": cause}
        return REGISTRY.get_sample_value("ocs_nchf_requests_total", labels) or 0.0

    before = [answered("create", "201"), answered("release", "204")]
    before.append(answered("update", "404", "CONTEXT_NOT_FOUND"))
    imsi = "imsi-001011700000001"  # the test subscriber's IMSI: 00101 + the MSISDN's last 10

    created = await chf.post(BASE, json=charging_data(usage(100), supi=imsi))
    assert created.status_code == 201, created.text
    assert created.http_version == "HTTP/2"
    grant = by_group(created)[100]
    assert grant["resultCode"] == "SUCCESS"
    assert grant["grantedUnit"] == {"totalVolume": 10 * MB}
    assert (grant["validityTime"], grant["quotaHoldingTime"]) == (3600, 300)
    assert grant["volumeQuotaThreshold"] == 2 * MB
    assert created.json()["sessionFailover"] == "FAILOVER_SUPPORTED"
    ref = ref_of(created)

    updated = await chf.post(
        f"{BASE}/{ref}/update",
        json=charging_data(usage(100, used_octets=3 * MB, trigger="QUOTA_THRESHOLD"), sequence=1),
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["invocationSequenceNumber"] == 1
    assert by_group(updated)[100]["grantedUnit"] == {"totalVolume": 10 * MB}

    released = await chf.post(
        f"{BASE}/{ref}/release",
        json=charging_data(usage(100, request=False, used_octets=int(2.5 * MB)), sequence=2),
    )
    assert released.status_code == 204 and released.content == b""
    # 3 started MB + 3 started MB at 2 cents, nothing left reserved
    assert await money(ocs, account) == 1000 - 12
    account_view = await ocs.balance.get_account(account)
    assert account_view is not None
    assert sum(b.reserved for b in account_view.buckets) == 0

    again = await chf.post(f"{BASE}/{ref}/update", json=charging_data(usage(100), sequence=3))
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["cause"] == "CONTEXT_NOT_FOUND"
    after = [answered("create", "201"), answered("release", "204")]
    after.append(answered("update", "404", "CONTEXT_NOT_FOUND"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]  # ocs_nchf_*


def fix_clock(app: App) -> None:
    app.charging.clock = app.sweeper.clock = lambda: NOW_MS


async def test_several_rating_groups_and_each_final_unit_action(
    tmp_path: Path, redis_url: str
) -> None:
    """Quota exhaustion per rating group: REDIRECT (internet), TERMINATE (voice) and
    RESTRICT_ACCESS (video, in a catalog that restricts it) in one session."""
    text = DEMO_CATALOG.read_text()
    video = text.index("[services.video]")
    text = text[:video] + text[video:].replace(
        'final_unit_action = "redirect"', 'final_unit_action = "restrict_access"', 1
    )
    catalog_path = tmp_path / "catalog.toml"
    catalog_path.write_text(text)
    app = App(
        app_config(tmp_path / "state", redis_url, nchf={"enabled": True, "listen": "127.0.0.1:0"}),
        load_catalog(catalog_path),
    )
    await app.start()
    try:
        fix_clock(app)
        account = await subscriber(app, "491700000401", money=7)
        async with httpx.AsyncClient(
            base_url=nchf_url(app), http1=False, http2=True, timeout=10
        ) as chf:
            created = await chf.post(
                BASE,
                json=charging_data(usage(100), usage(200), usage(500), supi="imsi-001011700000401"),
            )
            assert created.status_code == 201, created.text
            first = by_group(created)
            # 7 cents: 3 MB of internet (6 cents), then 1 cent left for the others
            assert first[100]["grantedUnit"] == {"totalVolume": 3 * MB}
            assert first[100]["finalUnitIndication"]["finalUnitAction"] == "REDIRECT"
            assert first[200]["resultCode"] == "QUOTA_LIMIT_REACHED"
            assert "finalUnitIndication" not in first[200]  # TERMINATE: no grant, no action
            assert first[500]["resultCode"] == "QUOTA_LIMIT_REACHED"
            assert first[500]["finalUnitIndication"] == {
                "finalUnitAction": "RESTRICT_ACCESS",
                "filterId": "topup-only",
            }
            assert first[500]["validityTime"] == 3600
            ref = ref_of(created)
            used = await chf.post(
                f"{BASE}/{ref}/update",
                json=charging_data(
                    usage(100, used_octets=3 * MB, trigger="FINAL"), usage(200), sequence=1
                ),
            )
            after = by_group(used)
            assert after[100]["resultCode"] == "QUOTA_LIMIT_REACHED"
            assert after[100]["finalUnitIndication"]["finalUnitAction"] == "REDIRECT"
            assert after[200]["resultCode"] == "QUOTA_LIMIT_REACHED"
            assert await money(app, account) == 1
            released = await chf.post(f"{BASE}/{ref}/release", json=charging_data(sequence=2))
            assert released.status_code == 204
    finally:
        await app.stop()


async def test_a_one_time_event_is_debited_once(ocs: App, chf: httpx.AsyncClient) -> None:
    """IEC (immediate event charging): the requested units are debited at once."""
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000402", money=100)
    event = charging_data(
        {"ratingGroup": 300, "requestedUnit": {"serviceSpecificUnits": 2}},
        supi="imsi-001011700000402",
        oneTimeEvent=True,
        oneTimeEventType="IEC",
    )
    debited = await chf.post(BASE, json=event)
    assert debited.status_code == 201, debited.text
    assert by_group(debited)[300]["grantedUnit"] == {"serviceSpecificUnits": 2}
    again = await chf.post(BASE, json=event)
    assert again.content == debited.content
    sms_price = 2 * 9  # the demo's payg SMS price, twice
    assert await money(ocs, account) == 100 - sms_price


async def test_identities_by_msisdn_and_nai_and_the_roaming_zone(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000403", money=1000)
    by_msisdn = charging_data(usage(100), supi="msisdn-491700000403", visited="20801")
    created = await chf.post(BASE, json=by_msisdn)
    assert created.status_code == 201, created.text
    ref = ref_of(created)
    await chf.post(
        f"{BASE}/{ref}/release", json=charging_data(usage(100, request=False, used_octets=MB))
    )
    assert await money(ocs, account) == 998  # France: EU zone, roam like at home
    world = charging_data(usage(100), supi="msisdn-491700000403", visited="31001")
    ref = ref_of(await chf.post(BASE, json=world))
    await chf.post(
        f"{BASE}/{ref}/release", json=charging_data(usage(100, request=False, used_octets=MB))
    )
    assert await money(ocs, account) == 998 - 50  # rest of the world: 5 cents per 100 kB

    store = ocs.balance
    assert (await store.create_customer("t:c:nai", "nai-c", now_ms=NOW_MS)).ok
    assert (
        await store.create_account("t:a:nai", "nai-a", "nai-c", currency="EUR", now_ms=NOW_MS)
    ).ok
    created_nai = await store.create_subscriber(
        "t:s:nai",
        "nai-s",
        "nai-a",
        identities=[Identity("nai", "iot-meter-7@things.example")],
        now_ms=NOW_MS,
        offers=("payg",),
    )
    assert created_nai.ok
    by_nai = charging_data(usage(100), supi="nai-iot-meter-7@things.example")
    answered = await chf.post(BASE, json=by_nai)
    assert answered.status_code == 201  # no money: no credit, but the subscriber is known
    assert by_group(answered)[100]["resultCode"] == "QUOTA_LIMIT_REACHED"


async def test_a_silent_session_is_released_by_the_sweeper(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    """Supervision: a consumer that never reports again loses its reservation once validity
    and grace are over; its next request is refused, nothing was charged."""
    now = [NOW_MS]
    ocs.charging.clock = ocs.sweeper.clock = lambda: now[0]
    account = await subscriber(ocs, "491700000404", money=1000)
    ref = ref_of(await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000404")))
    view = await ocs.balance.get_account(account)
    assert view is not None and sum(b.reserved for b in view.buckets) == 20
    now[0] += (3600 + 30) * 1000 + 1  # validity 3600 s + grace 30 s
    for _ in range(500):
        view = await ocs.balance.get_account(account)
        assert view is not None
        if sum(b.reserved for b in view.buckets) == 0:
            break
        await asyncio.sleep(0.01)
    assert sum(b.reserved for b in view.buckets) == 0 and view.money == 1000
    late = await chf.post(f"{BASE}/{ref}/update", json=charging_data(usage(100, used_octets=MB)))
    assert late.status_code == 404 and late.json()["cause"] == "CONTEXT_NOT_FOUND"
