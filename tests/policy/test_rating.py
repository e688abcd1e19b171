"""Rating: offers, zones, time bands, tiers and zero-rating, from the demo catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ocs.policy.catalog import Catalog, load_catalog
from ocs.policy.grants import grant_policy
from ocs.policy.rating import Rating, Verdict, rate
from ocs.policy.tariff import Segment, cost

BERLIN = ZoneInfo("Europe/Berlin")
# Wednesday 2026-11-25, 19:58:30 in Berlin (UTC+1)
PEAK_END_APPROACHING = datetime(2026, 11, 25, 18, 58, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(Path("config/catalog.toml"))


def rate_at(
    catalog: Catalog, rg: int, offers: tuple[str, ...], network: str | None, now: datetime
) -> Rating:
    return rate(catalog, rg, offers, network, now, BERLIN, "2026-11-01")


def test_payg_data_at_home_is_per_started_mb(catalog: Catalog) -> None:
    rating = rate_at(catalog, 100, ("payg",), "00101", PEAK_END_APPROACHING)
    assert rating.verdict is Verdict.RATED
    assert rating.tariff is not None
    assert rating.tariff.segments == (Segment(0, 1_000_000, 2),)
    assert cost(rating.tariff, 0, 10_500_000) == 22  # 11 started MB at 2 cents


def test_voice_grant_crossing_peak_end_prices_each_block_by_its_start(catalog: Catalog) -> None:
    rating = rate_at(catalog, 200, ("payg",), None, PEAK_END_APPROACHING)
    assert rating.tariff is not None
    # 90 s of peak left: the blocks starting at +0 s and +60 s are peak, then off-peak
    assert rating.tariff.segments[0] == Segment(120, 60, 12)
    assert rating.tariff.segments[1].price == 6
    assert cost(rating.tariff, 0, 200) == 2 * 12 + 2 * 6


def test_voice_at_weekend_is_off_peak(catalog: Catalog) -> None:
    saturday_noon = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    rating = rate_at(catalog, 200, ("payg",), None, saturday_noon)
    assert rating.tariff is not None
    assert rating.tariff.segments[0].price == 6
    # the schedule reaches Monday 08:00 only after the 1-day horizon: off-peak throughout
    assert all(segment.price == 6 for segment in rating.tariff.segments)


def test_voice_schedule_switches_back_to_peak_next_morning(catalog: Catalog) -> None:
    evening = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)  # 21:30 Wednesday Berlin
    rating = rate_at(catalog, 200, ("payg",), None, evening)
    assert rating.tariff is not None
    first, second = rating.tariff.segments[:2]
    assert first.price == 6 and second.price == 12
    assert first.length == int(timedelta(hours=10, minutes=30).total_seconds())


def test_roaming_zone_by_visited_network(catalog: Catalog) -> None:
    eu = rate_at(catalog, 200, ("payg",), "20801", PEAK_END_APPROACHING)
    world = rate_at(catalog, 200, ("payg",), "31026", PEAK_END_APPROACHING)
    assert eu.tariff is not None and eu.tariff.segments == (Segment(0, 60, 9),)
    assert world.tariff is not None and world.tariff.segments == (Segment(0, 60, 99),)


def test_addon_rate_wins_over_the_base_offer(catalog: Catalog) -> None:
    rating = rate_at(catalog, 100, ("payg", "roam_eu"), "21401", PEAK_END_APPROACHING)
    assert rating.rate is not None and rating.rate.offer == "roam_eu"
    assert rating.tariff is not None and rating.tariff.segments == (Segment(0, 1_000_000, 1),)


def test_tiers_name_the_period_counter(catalog: Catalog) -> None:
    rating = rate_at(catalog, 100, ("payg", "bundle_m"), "00101", PEAK_END_APPROACHING)
    assert rating.tariff is not None
    assert rating.tariff.counter == "rg100:2026-11-01"
    assert rating.tariff.segments == (
        Segment(1_000_000_000, 1_000_000, 1),
        Segment(0, 1_000_000, 2),
    )


def test_zero_rated_service(catalog: Catalog) -> None:
    rating = rate_at(catalog, 400, ("payg",), "20801", PEAK_END_APPROACHING)
    assert rating.verdict is Verdict.ZERO_RATED
    assert rating.tariff is None


def test_unknown_rating_group_fails_rating(catalog: Catalog) -> None:
    assert (
        rate_at(catalog, 999, ("payg",), None, PEAK_END_APPROACHING).verdict
        is Verdict.UNKNOWN_SERVICE
    )


def test_service_not_in_any_held_offer_is_denied(catalog: Catalog) -> None:
    # a subscriber holding only the roaming pass has no voice offer
    assert (
        rate_at(catalog, 200, ("roam_eu",), None, PEAK_END_APPROACHING).verdict
        is Verdict.NOT_IN_OFFER
    )


def test_offered_service_without_a_rate_in_the_zone(catalog: Catalog) -> None:
    # video is priced at home only
    assert (
        rate_at(catalog, 500, ("payg",), "20801", PEAK_END_APPROACHING).verdict is Verdict.NO_TARIFF
    )


def test_grant_policy_comes_from_the_service(catalog: Catalog) -> None:
    policy = grant_policy(catalog, catalog.services[100], ("payg", "bundle_s"))
    assert policy.quantum == 10_000_000
    assert policy.units_to_request(None) == 10_000_000
    assert policy.units_to_request(4_000) == 4_000
    assert policy.units_to_request(50_000_000) == 10_000_000
    assert policy.threshold(10_000_000) == 2_000_000
    assert policy.final_unit_action == "redirect"
    assert policy.redirect_url == "http://topup.demo.local/"
