"""Usage anomalies: a subscriber's day of usage far above their own usual day.

For each subscriber, rating group and unit, and each UTC day of the period with usage, the
usual day is the median of the days with usage among the ``history_days`` before it; with at
least ``min_history_days`` such days, a day above ``factor`` times that median is flagged.
A pure function over (subscriber, rating group, unit, ts, units) rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median_low

from ocs.billing_bridge.ledger import Ledger

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Anomaly:
    subscriber: str
    rating_group: int
    unit: str
    day: str
    used: int
    usual: int
    """Median of the subscriber's days with usage in the history window."""


def _day(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date()


def find_anomalies(
    rows: Iterable[tuple[str, int, str, int, int]],
    start_ms: int,
    end_ms: int,
    *,
    factor: int,
    history_days: int,
    min_history_days: int,
) -> list[Anomaly]:
    daily: dict[tuple[str, int, str], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for subscriber, rating_group, unit, ts, used in rows:
        daily[(subscriber, rating_group, unit)][_day(ts)] += used
    first, last = _day(start_ms), _day(end_ms - 1)
    found = []
    for (subscriber, rating_group, unit), days in sorted(daily.items()):
        for day in sorted(d for d in days if first <= d <= last):
            history = [
                days[day - timedelta(days=n)]
                for n in range(1, history_days + 1)
                if days.get(day - timedelta(days=n), 0) > 0
            ]
            if len(history) < min_history_days:
                continue
            usual = median_low(history)
            if days[day] > factor * usual:
                found.append(
                    Anomaly(subscriber, rating_group, unit, day.isoformat(), days[day], usual)
                )
    return found


def usage_anomalies(
    ledger: Ledger,
    start_ms: int,
    end_ms: int,
    *,
    factor: int,
    history_days: int,
    min_history_days: int,
) -> list[Anomaly]:
    rows = ledger.query(
        "SELECT subscriber, rating_group, unit, ts, used FROM charges "
        "WHERE ts >= ? AND ts < ? AND subscriber <> ''",
        (start_ms - history_days * DAY_MS, end_ms),
    )
    return find_anomalies(
        ((r[0], int(r[1]), r[2], int(r[3]), int(r[4])) for r in rows),
        start_ms,
        end_ms,
        factor=factor,
        history_days=history_days,
        min_history_days=min_history_days,
    )
