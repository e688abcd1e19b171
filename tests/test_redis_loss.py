"""A dead Redis is noticed and survived (issue 15).

* The embedded redis-server is ocs's child: kill -9 it under Gy load, and ocs restarts it on the
  same data (with ``--workers 2`` the master does), says so in its log, and every acknowledged
  charge is still there, to the cent.
* An external Redis that goes away: within a second ``ocs_balance_up`` is 0, gRPC health says
  NOT_SERVING, CCRs are answered 3004 (counted in ``ocs_diameter_too_busy_total``) while
  CER/DWR keep being answered; when it is back, service resumes by itself.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from ocs.app import App
from ocs.balance.engine import RedisTarget
from ocs.bench.client import answer_codes
from ocs.bench.runner import _cost_per_report, _provision, _verify
from ocs.embedded_redis import running_server_url
from ocs.policy.catalog import load_catalog
from ocs.redis_server import RedisServer
from tests.conftest import app_config
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess
from tests.topology.gateway import FailoverGateway

OPENING = 100_000_000
USED = 100_000


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]
    return float(sum(values))


async def wait_until(check: object, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
async def test_embedded_redis_killed_under_load_is_restarted_and_keeps_every_charge(
    tmp_path: Path, serve: list[ServeProcess], workers: int
) -> None:
    config = tmp_path / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{tmp_path / "var"}"
catalog = "{DEMO_CATALOG}"
workers = {workers}
[metrics]
listen = "127.0.0.1:0"
[diameter]
listen = "127.0.0.1:{free_port()}"
[grpc]
enabled = false
"""
    )
    server = ServeProcess(config).start()
    serve.append(server)
    server.wait_ready(60)
    port = int(server.wait_for(r"listening transport=tcp address=127\.0\.0\.1:(\d+)").group(1))
    url = running_server_url(tmp_path / "var")
    assert url is not None
    target = RedisTarget(url=url)
    msisdns = [f"49170{n:07d}" for n in range(24)]
    await _provision(target, 64, msisdns, OPENING)

    catalog = load_catalog(DEMO_CATALOG)
    gateway = FailoverGateway(
        [("127.0.0.1", port)], cost_per_report=_cost_per_report(catalog, USED), used_octets=USED
    )
    await gateway.connect()
    load = [asyncio.create_task(gateway.subscriber(msisdn, 0, "kill")) for msisdn in msisdns]
    try:
        await wait_until(lambda: gateway.tally.sessions >= 20, "load to be under way")
        before = gateway.tally.sessions
        redis_pid = int((tmp_path / "var" / "redis" / "redis.pid").read_text())
        os.kill(redis_pid, signal.SIGKILL)
        match = await asyncio.to_thread(
            server.wait_for, r"embedded redis-server restarted pid=(\d+)", 20
        )
        assert int(match.group(1)) != redis_pid
        assert f"embedded redis-server died pid={redis_pid} signal=9" in server.output
        await wait_until(lambda: gateway.tally.sessions >= before + 40, "service to resume")
    finally:
        gateway.stopping.set()
        await asyncio.gather(*load)
        await gateway.close()
    assert not gateway.tally.refused, (gateway.tally.refused, server.output)
    assert sum(gateway.tally.charged.values()) > 0
    problems = await _verify(target, 64, dict(gateway.tally.charged), OPENING)
    assert not problems, problems
    # the same state dir, the same socket: the URL the tools read did not change
    assert running_server_url(tmp_path / "var") == url


@pytest.fixture
def external_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(
        tmp_path / "redis", password=secrets.token_urlsafe(12), port=free_port(), appendonly=True
    )
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.send_signal(signal.SIGCONT)  # a failed paused test must not hang here
    server.stop()


@pytest.mark.parametrize("outage", ["killed", "paused"])
async def test_external_redis_outage_is_reported_and_service_resumes(
    tmp_path: Path, external_redis: RedisServer, outage: str
) -> None:
    app = App(
        app_config(
            tmp_path / "state",
            external_redis.url,
            demo={"subscribers": 1},
            redis={"health_interval_ms": 100},
        )
    )
    await app.start()
    try:
        assert app.diameter is not None and app.grpc is not None and app.metrics is not None
        diameter_port = app.diameter.listening[0][2]
        metrics_url = f"http://127.0.0.1:{app.metrics.port}/metrics"
        catalog = load_catalog(DEMO_CATALOG)
        gateway = FailoverGateway(
            [("127.0.0.1", diameter_port)],
            cost_per_report=_cost_per_report(catalog, USED),
            tx=1.0,
        )
        await gateway.connect()
        peer = gateway.connections[0]
        assert peer is not None and gateway.builder is not None
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}")
        health = health_pb2_grpc.HealthStub(channel)

        async def status() -> int:
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            return int(reply.status)

        def ccr(number: int) -> bytes:
            from ocs.bench.client import session_avp, subscriber_avp

            assert gateway.builder is not None
            return gateway.builder.build(
                session_avp(f"outage;{number}"), 1, 0, subscriber=subscriber_avp("999100000000")
            )

        assert await status() == health_pb2.HealthCheckResponse.SERVING
        answer = await asyncio.wait_for(peer.send_ccr(ccr(1), 1, False), 15)
        assert answer_codes(answer)[0] == 2001
        busy_before = await asyncio.to_thread(metric, metrics_url, "ocs_diameter_too_busy_total")

        process = external_redis.process
        assert process is not None
        if outage == "killed":
            process.kill()
            process.wait()
        else:  # SIGSTOP: the socket stays open, nothing answers
            process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        while await status() != health_pb2.HealthCheckResponse.NOT_SERVING:
            assert time.monotonic() - started < 10, "gRPC health still SERVING"
            await asyncio.sleep(0.02)
        assert await asyncio.to_thread(metric, metrics_url, "ocs_balance_up") == 0
        answer = await asyncio.wait_for(peer.send_ccr(ccr(2), 2, False), 15)
        assert answer_codes(answer)[0] == 3004
        dwa = await asyncio.wait_for(peer.request(b"".join([peer.identity.avps]), 280, 0), 15)
        assert answer_codes(dwa)[0] == 2001  # the Diameter peer stays up
        busy = await asyncio.to_thread(metric, metrics_url, "ocs_diameter_too_busy_total")
        assert busy >= busy_before + 1
        unavailable = await asyncio.to_thread(metric, metrics_url, "ocs_balance_unavailable_total")
        assert unavailable >= 1

        if outage == "killed":
            external_redis.start()  # the same port and data dir (AOF)
        else:
            process.send_signal(signal.SIGCONT)
        while await status() != health_pb2.HealthCheckResponse.SERVING:
            assert time.monotonic() - started < 40, "gRPC health not SERVING again"
            await asyncio.sleep(0.02)
        assert await asyncio.to_thread(metric, metrics_url, "ocs_balance_up") == 1
        answer = await asyncio.wait_for(peer.send_ccr(ccr(3), 3, False), 15)
        assert answer_codes(answer)[0] == 2001
        await channel.close()
        await gateway.close()
    finally:
        await app.stop()
