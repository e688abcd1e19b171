"""Done-when: the real ``ocs serve`` with python-diameter's Node, an independent
Diameter implementation, as its peer: CER/CEA, DWR/DWA both ways, DPR/DPA both
ways, and garbage on another connection before it."""

from __future__ import annotations

import logging
import re
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow


def write_config(tmp_path: Path, redis_url: str, port: int) -> Path:
    path = tmp_path / "ocs.toml"
    path.write_text(
        f"""
state_dir = "{tmp_path / "state"}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_url}"
[metrics]
listen = "127.0.0.1:0"
[grpc]
listen = "127.0.0.1:0"
[diameter]
listen = "127.0.0.1:{port}"
origin_host = "ocs.demo.local"
origin_realm = "demo.local"
watchdog_interval = 5.0
"""
    )
    return path


def counters(metrics_url: str) -> dict[tuple[str, str, str], float]:
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ocs_diameter_messages_total":
                labels = sample.labels
                found[labels["direction"], labels["command"], labels["result_code"]] = sample.value
    return found


def wait_until(
    check: Callable[[], bool], what: str, serve: ServeProcess, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; ocs serve said:\n{serve.output}")


def python_diameter_node(port: int) -> tuple[Node, SimpleThreadingApplication]:
    node = Node("pgw.test.example", "test.example", vendor_ids=[10415])
    node.idle_timeout = 1  # python-diameter sends its DWR after 1 s idle
    node.wakeup_interval = 1
    app = SimpleThreadingApplication(4, is_auth_application=True)
    peer = node.add_peer(
        f"aaa://ocs.demo.local:{port};transport=tcp",
        "demo.local",
        ip_addresses=["127.0.0.1"],
        is_persistent=True,
    )
    node.add_application(app, [peer])
    return node, app


@pytest.fixture
def serving(tmp_path: Path, redis_url: str) -> Iterator[tuple[ServeProcess, int, str]]:
    logging.getLogger("diameter").setLevel(logging.WARNING)
    port = free_port()
    serve = ServeProcess(write_config(tmp_path, redis_url, port)).start()
    try:
        serve.wait_ready()
        metrics_url = serve.wait_for(r"listening address=(http://\S+)").group(1)
        serve.wait_for(rf"listening transport=tcp address=127\.0\.0\.1:{port}")
        yield serve, port, metrics_url
    finally:
        serve.stop()


def test_python_diameter_node_with_ocs_serve(serving: tuple[ServeProcess, int, str]) -> None:
    serve, port, metrics_url = serving
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # garbage first
        sock.sendall(b"\x00garbage, not Diameter at all")
        assert sock.recv(100) == b""
    serve.wait_for(r"peer closed origin_host=- remote=\S+ reason=\"framing error")

    node, app = python_diameter_node(port)
    node.start()
    try:
        assert app.is_ready.wait(10), "python-diameter never finished CER/CEA"
        serve.wait_for(
            r"peer open origin_host=pgw\.test\.example origin_realm=test\.example "
            r".*product=\"python-diameter\" applications=4"
        )
        # RFC 3539: only an idle side sends DWR. python-diameter (idle after 1 s) asks
        # first and ocs (Tw 5 s) answers; then python-diameter waits and ocs asks.
        wait_until(lambda: counters(metrics_url).get(("out", "DWA", "2001"), 0) >= 1, "DWA", serve)
        node.idle_timeout = 3600
        wait_until(lambda: counters(metrics_url).get(("in", "DWA", "2001"), 0) >= 1, "DWR", serve)
        seen = counters(metrics_url)
        assert seen[("out", "CEA", "2001")] >= 1 and seen[("in", "CER", "")] >= 1
        assert seen[("in", "DWR", "")] >= 1 and seen[("out", "DWR", "")] >= 1
    finally:
        node.stop(wait_timeout=10)
    serve.wait_for(r"peer disconnecting origin_host=pgw\.test\.example \S+ cause=0")
    serve.wait_for(r"peer closed origin_host=pgw\.test\.example")
    assert counters(metrics_url)[("out", "DPA", "2001")] >= 1
    assert not re.search(r"Traceback|ERROR", serve.output)


def test_stopping_ocs_serve_sends_dpr_to_python_diameter(
    serving: tuple[ServeProcess, int, str],
) -> None:
    serve, port, _ = serving
    node, app = python_diameter_node(port)
    node.start()
    try:
        assert app.is_ready.wait(10)
        serve.wait_for(r"peer open origin_host=pgw\.test\.example")
        assert serve.stop() == 0
    finally:
        node.stop(force=True)
    assert re.search(
        r'peer closed origin_host=pgw\.test\.example \S+ reason="disconnected \(DPA received\)"',
        serve.output,
    ), serve.output
    assert re.search(r"ocs\.diameter: stopped connections=1", serve.output)
