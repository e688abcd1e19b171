"""The ChfConsumer Locust user drives a real `ocs serve` over Nchf without failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess
from tests.test_locust import _assert_clean, _locust

pytestmark = pytest.mark.slow


def test_locust_chf_consumers_run_pdu_sessions_without_failures(
    tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    config = tmp_path / "ocs.toml"
    config.write_text(
        f"""
state_dir = "{tmp_path / "state"}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_url}"
[metrics]
enabled = false
[diameter]
enabled = false
[grpc]
enabled = false
[nchf]
enabled = true
listen = "127.0.0.1:{port}"
[demo]
subscribers = 20
"""
    )
    serve = ServeProcess(config).start()
    try:
        serve.wait_ready()
        rows = _locust(
            tmp_path,
            "diameter://unused",
            ["ChfConsumer"],
            {"OCS_LOAD_NCHF": f"http://127.0.0.1:{port}"},
        )
    finally:
        serve.stop()
    _assert_clean(rows, ("create", "update", "release"))
