"""Money rules across Gy features: allowances limited to zones, a balance check that agrees with
the debit (shared pools included), and one session per Session-Id system-wide."""

from __future__ import annotations

from ocs.app import App
from ocs.balance.model import Identity
from tests.gy.conftest import NOW_MS, bucket_balance, money, subscriber
from tests.gy.gateway import (
    CHECK_BALANCE,
    DIRECT_DEBITING,
    EVENT,
    INITIAL,
    TERMINATE,
    Gateway,
    Mscc,
)
from tests.gy.test_sessions import fix_clock

MB = 1_000_000
SMS = "32274@3gpp.org"
WORLD, EU = "310260", "20801"  # T-Mobile US (the default zone), Orange France (zone eu)


async def _data_session(
    gateway: Gateway, account: str, used: int, visited: str | None
) -> tuple[int, int]:
    """A data session (rating group 100) that uses ``used`` octets: (CCR-I code, CCR-T code)."""
    sid = gateway.new_session()
    first = await gateway.ccr(
        sid, INITIAL, 0, msisdn=account, visited_network=visited, mscc=[Mscc(100, request=True)]
    )
    last = await gateway.ccr(
        sid, TERMINATE, 1, visited_network=visited, mscc=[Mscc(100, used_octets=used)]
    )
    return first.result_code, last.result_code


async def test_allowances_pay_only_in_their_zones(ocs: App, gateway: Gateway) -> None:
    """Bundle S data is for home; the EU Roaming Pass for the EU zone only (and there before
    the bundle, by priority); world-zone data pays the world tariff whatever the bundles."""
    fix_clock(ocs)
    account = await subscriber(
        ocs, "999400000001", money=1000, offers=("payg", "bundle_s", "roam_eu")
    )
    bundle, roam = "bundle_s.data.", "roam_eu.roam-data."
    home_left = (await bucket_balance(ocs, account, bundle))[0]
    roam_left = (await bucket_balance(ocs, account, roam))[0]

    assert await _data_session(gateway, account, MB, WORLD) == (2001, 2001)
    # payg's world rate: 5 cents per started 100 kB -> 50 cents for 1 MB; no allowance touched
    assert await money(ocs, account) == 950
    assert (await bucket_balance(ocs, account, bundle))[0] == home_left
    assert (await bucket_balance(ocs, account, roam))[0] == roam_left

    assert await _data_session(gateway, account, 2 * MB, EU) == (2001, 2001)
    assert (await bucket_balance(ocs, account, roam))[0] == roam_left - 2 * MB
    assert (await bucket_balance(ocs, account, bundle))[0] == home_left
    assert await money(ocs, account) == 950

    assert await _data_session(gateway, account, 3 * MB, None) == (2001, 2001)  # at home
    assert (await bucket_balance(ocs, account, bundle))[0] == home_left - 3 * MB
    assert (await bucket_balance(ocs, account, roam))[0] == roam_left - 2 * MB
    assert await money(ocs, account) == 950


async def test_a_balance_check_agrees_with_the_debit_on_a_shared_pool(
    ocs: App, gateway: Gateway
) -> None:
    """A pool member whose own wallet is empty draws on its parent within its monthly pool
    limit: CHECK_BALANCE says NO_CREDIT exactly when DIRECT_DEBITING would be refused."""
    fix_clock(ocs)
    store = ocs.balance
    assert (await store.create_customer("c", "fam", now_ms=NOW_MS)).ok
    assert (
        await store.create_account(
            "p", "fam-pool", "fam", currency="EUR", now_ms=NOW_MS, opening_balance=1000
        )
    ).ok
    assert (
        await store.create_account(
            "m",
            "fam-kid",
            "fam",
            currency="EUR",
            now_ms=NOW_MS,
            parent_id="fam-pool",
            pool_limit={"money": 30},
        )
    ).ok
    kid = "999400000002"
    assert (
        await store.create_subscriber(
            "s",
            "fam-kid-1",
            "fam-kid",
            identities=[Identity("e164", kid)],
            now_ms=NOW_MS,
            offers=("payg",),
        )
    ).ok

    async def event(action: int) -> tuple[int, int | None]:
        answer = await gateway.ccr(
            gateway.new_session("smsc.mno.example"),
            EVENT,
            0,
            msisdn=kid,
            service_context=SMS,
            requested_action=action,
            mscc=[Mscc(300, request=True, units=1)],
        )
        return answer.result_code, answer.check_balance

    verdicts = []
    for _ in range(5):  # 9 cents an SMS against a limit of 30: three pass, then no more
        check = await event(CHECK_BALANCE)
        debit = (await event(DIRECT_DEBITING))[0]
        verdicts.append((check, debit))
    enough, no_credit = (2001, 0), (2001, 1)
    assert verdicts == [(enough, 2001)] * 3 + [(no_credit, 4012)] * 2
    assert await money(ocs, "fam-pool") == 1000 - 27


async def test_one_session_id_is_one_session_system_wide(ocs: App, gateway: Gateway) -> None:
    """A CCR-I reusing a live Session-Id for another subscriber (in another partition, or in
    the same one) is refused with 5004 naming Session-Id and charges nothing; the Session-Id
    stays taken after the session ends; the first session goes on unharmed."""
    fix_clock(ocs)
    first = await subscriber(ocs, "999400000003", money=100)
    second = await subscriber(ocs, "999400000004", money=100)
    store = ocs.balance
    assert store.partition_of(first) != store.partition_of(second)
    # a third subscriber in the first one's partition (same customer, another account)
    assert (
        await store.create_account(
            "a2", "999400000003-b", first, currency="EUR", now_ms=NOW_MS, opening_balance=100
        )
    ).ok
    neighbour = "999400000005"
    assert (
        await store.create_subscriber(
            "s2",
            neighbour,
            "999400000003-b",
            identities=[Identity("e164", neighbour)],
            now_ms=NOW_MS,
            offers=("payg",),
        )
    ).ok

    sid = gateway.new_session()
    ok = await gateway.ccr(sid, INITIAL, 0, msisdn=first, mscc=[Mscc(100, request=True)])
    assert ok.result_code == 2001 and ok[100].octets == 10 * MB
    for msisdn, account in ((second, second), (neighbour, "999400000003-b")):
        refused = await gateway.ccr(sid, INITIAL, 0, msisdn=msisdn, mscc=[Mscc(100, request=True)])
        assert refused.result_code == 5004, msisdn
        assert refused.failed_avp is not None and sid.encode() in refused.failed_avp
        assert await bucket_balance(ocs, account, "money") == (100, 0)
    assert await bucket_balance(ocs, first, "money") == (100, 20)  # the first still holds

    done = await gateway.ccr(sid, TERMINATE, 1, mscc=[Mscc(100, used_octets=MB)])
    assert done.result_code == 2001 and await money(ocs, first) == 98
    after = await gateway.ccr(sid, INITIAL, 0, msisdn=second, mscc=[Mscc(100, request=True)])
    assert after.result_code == 5004
    assert await bucket_balance(ocs, second, "money") == (100, 0)


async def test_a_gy_session_id_in_the_nchf_namespace_is_refused(ocs: App, gateway: Gateway) -> None:
    """Nchf sessions are nchf:<ChargingDataRef>: a Gy peer cannot name one."""
    fix_clock(ocs)
    account = await subscriber(ocs, "999400000006", money=100)
    refused = await gateway.ccr(
        "nchf:0123456789abcdef0123456789abcdef",
        INITIAL,
        0,
        msisdn=account,
        mscc=[Mscc(100, request=True)],
    )
    assert refused.result_code == 5004 and refused.failed_avp is not None
    assert b"nchf:" in refused.failed_avp
    assert await bucket_balance(ocs, account, "money") == (100, 0)
