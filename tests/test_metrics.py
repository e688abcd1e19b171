from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from ocs import __version__
from ocs.app import App


def scrape(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


async def test_metrics_endpoint_serves_valid_prometheus_text(app: App) -> None:
    assert app.metrics is not None
    status, content_type, body = await asyncio.to_thread(scrape, app.metrics.url)
    assert status == 200
    assert content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(body)}
    build = families["ocs_build_info"]
    (sample,) = build.samples
    assert sample.name == "ocs_build_info"
    assert sample.labels["version"] == __version__
    assert sample.value == 1
    assert "process_cpu_seconds" in families
    assert "process_resident_memory_bytes" in families


async def test_app_uses_the_configured_redis_and_starts_no_embedded_one(app: App) -> None:
    assert app.embedded_redis is None
    assert app.redis.client is not None
    assert await app.redis.client.ping() is True
