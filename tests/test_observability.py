"""The operator's view: config/prometheus/alerts.yml passes promtool (syntax and its unit
tests), and every metric the alerts and config/grafana/ocs.json name is one that a real
`ocs serve` exports on /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "config" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "config" / "grafana" / "ocs.json"
METRIC = re.compile(r"\b((?:ocs|process)_[a-z0-9_]+)\b")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt install prometheus; CI does)"
)


@needs_promtool
def test_the_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    assert PROMTOOL is not None
    for args in (["check", "rules", str(ALERTS)], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run(
            [PROMTOOL, *args], cwd=ALERTS.parent, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def expressions() -> Iterator[tuple[str, str]]:
    """``(where, PromQL)`` of every alert and every dashboard panel target."""
    yield "alerts.yml", ALERTS.read_text()  # expressions, and the metrics descriptions name
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            yield f"ocs.json {panel['title']!r}", target["expr"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, redis_server: object) -> set[str]:
    """Every metric name a running `ocs serve` (billing on) has on /metrics."""
    directory = tmp_path_factory.mktemp("observability")
    metrics = free_port()
    config = directory / "ocs.toml"
    config.write_text(
        f'state_dir = "{directory / "state"}"\ncatalog = "{DEMO_CATALOG}"\n'
        f'[redis]\nurl = "{redis_server.url}"\n'  # type: ignore[attr-defined]
        f'[metrics]\nlisten = "127.0.0.1:{metrics}"\n[grpc]\nlisten = "127.0.0.1:0"\n'
        f'[diameter]\nlisten = "127.0.0.1:{free_port()}"\n[billing]\nenabled = true\n'
    )
    server = ServeProcess(config).start()
    try:
        server.wait_ready()
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as page:
            text = page.read().decode()
    finally:
        server.stop()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.mark.slow
def test_every_metric_in_the_alerts_and_the_dashboard_is_exported(exported: set[str]) -> None:
    named = {(where, name) for where, expr in expressions() for name in METRIC.findall(expr)}
    assert len({name for _, name in named}) >= 20
    missing = sorted(f"{where}: {name}" for where, name in named if name not in exported)
    assert not missing, "not exported by ocs serve:\n" + "\n".join(missing)


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
