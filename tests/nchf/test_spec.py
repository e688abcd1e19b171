"""ocs against the official OpenAPI file of TS 32.291 (Rel-17, API 3.1.6), with schemathesis:
every answer validates against the spec (status, content type, body schema), and requests
generated from the spec's schemas never get a 500 or a hang.

The file and everything it references by $ref (TS 29.571 common data, TS 29.512, TS 29.520,
TS 28.541 ...) are read from ``shared/specs/3gpp-rel17`` beside the project (its README lists
the defects of the published files: an enum may hold any string, which is what ocs accepts).
The server is the real ``ocs serve``, reached over h2c with prior knowledge.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation

from tests.nchf.conftest import charging_data, usage
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow

SPEC = "TS32291_Nchf_ConvergedCharging.yaml"
ROOT = "/nchf-convergedcharging/v3"
DEMO_IMSI = "imsi-001010000000000"  # the first demo subscriber


def spec_path() -> Path:
    """``shared/specs/3gpp-rel17`` beside the project (or a parent of it), or $OCS_SPECS_DIR."""
    if os.environ.get("OCS_SPECS_DIR"):
        return Path(os.environ["OCS_SPECS_DIR"]) / "3gpp-rel17" / SPEC
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "specs" / "3gpp-rel17" / SPEC
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{SPEC} not found in shared/specs/3gpp-rel17 beside the project")


SCHEMA = schemathesis.openapi.from_path(str(spec_path()))
CREATE = SCHEMA["/chargingdata"]["POST"]
# What the spec says of answers. Not "positive data acceptance": a request the schema allows
# may still lack what charging needs (a subscriber to charge), answered 400 as TS 32.291 says.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
UPDATE = SCHEMA["/chargingdata/{ChargingDataRef}/update"]["POST"]
RELEASE = SCHEMA["/chargingdata/{ChargingDataRef}/release"]["POST"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ocs serve`` on its embedded redis-server with the demo subscribers; its apiRoot."""
    directory = tmp_path_factory.mktemp("nchf-spec")
    port = free_port()
    config = directory / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{directory / "state"}"
catalog = "{DEMO_CATALOG}"
[metrics]
enabled = false
[diameter]
enabled = false
[grpc]
enabled = false
[billing]
enabled = false
[nchf]
enabled = true
listen = "127.0.0.1:{port}"
[demo]
subscribers = 2
"""
    )
    process = ServeProcess(config).start()
    try:
        process.wait_ready(30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server + ROOT, http1=False, http2=True, timeout=10) as http:
        yield http


def call(client: httpx.Client, case: Any) -> httpx.Response:
    """Send a schemathesis case over HTTP/2 and check the answer against the spec."""
    response = client.request(
        case.method,
        case.formatted_path,
        json=case.body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code < 500, (case.body, response.text)
    case.validate_response(response, checks=CHECKS)
    return response


def test_a_session_answers_validate_against_the_spec(client: httpx.Client) -> None:
    create = CREATE.Case(
        body=charging_data(usage(100), usage(200), supi=DEMO_IMSI, notify_uri="http://smf/n"),
        media_type="application/json",
    )
    created = call(client, create)
    assert created.status_code == 201
    ref = created.headers["location"].rsplit("/", 1)[1]
    for operation, body, status in (
        (UPDATE, charging_data(usage(100, used_octets=10**6), usage(200, used_seconds=60)), 200),
        (UPDATE, charging_data(usage(100, used_octets=10**6)), 200),  # a retransmission is
        (RELEASE, charging_data(usage(100, request=False, used_octets=5)), 204),
    ):
        case = operation.Case(
            body=body, path_parameters={"ChargingDataRef": ref}, media_type="application/json"
        )
        assert call(client, case).status_code == status
    gone = UPDATE.Case(
        body=charging_data(usage(100)),
        path_parameters={"ChargingDataRef": ref},
        media_type="application/json",
    )
    assert call(client, gone).status_code == 404
    unknown = CREATE.Case(
        body=charging_data(usage(100), supi="imsi-999990000000000"), media_type="application/json"
    )
    assert call(client, unknown).status_code == 404
    event = CREATE.Case(
        body=charging_data(usage(300, request=False, used_units=1), supi=DEMO_IMSI)
        | {"oneTimeEvent": True, "oneTimeEventType": "PEC"},
        media_type="application/json",
    )
    assert call(client, event).status_code == 201


def live_ref(client: httpx.Client) -> str:
    created = client.post("/chargingdata", json=charging_data(usage(100), supi=DEMO_IMSI))
    assert created.status_code == 201, created.text
    return created.headers["location"].rsplit("/", 1)[1]


def generated(operation: APIOperation, client: httpx.Client, examples: int) -> None:
    """Requests drawn from the spec's schemas; an update or release names a live resource, so
    the generated bodies reach the charging core, not only the 404 of an unknown ref."""
    ref = live_ref(client) if operation is UPDATE else ""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if operation is not CREATE:
            case.path_parameters = {"ChargingDataRef": ref or live_ref(client)}
        call(client, case)

    check()


def test_generated_creates_never_fail_the_server(client: httpx.Client) -> None:
    generated(CREATE, client, 60)


def test_generated_updates_and_releases_never_fail_the_server(client: httpx.Client) -> None:
    generated(UPDATE, client, 40)
    generated(RELEASE, client, 40)
