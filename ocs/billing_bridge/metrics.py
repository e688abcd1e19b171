"""Prometheus metrics of the billing bridge (``ocs_billing_<name>``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INGESTED = Counter("ocs_billing_events_ingested", "Charge events committed to the ledger.")
SKIPPED = Counter(
    "ocs_billing_duplicates_skipped",
    "Stream entries not stored again: redelivered (same entry) or stream_duplicate "
    "(another entry with an event id already in the ledger).",
    ["kind"],
)
REJECTED = Counter(
    "ocs_billing_entries_rejected", "Stream entries that could not be decoded or were deleted."
)
CLAIMED = Counter(
    "ocs_billing_claimed_entries", "Entries claimed from another consumer (XAUTOCLAIM)."
)
COMMIT_SECONDS = Histogram(
    "ocs_billing_commit_seconds",
    "Time to decode and commit one batch to the ledger.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Gauge(
    "ocs_billing_lag_seconds",
    "Per partition: age of the oldest entry not yet acknowledged, measured against the newest "
    "entry of the stream (0 when the bridge is caught up).",
    ["partition"],
    multiprocess_mode="livemax",
)
PENDING = Gauge(
    "ocs_billing_pending_entries",
    "Per partition: entries delivered to a bridge and not yet acknowledged.",
    ["partition"],
    multiprocess_mode="livemax",
)
DOCUMENTS = Counter(
    "ocs_billing_documents_issued", "Invoices, statements and credit notes issued.", ["kind"]
)
INVOICE_RUNS = Counter("ocs_billing_invoice_runs", "Billing runs (ocs billing run) completed.")
SETTLEMENT_RUNS = Counter("ocs_billing_settlement_runs", "Settlement runs completed.")
ANOMALIES = Counter(
    "ocs_billing_anomalies_flagged", "Subscriber usage anomalies flagged by reconciliation."
)
DISCREPANCIES = Counter(
    "ocs_billing_reconcile_discrepancies", "Discrepancies found by reconciliation.", ["kind"]
)
