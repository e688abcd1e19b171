"""ChargingNotifyRequests to a real HTTP/2 notification server: REAUTHORIZATION after a
top-up (naming the rating groups waiting for money), ABORT_CHARGING when an operator
terminates the subscriber, retries with a bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from prometheus_client import REGISTRY

from ocs.app import App
from ocs.charging.signals import Signal
from tests.conftest import app_config
from tests.gy.conftest import NOW_MS, subscriber
from tests.nchf.conftest import BASE, by_group, charging_data, ref_of, usage
from tests.nchf.peer import Received, running_peer

MB = 1_000_000


def fix_clock(app: App) -> None:
    app.charging.clock = app.sweeper.clock = lambda: NOW_MS


def no_content(request: Received) -> tuple[int, bytes]:
    return 204, b""


async def test_top_up_sends_reauthorization_for_the_groups_waiting_for_money(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000101", money=4, offers=("payg", "voice_pack"))
    async with running_peer(no_content) as smf:
        notify_uri = f"{smf.url}/nsmf-callback/notify_abc"
        created = await chf.post(
            BASE,
            json=charging_data(
                usage(100), usage(200), supi="imsi-001011700000101", notify_uri=notify_uri
            ),
        )
        assert created.status_code == 201, created.text
        data = by_group(created)[100]
        assert data["grantedUnit"] == {"totalVolume": 2 * MB}
        assert data["finalUnitIndication"] == {
            "finalUnitAction": "REDIRECT",
            "redirectServer": {
                "redirectAddressType": "URL",
                "redirectServerAddress": "http://topup.demo.local/",
            },
        }
        assert "finalUnitIndication" not in by_group(created)[200]  # voice from the pack
        ref = ref_of(created)
        used = await chf.post(
            f"{BASE}/{ref}/update",
            json=charging_data(usage(100, request=False, used_octets=2 * MB, trigger="FINAL")),
        )
        assert used.status_code == 200 and "grantedUnit" not in by_group(used)[100]

        topped = await ocs.operations.topup("pay-n-0101", account, 500, "EUR")
        assert topped.balance == 500
        (notification,) = await smf.wait_for(1)
        assert notification.method == "POST" and notification.path == "/nsmf-callback/notify_abc"
        assert notification.http_version == "2"  # h2c with prior knowledge
        assert notification.json() == {
            "notificationType": "REAUTHORIZATION",
            "reauthorizationDetails": [{"ratingGroup": 100}],
        }

        fresh = await chf.post(f"{BASE}/{ref}/update", json=charging_data(usage(100)))
        assert by_group(fresh)[100]["grantedUnit"] == {"totalVolume": 10 * MB}
        assert "finalUnitIndication" not in by_group(fresh)[100]


async def test_terminating_the_subscriber_aborts_its_charging(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000102", money=1000)
    async with running_peer(no_content) as smf:
        created = await chf.post(
            BASE,
            json=charging_data(
                usage(100), supi="imsi-001011700000102", notify_uri=f"{smf.url}/notify/1"
            ),
        )
        assert created.status_code == 201
        terminated = await ocs.operations.terminate_subscriber(
            "op-n-0102", account, actor="care", reason="fraud"
        )
        assert terminated.ok
        (notification,) = await smf.wait_for(1)
        assert notification.json() == {"notificationType": "ABORT_CHARGING"}
        # the SMF then releases; usage so far is charged, nothing stays reserved
        released = await chf.post(
            f"{BASE}/{ref_of(created)}/release",
            json=charging_data(usage(100, request=False, used_octets=MB)),
        )
        assert released.status_code == 204
        view = await ocs.balance.get_account(account)
        assert view is not None and view.money == 998 and sum(b.reserved for b in view.buckets) == 0


async def test_a_failing_consumer_is_retried_a_bounded_number_of_times(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "491700000103", money=1000)

    def unavailable(request: Received) -> tuple[int, bytes]:
        return 503, b""

    before = (
        REGISTRY.get_sample_value(
            "ocs_nchf_notifications_total",
            {"notification_type": "ABORT_CHARGING", "outcome": "failed"},
        )
        or 0.0
    )
    async with running_peer(unavailable) as smf:
        created = await chf.post(
            BASE,
            json=charging_data(usage(100), supi="imsi-001011700000103", notify_uri=smf.url),
        )
        assert created.status_code == 201
        assert (await ocs.operations.terminate_subscriber("op-n-0103", account)).ok
        attempts = await smf.wait_for(3)  # the first and notify_retries (2) more
        assert all(a.json() == {"notificationType": "ABORT_CHARGING"} for a in attempts)
        for _ in range(500):  # the bound: then it gives up and counts a failure
            failed = REGISTRY.get_sample_value(
                "ocs_nchf_notifications_total",
                {"notification_type": "ABORT_CHARGING", "outcome": "failed"},
            )
            if failed == before + 1:
                break
            await asyncio.sleep(0.01)
        assert failed == before + 1
        assert len(smf.received) == 3


async def test_every_instance_hears_a_signal_and_one_sends_it(
    ocs: App, chf: httpx.AsyncClient, tmp_path: Path, redis_url: str
) -> None:
    """Every process hears a session signal and any can reach an HTTP consumer: the first to
    claim it in Redis sends, the others do not."""
    fix_clock(ocs)
    await subscriber(ocs, "491700000104", money=1000)
    other = App(
        app_config(tmp_path / "other", redis_url, nchf={"enabled": True, "listen": "127.0.0.1:0"})
    )
    await other.start()
    try:
        async with running_peer(no_content) as smf:
            created = await chf.post(
                BASE,
                json=charging_data(usage(100), supi="imsi-001011700000104", notify_uri=smf.url),
            )
            session = "nchf:" + ref_of(created)
            assert ocs.nchf is not None and other.nchf is not None
            results = await asyncio.gather(
                ocs.nchf.notifier.send(Signal.ABORT, session, "nchf:smf", "nchf"),
                other.nchf.notifier.send(Signal.ABORT, session, "nchf:smf", "nchf"),
            )
            assert sorted(results, key=str) == [204, None]
            assert [r.json() for r in smf.received] == [{"notificationType": "ABORT_CHARGING"}]
    finally:
        await other.stop()
