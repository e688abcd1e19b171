"""Nchf sessions end to end over real HTTP/2: create, update, release against real balances."""

from __future__ import annotations

import httpx

from ocs.app import App
from tests.gy.conftest import money, subscriber
from tests.nchf.conftest import BASE, by_group, charging_data, ref_of, usage

MB = 1_000_000


async def test_create_update_release_charges_what_was_used(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    account = await subscriber(ocs, "491700000001", money=1000)
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
