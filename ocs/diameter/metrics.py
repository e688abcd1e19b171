"""Prometheus metrics of the Diameter stack (``ocs_diameter_*``).

Per-message counts go through tallies (:mod:`ocs.tally`): the hot path pays a
dict lookup and an integer add per message.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from ocs import tally

PEERS = Gauge(
    "ocs_diameter_peers",
    "Diameter connections by peer state.",
    ["state"],
    multiprocess_mode="livesum",
)
MESSAGES = Counter(
    "ocs_diameter_messages",
    "Diameter messages received (in) and sent (out), by command and Result-Code.",
    ["direction", "command", "result_code"],
)
DECODE_ERRORS = Counter(
    "ocs_diameter_decode_errors",
    "Received Diameter data that could not be framed or failed validation, by reason.",
    ["reason"],
)
TOO_BUSY = Counter(
    "ocs_diameter_too_busy",
    "Requests answered DIAMETER_TOO_BUSY (3004): overload, shutdown or an unreachable balance "
    "store.",
)
DUPLICATES = Counter(
    "ocs_diameter_duplicates",
    "Retransmitted requests (same Origin-Host and End-to-End id) answered from the cache.",
)
HANDLER_ERRORS = Counter(
    "ocs_diameter_handler_errors",
    "Requests whose handler raised an unexpected exception (answered 5012).",
)
IN_FLIGHT = Gauge(
    "ocs_diameter_requests_in_flight",
    "Requests being handled right now.",
    multiprocess_mode="livesum",
)
IN_FLIGHT_NOW = tally.gauge(IN_FLIGHT)
READING_PAUSED = Counter(
    "ocs_diameter_reading_paused",
    "Times reading from a peer paused because its write buffer was full.",
)


class MessageCounter:
    """``Observer`` of the peer state machine that counts into the metrics above."""

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, int | None], tally.CounterTally] = {}

    def _count(self, direction: str, command: str, result_code: int | None) -> None:
        key = (direction, command, result_code)
        counted = self._tallies.get(key)
        if counted is None:
            label = "" if result_code is None else str(result_code)
            counted = self._tallies[key] = tally.counter(MESSAGES, direction, command, label)
        counted.total += 1

    def message_in(self, command: str, result_code: int | None) -> None:
        self._count("in", command, result_code)

    def message_out(self, command: str, result_code: int | None) -> None:
        self._count("out", command, result_code)

    def decode_error(self, reason: str) -> None:
        DECODE_ERRORS.labels(reason).inc()


COUNTER = MessageCounter()
"""One counter cache for the whole process (the metrics are process-global)."""
