"""Latency histograms with ~1 % resolution that merge across processes, and counters."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

_BASE = math.log(1.01)


def bucket(micros: float) -> int:
    return int(math.log(max(micros, 1.0)) / _BASE)


def bucket_value(index: int) -> float:
    """The upper edge of a bucket, in microseconds."""
    return math.exp((index + 1) * _BASE)


@dataclass
class Stats:
    latencies: Counter[int] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    result_codes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    max_us: float = 0.0

    def record(self, request_type: str, result: str, micros: float) -> None:
        self.latencies[bucket(micros)] += 1
        self.by_type[request_type] += 1
        self.result_codes[result] += 1
        if micros > self.max_us:
            self.max_us = micros

    def merge(self, other: Stats) -> None:
        self.latencies.update(other.latencies)
        self.by_type.update(other.by_type)
        self.result_codes.update(other.result_codes)
        self.errors.update(other.errors)
        self.max_us = max(self.max_us, other.max_us)

    @property
    def count(self) -> int:
        return sum(self.by_type.values())

    def percentile(self, fraction: float) -> float:
        """Latency in microseconds below which ``fraction`` of the requests fall."""
        total = sum(self.latencies.values())
        if not total:
            return 0.0
        rank = fraction * total
        seen = 0
        for index in sorted(self.latencies):
            seen += self.latencies[index]
            if seen >= rank:
                return min(bucket_value(index), self.max_us)
        return self.max_us
