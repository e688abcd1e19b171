"""gRPC metrics (``ocs_grpc_*``); label children are cached, so recording is cheap."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "ocs_grpc_requests",
    "gRPC calls finished, by service, method and status code.",
    ["service", "method", "code"],
)
DURATION = Histogram(
    "ocs_grpc_request_duration_seconds",
    "Time from a call's arrival to its status (streams: their whole life), by service and method.",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
IN_FLIGHT = Gauge("ocs_grpc_in_flight", "gRPC calls in progress, by kind.", ["kind"])
STREAM_MESSAGES = Counter(
    "ocs_grpc_stream_messages",
    "Requests answered on CreditControl.Stream, by status code (OK or the rejection's).",
    ["code"],
)
REJECTED = Counter(
    "ocs_grpc_rejected",
    "Calls refused before any work: overload (RESOURCE_EXHAUSTED) or authentication/role.",
    ["reason"],
)

_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    key = (id(metric), labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found
