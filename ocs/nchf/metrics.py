"""Nchf metrics (``ocs_nchf_*``), counted through tallies on the request path."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ocs import tally

REQUESTS = Counter(
    "ocs_nchf_requests",
    "Nchf_ConvergedCharging requests answered, by operation, HTTP status and cause.",
    ["operation", "status", "cause"],
)
RETRANSMISSIONS = Counter(
    "ocs_nchf_retransmissions",
    "Requests recognised as retransmissions and answered with the stored answer.",
    ["operation"],
)
DURATION = Histogram(
    "ocs_nchf_request_duration_seconds",
    "Time from a request's last byte to its answer, by operation.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
IN_FLIGHT = Gauge("ocs_nchf_in_flight", "Nchf requests in progress in this process.")
NOTIFICATIONS = Counter(
    "ocs_nchf_notifications",
    "ChargingNotifyRequests to consumers by type and outcome: sent, answered, retried, failed.",
    ["notification_type", "outcome"],
)
NRF = Counter(
    "ocs_nchf_nrf_requests",
    "Requests to the NRF (register, heartbeat, deregister) by outcome.",
    ["operation", "outcome"],
)

_answered: dict[tuple[str, int, str], tally.CounterTally] = {}
_durations: dict[str, tally.HistogramTally] = {}


def record(operation: str, status: int, cause: str, seconds: float) -> None:
    key = (operation, status, cause)
    counter = _answered.get(key)
    if counter is None:
        counter = _answered[key] = tally.counter(REQUESTS, operation, str(status), cause)
    counter.total += 1
    duration = _durations.get(operation)
    if duration is None:
        duration = _durations[operation] = tally.histogram(DURATION, operation)
    duration.observe(seconds)
