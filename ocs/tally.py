"""Hot-path metrics: counted in plain Python numbers, added to prometheus-client when read.

A prometheus-client update takes a lock (one process) or writes a memory-mapped file
(``--workers``' multiprocess mode): 0.6-3 us each, and a credit-control request makes about
ten (docs/benchmarks.md). A tally adds to a Python number instead, and :func:`flush` moves
what was added since the last flush into the real metric:

* before every collection of the default registry (a scrape of ``/metrics``, or
  ``REGISTRY.get_sample_value`` in a test): a collector registered here, ahead of every
  metric that has tallies, flushes first;
* every second on a server's event loop (:func:`flush_every`), which is what a worker's
  metrics files need: the master reads them, not this process's registry.

The event loop adds while a scrape's thread flushes, so each number has one writer: the hot
path only ever adds to ``total``, the flush only moves ``flushed`` up to what it read. Nothing
added is lost or counted twice, whichever thread runs when.
"""

from __future__ import annotations

import asyncio
import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

FLUSH_INTERVAL = 1.0


class CounterTally:
    """``tally.total += n`` instead of ``child.inc(n)``."""

    __slots__ = ("_child", "_flushed", "total")

    def __init__(self, child: Any) -> None:
        self._child = child
        self.total = 0
        self._flushed = 0

    def flush(self) -> None:
        total = self.total
        if total != self._flushed:
            self._child.inc(total - self._flushed)
            self._flushed = total


class GaugeTally:
    """``value`` is the gauge's value; the flush sets it."""

    __slots__ = ("_child", "_flushed", "value")

    def __init__(self, child: Any) -> None:
        self._child = child
        self.value = 0
        self._flushed = 0

    def flush(self) -> None:
        value = self.value
        if value != self._flushed:
            self._child.set(value)
            self._flushed = value


class HistogramTally:
    """``observe(v)`` counts into the histogram's buckets; the flush adds the counts and the sum
    to the child's bucket and sum values (prometheus-client stores each bucket's own count and
    adds them up when exposing, so adding counts is what ``observe`` does, in bulk)."""

    __slots__ = ("_bounds", "_child", "_flushed", "_flushed_sum", "counts", "sum")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._bounds: list[float] = list(child._upper_bounds)
        self.counts = [0] * len(self._bounds)
        self._flushed = [0] * len(self._bounds)
        self.sum = 0.0
        self._flushed_sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self._bounds, value)] += 1
        self.sum += value

    def flush(self) -> None:
        buckets = self._child._buckets
        for i, count in enumerate(self.counts):
            if count != self._flushed[i]:
                buckets[i].inc(count - self._flushed[i])
                self._flushed[i] = count
        total = self.sum
        if total != self._flushed_sum:
            self._child._sum.inc(total - self._flushed_sum)
            self._flushed_sum = total


_tallies: dict[tuple[int, tuple[str, ...]], Any] = {}
_lock = threading.Lock()


def counter(metric: Counter, *labels: str) -> CounterTally:
    """The tally of a counter's child with these label values (one per child, kept)."""
    return _tally(metric, labels, CounterTally)


def histogram(metric: Histogram, *labels: str) -> HistogramTally:
    return _tally(metric, labels, HistogramTally)


def gauge(metric: Gauge, *labels: str) -> GaugeTally:
    return _tally(metric, labels, GaugeTally)


def _tally(metric: Any, labels: tuple[str, ...], kind: type) -> Any:
    key = (id(metric), labels)
    tally = _tallies.get(key)
    if tally is None:
        with _lock:
            tally = _tallies.get(key)
            if tally is None:
                child = metric.labels(*labels) if labels else metric
                tally = _tallies[key] = kind(child)
    return tally


def flush() -> None:
    """Move every tally's new counts into prometheus-client (any thread)."""
    with _lock:
        for tally in list(_tallies.values()):
            tally.flush()


async def flush_every(interval: float = FLUSH_INTERVAL) -> None:
    """Flush once per ``interval`` until cancelled, and once more then."""
    try:
        while True:
            await asyncio.sleep(interval)
            flush()
    finally:
        flush()


class _FlushFirst(Collector):
    """Registered before any tallied metric, so the registry flushes before it reads them."""

    def collect(self) -> Iterator[Any]:
        flush()
        return iter(())


REGISTRY.register(_FlushFirst())

__all__ = ["CounterTally", "GaugeTally", "HistogramTally", "counter", "flush", "flush_every"]
