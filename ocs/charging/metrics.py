"""Charging metrics (``ocs_charging_*``, and ``ocs_diameter_requests_total`` for Gy).

Label children are cached, so recording costs a dict lookup and an add.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from ocs.charging.types import ChargingRequest, ChargingResult

DIAMETER_REQUESTS = Counter(
    "ocs_diameter_requests",
    "Credit-control requests answered over Diameter.",
    ["command", "request_type", "result_code"],
)
DURATION = Histogram(
    "ocs_charging_request_duration_seconds",
    "Time from a decoded request to its answer, by interface and request type.",
    ["interface", "request_type"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
GRANTED = Counter(
    "ocs_charging_granted_units",
    "Units granted, by rating group and unit.",
    ["rating_group", "unit"],
)
USED = Counter(
    "ocs_charging_used_units",
    "Used units reported and committed, by rating group and unit.",
    ["rating_group", "unit"],
)
SIGNALS = Counter(
    "ocs_charging_signals",
    "Server-initiated requests (RAR, ASR) by kind and outcome: sent, answered, failed.",
    ["kind", "outcome"],
)

_M = TypeVar("_M", Counter, Histogram)
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def _child(metric: _M, *labels: str) -> _M:
    key = (id(metric), labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def record_diameter(request: ChargingRequest, result: ChargingResult, seconds: float) -> None:
    kind = request.request_type.name
    _child(DIAMETER_REQUESTS, "CCR", kind, str(int(result.result_code))).inc()
    _child(DURATION, "diameter", kind).observe(seconds)


def record_units(rating_group: int, unit: str, granted: int, used: int) -> None:
    group = str(rating_group)
    if granted:
        _child(GRANTED, group, unit).inc(granted)
    if used:
        _child(USED, group, unit).inc(used)
