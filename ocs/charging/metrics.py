"""Charging metrics (``ocs_charging_*``, and ``ocs_diameter_requests_total`` for Gy).

Recorded through tallies (:mod:`ocs.tally`): a dict lookup and an add per request.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ocs import tally
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

_answered: dict[tuple[int, int], tally.CounterTally] = {}
_durations: dict[int, tally.HistogramTally] = {}
_units: dict[tuple[int, str], tuple[tally.CounterTally, tally.CounterTally]] = {}


def record_diameter(request: ChargingRequest, result: ChargingResult, seconds: float) -> None:
    kind, code = request.request_type, result.result_code
    answered = _answered.get((kind, code))
    if answered is None:
        answered = _answered[(kind, code)] = tally.counter(
            DIAMETER_REQUESTS, "CCR", kind.name, str(int(code))
        )
    answered.total += 1
    duration = _durations.get(kind)
    if duration is None:
        duration = _durations[kind] = tally.histogram(DURATION, "diameter", kind.name)
    duration.observe(seconds)


def record_units(rating_group: int, unit: str, granted: int, used: int) -> None:
    counted = _units.get((rating_group, unit))
    if counted is None:
        group = str(rating_group)
        counted = _units[(rating_group, unit)] = (
            tally.counter(GRANTED, group, unit),
            tally.counter(USED, group, unit),
        )
    counted[0].total += granted
    counted[1].total += used
