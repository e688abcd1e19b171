"""Metrics of the web subsystem (REST APIs and portal pages)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "ocs_portal_requests_total", "HTTP requests answered, by route and status", ["route", "status"]
)
DURATION = Histogram(
    "ocs_portal_request_duration_seconds", "Time to answer an HTTP request", ["route"]
)
DELIVERIES = Counter(
    "ocs_portal_deliveries_total",
    "Notifications delivered or given up (channel webhook/email)",
    ["channel", "result"],
)
PAYMENTS = Counter("ocs_portal_payments_total", "Payments applied, by source", ["source", "result"])
