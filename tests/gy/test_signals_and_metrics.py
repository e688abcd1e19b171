"""Server-initiated ASR, and the Gy metrics an operator watches."""

from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from ocs.app import App
from ocs.diameter.constants import Command
from tests.gy.conftest import NOW_MS, subscriber
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc
from tests.gy.test_sessions import fix_clock


async def test_terminating_a_subscriber_aborts_its_live_sessions(
    ocs: App, gateway: Gateway
) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999500000001", money=100)
    live, closed = gateway.new_session(), gateway.new_session()
    await gateway.ccr(live, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    await gateway.ccr(closed, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    await gateway.ccr(closed, TERMINATE, 1, mscc=[Mscc(100, used_octets=10)])

    assert (await ocs.operations.terminate_subscriber("term-1", account)).ok
    await gateway.wait_for_request(Command.ABORT_SESSION, live)
    aborted = [m.get(263) for m in gateway.received if m.command_code == Command.ABORT_SESSION]
    assert aborted == [live]  # the closed session is not aborted
    after = await gateway.ccr(live, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=100)])
    assert after[100].result_code == 4010


def scrape(app: App) -> dict[str, float]:
    assert app.metrics is not None
    with urllib.request.urlopen(app.metrics.url, timeout=5) as response:
        text = response.read().decode()
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_requests_grants_usage_and_latency_are_metrics(ocs: App, gateway: Gateway) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999500000002", money=1000)
    before = await asyncio.to_thread(scrape, ocs)
    sid = gateway.new_session()
    await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    await gateway.ccr(sid, TERMINATE, 1, mscc=[Mscc(100, used_octets=4_000_000)])
    after = await asyncio.to_thread(scrape, ocs)

    def delta(name: str, **labels: str) -> float:
        key = f"{name}{sorted(labels.items())}"
        return after.get(key, 0.0) - before.get(key, 0.0)

    requests = "ocs_diameter_requests_total"
    assert delta(requests, command="CCR", request_type="INITIAL", result_code="2001") == 1
    assert delta(requests, command="CCR", request_type="TERMINATE", result_code="2001") == 1
    assert (
        delta("ocs_charging_granted_units_total", rating_group="100", unit="octets") == 10_000_000
    )
    assert delta("ocs_charging_used_units_total", rating_group="100", unit="octets") == 4_000_000
    duration = "ocs_charging_request_duration_seconds_count"
    assert delta(duration, interface="diameter", request_type="INITIAL") == 1


async def test_live_sessions_are_counted_at_every_sweep(ocs: App, gateway: Gateway) -> None:
    fix_clock(ocs)
    account = await subscriber(ocs, "999500000003", money=1000)
    first, second = gateway.new_session(), gateway.new_session()
    for sid in (first, second):
        await gateway.ccr(sid, INITIAL, 0, msisdn=account, mscc=[Mscc(100, request=True)])
    await ocs.sweeper.run_once(NOW_MS)
    assert (await asyncio.to_thread(scrape, ocs))["ocs_balance_live_sessions[]"] == 2
    await gateway.ccr(first, TERMINATE, 1, mscc=[Mscc(100, used_octets=10)])
    await ocs.sweeper.run_once(NOW_MS)
    assert (await asyncio.to_thread(scrape, ocs))["ocs_balance_live_sessions[]"] == 1
