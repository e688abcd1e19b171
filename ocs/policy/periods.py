"""Bill periods: each account's cycle starts on its cycle day, in its time zone.

A cycle day past the end of a short month falls on that month's last day
(cycle day 31 starts on 28/29 February). Periods are half-open ``[start, end)``
in aware datetimes; their id is the start date, ``2026-11-01``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class BillPeriod:
    start: datetime
    end: datetime

    @property
    def id(self) -> str:
        return self.start.date().isoformat()


def _cycle_date(year: int, month: int, cycle_day: int) -> date:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(cycle_day, last))


def _shift(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def bill_period(now: datetime, timezone: ZoneInfo, cycle_day: int) -> BillPeriod:
    """The period containing ``now`` (aware) for an account with this cycle day (1..31)."""
    if not 1 <= cycle_day <= 31:
        raise ValueError(f"cycle day must be 1..31, got {cycle_day}")
    local = now.astimezone(timezone)
    year, month = local.year, local.month
    start = _cycle_date(year, month, cycle_day)
    if local.date() < start:
        year, month = _shift(year, month, -1)
        start = _cycle_date(year, month, cycle_day)
    next_year, next_month = _shift(year, month, 1)
    end = _cycle_date(next_year, next_month, cycle_day)
    return BillPeriod(
        start=datetime.combine(start, datetime.min.time(), timezone),
        end=datetime.combine(end, datetime.min.time(), timezone),
    )


def period_by_id(period_id: str, timezone: ZoneInfo, cycle_day: int) -> BillPeriod:
    """The period starting on ``YYYY-MM-DD``, or on the cycle day of month ``YYYY-MM``."""
    if len(period_id) == 7:
        year, month = (int(part) for part in period_id.split("-"))
        start = _cycle_date(year, month, cycle_day)
    else:
        start = date.fromisoformat(period_id)
    return bill_period(datetime.combine(start, datetime.min.time(), timezone), timezone, cycle_day)
