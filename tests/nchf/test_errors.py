"""Bad input gets a clear answer and changes nothing: RFC 7807 problems with TS 32.291 /
TS 29.500 causes, the malformed requests that crashed free5GC's CHF (free5gc issues 864,
927, 928, 929, 949, 950, 1023), bounded bodies and headers, overload answered 503."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocs.app import App
from ocs.balance.model import Status
from ocs.redis_server import RedisServer
from tests.conftest import app_config
from tests.gy.conftest import NOW_MS, money, subscriber
from tests.nchf.conftest import BASE, by_group, charging_data, nchf_url, ref_of, usage

MB = 1_000_000
PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, cause: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    assert document.get("cause") == cause
    return document


@pytest.fixture
async def session(ocs: App, chf: httpx.AsyncClient) -> tuple[str, str]:
    """(account, ChargingDataRef) of a live session with 1000 cents."""
    ocs.charging.clock = ocs.sweeper.clock = lambda: NOW_MS
    account = await subscriber(ocs, "491700000301", money=1000)
    created = await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000301"))
    assert created.status_code == 201
    return account, ref_of(created)


async def test_free5gc_927_1023_create_without_consumer_identification(
    ocs: App, chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    body = charging_data(usage(100), supi="imsi-001011700000301")
    del body["nfConsumerIdentification"]
    document = problem(await chf.post(BASE, json=body), 400, "MANDATORY_IE_MISSING")
    assert document["invalidParams"] == [
        {"param": "/nfConsumerIdentification", "reason": "required"}
    ]
    # 1023: the same subscriber is served at once afterwards (no lock left held)
    account, ref = session
    update = await chf.post(f"{BASE}/{ref}/update", json=charging_data(usage(100, used_octets=MB)))
    assert update.status_code == 200
    assert await money(ocs, account) == 998


async def test_free5gc_928_short_plmn_and_759_no_pdu_session_information(
    chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    body = charging_data(usage(100), supi="imsi-001011700000301")
    body["nfConsumerIdentification"]["nFPLMNID"] = {"mcc": "2", "mnc": "9"}
    body["pDUSessionChargingInformation"] = {"chargingId": 12345}
    assert (await chf.post(BASE, json=body)).status_code == 201


async def test_free5gc_929_online_usage_without_requested_unit(
    ocs: App, chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    account, ref = session
    report = charging_data(usage(100, request=False, used_octets=2 * MB))
    updated = await chf.post(f"{BASE}/{ref}/update", json=report)
    assert updated.status_code == 200
    assert "grantedUnit" not in by_group(updated)[100]  # usage charged, no quota asked
    released = await chf.post(
        f"{BASE}/{ref}/release", json=charging_data(usage(100, request=False, used_octets=MB))
    )
    assert released.status_code == 204
    assert await money(ocs, account) == 1000 - 4 - 2


async def test_free5gc_949_overlong_subscriber_identifier(
    chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    _, ref = session
    long_supi = "imsi-" + "1" * 280
    create = charging_data(usage(100), supi=long_supi)
    document = problem(await chf.post(BASE, json=create), 400, "MANDATORY_IE_INCORRECT")
    assert document["invalidParams"][0]["param"] == "/subscriberIdentifier"
    for operation in ("update", "release"):
        body = charging_data(usage(100), subscriberIdentifier=long_supi)
        answered = await chf.post(f"{BASE}/{ref}/{operation}", json=body)
        assert answered.status_code == 200 if operation == "update" else 204
    problem(
        await chf.post(f"{BASE}/{'f' * 300}/update", json=charging_data()), 404, "CONTEXT_NOT_FOUND"
    )


async def test_free5gc_950_wrong_ref_with_several_sessions_of_one_subscriber(
    ocs: App, chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    account, ref = session
    second = await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000301"))
    assert second.status_code == 201 and ref_of(second) != ref
    bogus = "0123456789abcdef0123456789abcdef"
    body = charging_data(usage(100, used_octets=MB), subscriberIdentifier="imsi-001011700000301")
    problem(await chf.post(f"{BASE}/{bogus}/update", json=body), 404, "CONTEXT_NOT_FOUND")
    problem(await chf.post(f"{BASE}/not-a-ref/release", json=body), 404, "CONTEXT_NOT_FOUND")
    assert await money(ocs, account) == 1000  # nothing charged to either real session


async def test_free5gc_864_recharging_is_not_a_resource_of_this_api(
    chf: httpx.AsyncClient,
) -> None:
    for path in (
        "/nchf-convergedcharging/v3/recharging/imsi-208930000000003?ratingGroup=1",
        "/nchf-convergedcharging/v3/recharging/invalid-input",
    ):
        answered = await chf.put(path, json={})
        problem(answered, 404, "RESOURCE_URI_STRUCTURE_NOT_FOUND")


async def test_fields_of_the_wrong_type_name_their_json_pointer(
    chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    _, ref = session
    cases = [
        ({"invocationSequenceNumber": "one"}, "/invocationSequenceNumber"),
        ({"invocationSequenceNumber": 2**32}, "/invocationSequenceNumber"),
        ({"multipleUnitUsage": [{"ratingGroup": -1}]}, "/multipleUnitUsage/0/ratingGroup"),
        ({"multipleUnitUsage": {"ratingGroup": 1}}, "/multipleUnitUsage"),
        (
            {"multipleUnitUsage": [{"ratingGroup": 100, "requestedUnit": {"totalVolume": 2**60}}]},
            "/multipleUnitUsage/0/requestedUnit/totalVolume",
        ),
        (
            {"multipleUnitUsage": [{"ratingGroup": 100}, {"ratingGroup": 100}]},
            "/multipleUnitUsage/1/ratingGroup",
        ),
        ({"notifyUri": "ftp://smf/notify"}, "/notifyUri"),
    ]
    for change, pointer in cases:
        body = {**charging_data(), **change}
        document = problem(
            await chf.post(f"{BASE}/{ref}/update", json=body), 400, "MANDATORY_IE_INCORRECT"
        )
        assert document["invalidParams"][0]["param"] == pointer, change
    missing = charging_data()
    del missing["invocationTimeStamp"]
    problem(await chf.post(f"{BASE}/{ref}/update", json=missing), 400, "MANDATORY_IE_MISSING")


async def test_unknown_enum_values_are_accepted(
    chf: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    _, ref = session
    body = charging_data(usage(100, used_octets=MB, trigger="SOMETHING_NEW_IN_REL_19"))
    body["nfConsumerIdentification"]["nodeFunctionality"] = "FUTURE_NF"
    body["multipleUnitUsage"][0]["usedUnitContainer"][0]["quotaManagementIndicator"] = "NEW"
    assert (await chf.post(f"{BASE}/{ref}/update", json=body)).status_code == 200


async def test_unknown_subscriber_and_missing_identity(chf: httpx.AsyncClient) -> None:
    unknown = charging_data(usage(100), supi="imsi-001019999999999")
    problem(await chf.post(BASE, json=unknown), 404, "USER_UNKNOWN")
    anonymous = charging_data(usage(100), supi="gci-something")
    problem(await chf.post(BASE, json=anonymous), 400, "MANDATORY_IE_MISSING")


async def test_http_level_errors(chf: httpx.AsyncClient, session: tuple[str, str]) -> None:
    _, ref = session
    problem(
        await chf.post(BASE, content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "INVALID_MSG_FORMAT",
    )
    problem(
        await chf.post(BASE, content=b"[1, 2]", headers={"content-type": "application/json"}),
        400,
        "INVALID_MSG_FORMAT",
    )
    nested = b"[" * 100_000 + b"]" * 100_000
    too_large = await chf.post(BASE, content=nested, headers={"content-type": "application/json"})
    problem(too_large, 413, None)  # above max_body: not even read
    deep = b"[" * 30_000 + b"]" * 30_000
    problem(
        await chf.post(BASE, content=deep, headers={"content-type": "application/json"}),
        400,
        "INVALID_MSG_FORMAT",
    )
    problem(await chf.post(BASE, content=b"a=1", headers={"content-type": "text/plain"}), 415, None)
    wrong_method = await chf.get(f"{BASE}/{ref}/update")
    problem(wrong_method, 405, None)
    assert wrong_method.headers["allow"] == "POST"
    problem(
        await chf.post("/nchf-convergedcharging/v2/chargingdata", json={}),
        404,
        "RESOURCE_URI_STRUCTURE_NOT_FOUND",
    )


async def test_a_header_block_above_the_bound_is_refused(chf: httpx.AsyncClient) -> None:
    refused = await chf.post(BASE, json=charging_data(), headers={"x-big": "a" * 20_000})
    assert refused.status_code == 431  # above nchf.max_header_list_size (16 KiB)
    still = await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001019999999999"))
    assert still.status_code == 404  # the connection serves on


@pytest.fixture
async def narrow(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    """ocs accepting one Nchf request in progress."""
    app = App(
        app_config(
            tmp_path / "state",
            redis_url,
            nchf={"enabled": True, "listen": "127.0.0.1:0", "max_in_flight": 1, "retry_after_s": 7},
        )
    )
    await app.start()
    yield app
    await app.stop()


async def test_overload_is_answered_503_with_retry_after_not_queued(narrow: App) -> None:
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"invocationSequenceNumber": 0,'
        await release.wait()
        yield b' "invocationTimeStamp": "2026-11-18T10:00:00Z"}'

    url = nchf_url(narrow)
    async with (
        httpx.AsyncClient(base_url=url, http1=False, http2=True, timeout=10) as slow,
        httpx.AsyncClient(base_url=url, http1=False, http2=True, timeout=10) as client,
    ):
        held = asyncio.get_running_loop().create_task(
            slow.post(BASE, content=slow_body(), headers={"content-type": "application/json"})
        )
        assert narrow.nchf is not None
        for _ in range(500):  # until the first request is in progress on the server
            if narrow.nchf.server.in_flight == 1:
                break
            await asyncio.sleep(0.01)
        assert narrow.nchf.server.in_flight == 1
        refused = await client.post(BASE, json=charging_data())
        document = problem(refused, 503, "NF_CONGESTION")
        assert refused.headers["retry-after"] == "7"
        assert "in progress" in document["detail"]
        release.set()
        first = await held
        problem(first, 400, "MANDATORY_IE_MISSING")  # then served, and told what is missing


async def test_a_suspended_subscriber_is_denied_and_an_unrated_event_fails(
    ocs: App, chf: httpx.AsyncClient
) -> None:
    ocs.charging.clock = ocs.sweeper.clock = lambda: NOW_MS
    account = await subscriber(ocs, "491700000302", money=1000)
    suspended = await ocs.balance.set_subscriber_status(
        "op-n-0302", account, Status.SUSPENDED, now_ms=NOW_MS
    )
    assert suspended.ok
    created = await chf.post(BASE, json=charging_data(usage(100), supi="imsi-001011700000302"))
    assert created.status_code == 201
    assert by_group(created)[100]["resultCode"] == "END_USER_SERVICE_DENIED"
    event = charging_data(
        {"ratingGroup": 999, "requestedUnit": {"serviceSpecificUnits": 1}},
        supi="imsi-001011700000301",
        oneTimeEvent=True,
        oneTimeEventType="IEC",
    )
    await subscriber(ocs, "491700000301", money=1000)
    problem(await chf.post(BASE, json=event), 400, "CHARGING_FAILED")
    assert await money(ocs, account) == 1000


async def test_an_unreachable_balance_store_is_503_nf_congestion(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis", password=secrets.token_urlsafe(8), appendonly=False)
    redis.start()
    app = App(
        app_config(tmp_path / "state", redis.url, nchf={"enabled": True, "listen": "127.0.0.1:0"})
    )
    await app.start()
    try:
        await subscriber(app, "491700000303", money=100)
        redis.stop()
        async with httpx.AsyncClient(
            base_url=nchf_url(app), http1=False, http2=True, timeout=10
        ) as chf:
            answered = await chf.post(
                BASE, json=charging_data(usage(100), supi="imsi-001011700000303")
            )
        problem(answered, 503, "NF_CONGESTION")  # the SMF tries another CHF
        assert answered.headers["retry-after"] == "1"
    finally:
        await app.stop()
        redis.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (apt install curl)")
async def test_stopping_answers_what_is_in_progress_and_turns_new_requests_away(
    tmp_path: Path, redis_url: str
) -> None:
    """The request in progress is sent by curl (nghttp2), which streams its body from a pipe.
    Python's h2 cannot be that client: when the server's graceful GOAWAY and PING arrive in
    the same read as the answer, it raises on the PING and loses the answer it had already
    received (python-hyper/h2 issue 1199), so the outcome would depend on TCP timing."""
    app = App(
        app_config(tmp_path / "state", redis_url, nchf={"enabled": True, "listen": "127.0.0.1:0"})
    )
    await app.start()
    assert app.nchf is not None
    server = app.nchf.server
    url = nchf_url(app)
    held = await asyncio.create_subprocess_exec(
        *("curl", "--silent", "--show-error", "--max-time", "20", "--http2-prior-knowledge"),
        *("--request", "POST", "--upload-file", "-", "--header", "content-type: application/json"),
        *("--write-out", "\n%{http_code}", f"{url}{BASE}"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert held.stdin is not None
    try:
        async with httpx.AsyncClient(base_url=url, http1=False, http2=True, timeout=10) as other:
            await other.post(BASE, json={})  # a connection open before the stop
            held.stdin.write(b'{"invocationSequenceNumber": 0,')
            await held.stdin.drain()
            for _ in range(1000):
                if server.in_flight == 1:
                    break
                await asyncio.sleep(0.01)
            assert server.in_flight == 1
            stopping = asyncio.get_running_loop().create_task(server.stop())
            for _ in range(500):
                if server.stopping:
                    break
                await asyncio.sleep(0.01)
            turned_away = await other.post(BASE, json=charging_data())
            problem(turned_away, 503, "NF_CONGESTION")
            assert not stopping.done()  # waiting for the request in progress
        held.stdin.write(b' "invocationTimeStamp": "2026-11-18T10:00:00Z"}')
        held.stdin.close()
        output, _ = await held.communicate()
        body, status = output.decode().rsplit("\n", 1)
        assert status == "400", output  # answered, not cut off
        assert json.loads(body)["cause"] == "MANDATORY_IE_MISSING"
        await stopping
    finally:
        if held.returncode is None:
            held.kill()
            await held.wait()
        await app.stop()
