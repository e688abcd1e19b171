"""Gy sessions end to end: real TCP Diameter gateway -> ocs -> real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest

from ocs.app import App
from ocs.balance.client import Address, NodeConnection, SingleNode
from ocs.diameter.constants import Command, CommandFlag
from tests.gy.conftest import NOW_MS, bucket_balance, money, subscriber
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc

MB = 1_000_000
REDIRECT = 1
FINAL = 2  # Reporting-Reason FINAL
SUCCESS, LIMIT_REACHED, NOT_APPLICABLE = 2001, 4012, 4011


def fix_clock(app: App, ms: int = NOW_MS) -> None:
    """Charging and the expiry sweeper on one fixed clock (the sweeper must not see the
    wall clock, days after ``ms``, and release the test's reservations as long expired)."""
    app.charging.clock = app.sweeper.clock = lambda: ms


async def test_one_rating_group_runs_out_while_the_other_continues(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000001", money=30, offers=("payg", "voice_pack"))
    sid = gateway.new_session()

    first = await gateway.ccr(
        sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True), Mscc(200, request=True)]
    )
    assert first.result_code == SUCCESS
    assert first.session_failover == 1  # sessions live in Redis: failover supported
    data, voice = first[100], first[200]
    assert (data.result_code, data.octets, data.final_action) == (SUCCESS, 10 * MB, None)
    assert data.volume_threshold == 2 * MB and data.validity_time == 3600
    assert data.quota_holding_time == 300
    assert (voice.result_code, voice.seconds, voice.time_threshold) == (SUCCESS, 300, 30)
    assert await money(ocs, account) == 30  # reserved, not yet charged

    second = await gateway.ccr(
        sid,
        UPDATE,
        1,
        mscc=[
            Mscc(100, request=True, used_octets=10 * MB),
            Mscc(200, request=True, used_seconds=300),
        ],
    )
    data = second[100]
    # 20 cents charged, 10 left: the last 5 started MB the balance allows, with a redirect
    assert (data.result_code, data.octets) == (SUCCESS, 5 * MB)
    assert (data.final_action, data.redirect_url) == (REDIRECT, "http://topup.demo.local/")
    assert second[200].seconds == 300
    assert await money(ocs, account) == 10

    third = await gateway.ccr(
        sid,
        UPDATE,
        2,
        mscc=[
            Mscc(100, used_octets=5 * MB, reporting_reason=FINAL),
            Mscc(200, request=True, used_seconds=300),
        ],
    )
    # final units used: deducted, no new reservation, Validity-Time of the redirect (RFC 8506 5.6.2)
    assert (third[100].result_code, third[100].granted, third[100].validity_time) == (
        SUCCESS,
        None,
        3600,
    )
    assert await money(ocs, account) == 0

    fourth = await gateway.ccr(
        sid, UPDATE, 3, mscc=[Mscc(100, request=True), Mscc(200, request=True, used_seconds=300)]
    )
    assert fourth.result_code == SUCCESS
    assert (fourth[100].result_code, fourth[100].granted) == (LIMIT_REACHED, None)
    assert fourth[100].final_action == REDIRECT  # keep redirecting to the top-up page
    assert (fourth[200].result_code, fourth[200].seconds) == (SUCCESS, 300)
    assert await bucket_balance(ocs, account, "voice_pack.") == (18_000 - 900, 300)

    end = await gateway.ccr(sid, TERMINATE, 4, mscc=[Mscc(200, used_seconds=120)])
    assert end.result_code == SUCCESS
    assert await bucket_balance(ocs, account, "voice_pack.") == (18_000 - 1_020, 0)
    assert await money(ocs, account) == 0


async def test_top_up_sends_rar_and_the_next_update_gets_fresh_quota(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000002", money=4)
    sid = gateway.new_session()
    first = await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    assert (first[100].octets, first[100].final_action) == (2 * MB, REDIRECT)
    used = await gateway.ccr(
        sid, UPDATE, 1, mscc=[Mscc(100, used_octets=2 * MB, reporting_reason=FINAL)]
    )
    assert used[100].granted is None and used[100].validity_time == 3600

    topped = await ocs.operations.topup("pay-0002", account, 500, "EUR")
    assert topped.balance == 500
    rar = await gateway.wait_for_request(Command.RE_AUTH, sid)
    assert rar.get(285) == 0  # Re-Auth-Request-Type AUTHORIZE_ONLY
    assert rar.get(293) == gateway.origin_host  # Destination-Host: the session's gateway

    fresh = await gateway.ccr(sid, UPDATE, 2, mscc=[Mscc(100, request=True)])
    assert (fresh[100].result_code, fresh[100].octets, fresh[100].final_action) == (
        SUCCESS,
        10 * MB,
        None,
    )


async def test_retransmitted_update_is_answered_identically_and_charged_once(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000003", money=100)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    update = gateway.build(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=3 * MB)])
    update.end_to_end = 0x1234_5678
    first = await gateway.send(update)
    assert await money(ocs, account) == 94

    # the same request again, T flag set, same End-to-End id: the duplicate cache answers
    again = gateway.build(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=3 * MB)])
    again.end_to_end = 0x1234_5678
    again.flags |= CommandFlag.RETRANSMITTED
    repeated = await gateway.send(again)
    assert repeated.message.to_bytes()[20:] == first.message.to_bytes()[20:]

    # from a new connection after a failover, new End-to-End id: the stored result answers
    other = await Gateway.connect(
        gateway.client.writer.get_extra_info("peername")[1], "pgw1b.mno.example"
    )
    try:
        resent = gateway.build(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=3 * MB)])
        resent.flags |= CommandFlag.RETRANSMITTED
        replayed = await other.send(resent)
    finally:
        await other.close()
    assert (replayed.result_code, replayed[100].octets) == (first.result_code, first[100].octets)
    assert await money(ocs, account) == 94


async def test_session_supervision_releases_a_silent_sessions_reservation(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000004", money=100)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    assert await bucket_balance(ocs, account, "money") == (100, 20)

    # nothing for validity (3600 s) + grace: the sweeper releases the reservation (Tcc)
    report = await ocs.sweeper.run_once(NOW_MS + 3_600_000 + 30_001)
    assert report.sessions_released == 1
    assert await bucket_balance(ocs, account, "money") == (100, 0)
    late = await gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=MB)])
    assert late.result_code == 5002  # DIAMETER_UNKNOWN_SESSION_ID


async def test_voice_grant_across_the_peak_boundary_rounds_to_started_minutes(
    ocs: App, gateway: Gateway
) -> None:
    # Wednesday 19:58:30 in Berlin: 90 s of peak (12 c/min) left, then off-peak (6 c/min)
    fix_clock(ocs, int(datetime(2026, 11, 25, 18, 58, 30, tzinfo=UTC).timestamp() * 1000))
    account = await subscriber(ocs, "999200000005", money=1000)
    sid = gateway.new_session()
    first = await gateway.ccr(
        sid,
        INITIAL,
        0,
        msisdn=account,
        service_context="32260@3gpp.org",
        mscc=[Mscc(200, request=True)],
    )
    assert first[200].seconds == 300
    end = await gateway.ccr(sid, TERMINATE, 1, mscc=[Mscc(200, used_seconds=200)])
    assert end.result_code == SUCCESS
    # minutes starting at +0 s and +60 s are peak, those at +120 s and +180 s off-peak
    assert await money(ocs, account) == 1000 - (2 * 12 + 2 * 6)


async def test_allowance_runs_out_mid_grant_and_the_rest_is_priced_in_money(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000006", money=100, offers=("payg", "bundle_s"))
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    # use the 500 MB allowance down to 4 MB
    rn = 1
    for _ in range(49):
        await gateway.ccr(sid, UPDATE, rn, mscc=[Mscc(100, request=True, used_octets=10 * MB)])
        rn += 1
    await gateway.ccr(sid, UPDATE, rn, mscc=[Mscc(100, request=True, used_octets=6 * MB)])
    rn += 1
    assert (await bucket_balance(ocs, account, "bundle_s.data."))[0] == 4 * MB
    # 9.5 MB: 4 MB from the allowance, 5.5 MB in money = 6 started MB at 2 cents
    end = await gateway.ccr(sid, TERMINATE, rn, mscc=[Mscc(100, used_octets=9_500_000)])
    assert end.result_code == SUCCESS
    assert (await bucket_balance(ocs, account, "bundle_s.data."))[0] == 0
    assert await money(ocs, account) == 100 - 12


async def test_zero_rated_service_needs_no_credit_control(ocs: App, gateway: Gateway) -> None:
    account = await subscriber(ocs, "999200000007", money=0)
    sid = gateway.new_session()
    answer = await gateway.ccr(
        sid, INITIAL, 0, msisdn=account, mscc=[Mscc(400, request=True), Mscc(100, request=True)]
    )
    assert answer[400].result_code == NOT_APPLICABLE
    assert answer[100].result_code == LIMIT_REACHED


async def test_roaming_prices_by_the_visited_network(ocs: App, gateway: Gateway) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000008", money=1000)
    sid = gateway.new_session()
    await gateway.ccr(
        sid, INITIAL, 0, msisdn=account, visited_network="31026", mscc=[Mscc(100, request=True)]
    )
    # world zone: 5 cents per started 100 kB; 1.05 MB = 11 started blocks
    await gateway.ccr(sid, TERMINATE, 1, mscc=[Mscc(100, used_octets=1_050_000)])
    assert await money(ocs, account) == 1000 - 55


async def test_update_after_redis_lost_its_scripts_is_answered_and_charged_once(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000010", money=100)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    await ocs.balance.execute(0, "SCRIPT", "FLUSH")  # as after a restart or a failover
    answer = await gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=3 * MB)])
    assert answer.result_code == SUCCESS and answer[100].granted
    assert await money(ocs, account) == 94
    answer = await gateway.ccr(sid, TERMINATE, 2, mscc=[Mscc(100, used_octets=MB)])
    assert answer.result_code == SUCCESS
    assert await money(ocs, account) == 92


async def test_update_whose_redis_connection_drops_is_answered_and_charged_once(
    ocs: App, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999200000011", money=100)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    address = Address.from_url(ocs.config.redis.url)
    sleeper, probe = NodeConnection(address), NodeConnection(address)
    executor = ocs.balance.executor
    assert isinstance(executor, SingleNode)
    scripts: list[tuple[Any, ...]] = []  # the session scripts ocs sent, retries included
    send = executor.execute

    def execute(slot: int, *args: Any) -> Awaitable[Any]:
        if args[0] in ("EVALSHA", "EVAL") and sid in str(args[3]):
            scripts.append(args)
        return send(slot, *args)

    monkeypatch.setattr(executor, "execute", execute)
    try:
        await sleeper.execute("PING")
        await probe.execute("PING")
        # 1 s: less than the health monitor's two silent rounds and the stuck-connection limit
        busy = sleeper.send(("DEBUG", "SLEEP", "1"))
        while True:  # Redis sleeps once a PING goes unanswered
            ping = probe.send(("PING",))
            await asyncio.wait([ping], timeout=0.1)
            if not ping.done():
                break
        update = asyncio.ensure_future(
            gateway.ccr(sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=3 * MB)])
        )
        for _ in range(10_000):  # until the CCR-U's script is written to Redis' socket
            if scripts and not executor.connection._queue:
                break
            await asyncio.sleep(0.001)
        assert len(scripts) == 1 and not busy.done()
        executor.connection.drop()  # its reply can no longer arrive: ocs asks again
        answer = await update
        await busy
        assert len(scripts) == 2 and scripts[1][-1] == scripts[0][-1]  # the same request again
    finally:
        await sleeper.close()
        await probe.close()
    assert answer.result_code == SUCCESS and answer[100].granted
    assert await money(ocs, account) == 94
