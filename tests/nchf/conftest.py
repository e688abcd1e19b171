"""Fixtures for Nchf tests: the whole app with its HTTP/2 server on a free port, an
independent HTTP/2 client (httpx, h2c prior knowledge), request bodies an SMF would send."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocs.app import App
from tests.conftest import app_config

BASE = "/nchf-convergedcharging/v3/chargingdata"
_charging_ids = itertools.count(1)


def nchf_url(app: App) -> str:
    assert app.nchf is not None
    _, host, port = app.nchf.server.listening[0]
    return f"http://{host}:{port}"


@pytest.fixture
async def ocs(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    app = App(
        app_config(
            tmp_path / "state",
            redis_url,
            nchf={"enabled": True, "listen": "127.0.0.1:0"},
            balance={"sweep_interval_ms": 100},
        )
    )
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def chf(ocs: App) -> AsyncIterator[httpx.AsyncClient]:
    """An SMF's HTTP/2 connection to ocs: cleartext, prior knowledge (no HTTP/1.1 at all)."""
    async with httpx.AsyncClient(
        base_url=nchf_url(ocs), http1=False, http2=True, timeout=10
    ) as client:
        yield client


def usage(
    rating_group: int = 100,
    *,
    request: bool = True,
    octets: int | None = None,
    seconds: int | None = None,
    used_octets: int | None = None,
    used_seconds: int | None = None,
    used_units: int | None = None,
    trigger: str | None = None,
) -> dict[str, Any]:
    """One multipleUnitUsage entry."""
    entry: dict[str, Any] = {"ratingGroup": rating_group}
    if request:
        requested: dict[str, Any] = {}
        if octets is not None:
            requested["totalVolume"] = octets
        if seconds is not None:
            requested["time"] = seconds
        entry["requestedUnit"] = requested
    if used_octets is not None or used_seconds is not None or used_units is not None:
        container: dict[str, Any] = {"localSequenceNumber": 1}
        if used_octets is not None:
            container["totalVolume"] = used_octets
            container["uplinkVolume"] = used_octets // 4
            container["downlinkVolume"] = used_octets - used_octets // 4
        if used_seconds is not None:
            container["time"] = used_seconds
        if used_units is not None:
            container["serviceSpecificUnits"] = used_units
        if trigger is not None:
            container["triggers"] = [
                {"triggerType": trigger, "triggerCategory": "IMMEDIATE_REPORT"}
            ]
        container["quotaManagementIndicator"] = "ONLINE_CHARGING"
        entry["usedUnitContainer"] = [container]
    return entry


def charging_data(
    *units: dict[str, Any],
    supi: str | None = None,
    sequence: int = 0,
    notify_uri: str | None = None,
    visited: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ChargingDataRequest as free5GC's SMF sends it (PDU session charging information)."""
    body: dict[str, Any] = {
        "nfConsumerIdentification": {
            "nodeFunctionality": "SMF",
            "nFName": "5f1c6b8e-0c2a-4a51-9f3e-1b2b3c4d5e6f",
            "nFPLMNID": {"mcc": "001", "mnc": "01"},
        },
        "invocationTimeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "invocationSequenceNumber": sequence,
        "multipleUnitUsage": list(units),
    }
    if supi is not None:
        body["subscriberIdentifier"] = supi
        mcc, mnc = (visited[:3], visited[3:]) if visited else ("001", "01")
        body["pDUSessionChargingInformation"] = {
            "chargingId": next(_charging_ids),
            "pduSessionInformation": {
                "pduSessionID": 1,
                "dnnId": "internet",
                "ratType": "NR",
                "servingCNPlmnId": {"mcc": mcc, "mnc": mnc},
                "pduType": "IPV4",
            },
        }
    if notify_uri is not None:
        body["notifyUri"] = notify_uri
    body.update(extra)
    return body


def by_group(response: httpx.Response) -> dict[int, dict[str, Any]]:
    """multipleUnitInformation by rating group."""
    return {
        info["ratingGroup"]: info for info in response.json().get("multipleUnitInformation", [])
    }


def ref_of(response: httpx.Response) -> str:
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:") and f"{BASE}/" in location, location
    return location.rsplit("/", 1)[1]
