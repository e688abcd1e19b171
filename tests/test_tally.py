"""Hot-path metrics counted in Python numbers (ocs.tally) read exactly like direct updates."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from ocs import tally
from ocs.charging import metrics as charging_metrics
from ocs.diameter import metrics as diameter_metrics


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_counted_adds_are_in_the_registry_when_it_is_read() -> None:
    metric = Counter("ocs_test_tally_adds", "test", ["kind"])
    counted = tally.counter(metric, "a")
    assert tally.counter(metric, "a") is counted  # one tally per child
    counted.total += 3
    counted.total += 4
    assert value("ocs_test_tally_adds_total", {"kind": "a"}) == 7
    counted.total += 1
    assert value("ocs_test_tally_adds_total", {"kind": "a"}) == 8  # no double counting


def test_a_histogram_tally_reads_like_observe() -> None:
    buckets = (0.001, 0.01, 0.1, 1.0)
    metric = Histogram("ocs_test_tally_seconds", "test", ["way"], buckets=buckets)
    counted = tally.histogram(metric, "tally")
    direct = metric.labels("direct")
    for seconds in (0.0005, 0.001, 0.002, 0.05, 0.1, 0.7, 3.0, 0.0):
        counted.observe(seconds)
        direct.observe(seconds)
    for bound in ("0.001", "0.01", "0.1", "1.0", "+Inf"):
        assert value("ocs_test_tally_seconds_bucket", {"way": "tally", "le": bound}) == value(
            "ocs_test_tally_seconds_bucket", {"way": "direct", "le": bound}
        ), bound
    assert value("ocs_test_tally_seconds_count", {"way": "tally"}) == 8
    assert value("ocs_test_tally_seconds_sum", {"way": "tally"}) == value(
        "ocs_test_tally_seconds_sum", {"way": "direct"}
    )


def test_a_gauge_tally_sets_the_gauge() -> None:
    metric = Gauge("ocs_test_tally_level", "test")
    level = tally.gauge(metric)
    level.value += 5
    level.value -= 2
    assert value("ocs_test_tally_level") == 3
    level.value -= 3
    assert value("ocs_test_tally_level") == 0


def test_nothing_is_lost_while_another_thread_flushes() -> None:
    """A scrape flushes from the HTTP server's thread while the loop adds: every add counts
    exactly once."""
    metric = Counter("ocs_test_tally_race", "test")
    counted = tally.counter(metric)
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            tally.flush()

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for _ in range(300_000):
            counted.total += 1
    finally:
        stop.set()
        scraper.join()
    assert value("ocs_test_tally_race_total") == 300_000


def test_the_flush_runs_before_every_tallied_metric_is_collected() -> None:
    """The registry collects in registration order: the flusher must come before the metrics
    the server tallies, or a scrape would show last scrape's counts."""
    order = list(REGISTRY._collector_to_names)  # registration order
    flusher = next(i for i, c in enumerate(order) if type(c).__name__ == "_FlushFirst")
    tallied = [
        diameter_metrics.MESSAGES,
        diameter_metrics.IN_FLIGHT,
        charging_metrics.DIAMETER_REQUESTS,
        charging_metrics.DURATION,
        charging_metrics.GRANTED,
        charging_metrics.USED,
    ]
    from ocs.balance.engine import CALLS

    for metric in [*tallied, CALLS]:
        assert order.index(metric) > flusher, metric


async def test_a_serving_process_flushes_every_interval() -> None:
    """A worker's metrics files are read by the master, not through this registry: the loop
    flushes on its own."""
    metric = Counter("ocs_test_tally_interval", "test")
    counted = tally.counter(metric)
    flushing = asyncio.create_task(tally.flush_every(0.01))
    try:
        counted.total += 2
        for _ in range(100):
            await asyncio.sleep(0.01)
            if metric._value.get() == 2:
                break
        assert metric._value.get() == 2
        counted.total += 1
    finally:
        flushing.cancel()
        await asyncio.gather(flushing, return_exceptions=True)
    assert metric._value.get() == 3  # the last flush on the way out
