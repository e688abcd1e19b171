"""One subscriber, a 4G session over Gy and a 5G session over Nchf at once: both draw on the
same balances through the same core, and the money adds up to the cent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from ocs.app import App
from tests.gy.conftest import NOW_MS, bucket_balance, diameter_port, money, subscriber
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc
from tests.nchf.conftest import BASE, by_group, charging_data, ref_of, usage

MB = 1_000_000


@pytest.fixture
async def gateway(ocs: App) -> AsyncIterator[Gateway]:
    """A PGW on Gy to the same ocs that serves Nchf."""
    connected = await Gateway.connect(diameter_port(ocs))
    yield connected
    await connected.close()


async def test_gy_and_nchf_sessions_of_one_subscriber_share_its_balances(
    ocs: App, chf: httpx.AsyncClient, gateway: Gateway
) -> None:
    ocs.charging.clock = ocs.sweeper.clock = lambda: NOW_MS
    account = await subscriber(ocs, "491700000601", money=50, offers=("payg", "voice_pack"))
    sid = gateway.new_session()

    gy = await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    created = await chf.post(
        BASE, json=charging_data(usage(100), usage(200), supi="imsi-001011700000601")
    )
    assert gy[100].octets == 10 * MB  # 20 cents held for Gy
    nchf = by_group(created)
    assert nchf[100]["grantedUnit"] == {"totalVolume": 10 * MB}  # 20 more for Nchf
    assert nchf[200]["grantedUnit"] == {"time": 300}  # from the voice pack
    ref = ref_of(created)

    # both report at once; the second grant of each sees what the other holds
    gy_update, nchf_update = await asyncio.gather(
        gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=10 * MB)]),
        chf.post(
            f"{BASE}/{ref}/update",
            json=charging_data(
                usage(100, used_octets=10 * MB), usage(200, used_seconds=120), sequence=1
            ),
        ),
    )
    gy_grant = gy_update[100].octets or 0
    nchf_grant = by_group(nchf_update)[100].get("grantedUnit", {}).get("totalVolume", 0)
    # 50 - 40 charged = 10 cents: 5 MB for whichever came first, nothing for the other
    assert sorted([gy_grant, nchf_grant]) == [0, 5 * MB]
    assert await money(ocs, account) == 10

    # whoever holds the 5 MB uses 3 of them
    await gateway.ccr(sid, TERMINATE, 2, mscc=[Mscc(100, used_octets=3 * MB if gy_grant else 0)])
    released = await chf.post(
        f"{BASE}/{ref}/release",
        json=charging_data(
            usage(100, request=False, used_octets=3 * MB if nchf_grant else 0),
            usage(200, request=False, used_seconds=60),
            sequence=2,
        ),
    )
    assert released.status_code == 204
    assert await money(ocs, account) == 50 - 20 - 20 - 6
    assert await bucket_balance(ocs, account, "voice_pack.") == (18_000 - 180, 0)
    view = await ocs.balance.get_account(account)
    assert view is not None and sum(b.reserved for b in view.buckets) == 0
