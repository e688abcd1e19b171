from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ocs.policy.periods import bill_period, period_by_id

BERLIN = ZoneInfo("Europe/Berlin")


def test_period_starts_on_the_cycle_day_in_local_time() -> None:
    # 2026-11-30 23:30 UTC is already 1 December in Berlin
    period = bill_period(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), BERLIN, 1)
    assert period.id == "2026-12-01"
    assert period.end == datetime(2027, 1, 1, tzinfo=BERLIN)


def test_before_the_cycle_day_belongs_to_the_previous_period() -> None:
    period = bill_period(datetime(2026, 3, 10, 12, tzinfo=UTC), BERLIN, 15)
    assert period.id == "2026-02-15"
    assert period.end.date().isoformat() == "2026-03-15"


def test_cycle_day_past_month_end_clamps() -> None:
    period = bill_period(datetime(2027, 2, 28, 12, tzinfo=UTC), BERLIN, 31)
    assert period.id == "2027-02-28"
    assert period.end.date().isoformat() == "2027-03-31"


def test_period_by_month_id() -> None:
    assert period_by_id("2026-11", BERLIN, 1).id == "2026-11-01"
    assert period_by_id("2026-11", BERLIN, 20).end.date().isoformat() == "2026-12-20"


def test_bad_cycle_day() -> None:
    with pytest.raises(ValueError):
        bill_period(datetime(2026, 1, 1, tzinfo=UTC), BERLIN, 0)
