"""Rating: from a rating group, the subscriber's offers, where they are and when, to a tariff.

A pure function over the in-memory catalog: no I/O, and the clock is an
argument, so the same inputs always rate the same way.

- The zone comes from the visited network (3GPP-SGSN-MCC-MNC): home, a roaming
  zone, or the default zone; an unpriced network rates as NO_TARIFF.
- The rate is the first one found in the subscriber's offers, most specific
  first (add-ons, bundles, base), for the zone or for ``any`` zone.
- Time bands are in the account's time zone. For time units (seconds) the
  tariff is a schedule from *now*: a block is priced at the band in force when
  it starts, so a grant that crosses 20:00 is priced peak up to the last block
  starting before 20:00 and off-peak after. Other units take the band in force
  now for the whole grant.
- Tiers price by cumulative usage in the bill period: the tariff names the
  period counter and the balance engine adds the counter's value.

Ratings that do not depend on the time of day are cached (the catalog is
immutable), so a CCR-UPDATE of a flat or tiered rating group costs a few dict
lookups.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ocs.policy.catalog import Catalog, CompiledRate, ServiceInfo
from ocs.policy.tariff import Segment, Tariff, Unit

# Band schedules for time units reach this far ahead; beyond it the last price holds.
SCHEDULE_HORIZON = timedelta(days=1)
_UTC = ZoneInfo("UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Verdict(enum.Enum):
    RATED = "rated"
    ZERO_RATED = "zero_rated"
    """Free: no credit control needed (Diameter 4011)."""
    UNKNOWN_SERVICE = "unknown_service"
    """The rating group is not in the catalog (5031 RATING_FAILED)."""
    NOT_IN_OFFER = "not_in_offer"
    """None of the subscriber's offers includes the service (4010 END_USER_SERVICE_DENIED)."""
    NO_TARIFF = "no_tariff"
    """The service is offered but not priced where the subscriber is (5031 RATING_FAILED)."""


@dataclass(frozen=True, slots=True)
class Rating:
    verdict: Verdict
    service: ServiceInfo | None = None
    rate: CompiledRate | None = None
    tariff: Tariff | None = None
    zone: str = "home"
    """Where the subscriber is: ``home`` or a roaming zone (allowances may be limited to
    zones)."""


def rate(
    catalog: Catalog,
    rating_group: int,
    offers: tuple[str, ...],
    visited_network: str | None,
    now: datetime,
    timezone: ZoneInfo,
    period_id: str,
) -> Rating:
    """Rate one rating group for a subscriber at ``now`` (aware)."""
    found = _lookup(catalog, rating_group, offers, visited_network)
    if found.verdict is not Verdict.RATED or found.rate is None:
        return found
    if not found.rate.bands:
        return _rated(found, period_id if found.rate.tiers else "")
    return Rating(
        Verdict.RATED,
        found.service,
        found.rate,
        tariff_of(found.rate, now, timezone, period_id),
        found.zone,
    )


@functools.lru_cache(maxsize=65536)
def _lookup(
    catalog: Catalog, rating_group: int, offers: tuple[str, ...], visited_network: str | None
) -> Rating:
    """The verdict and rate, without a tariff: depends on nothing but the arguments (cached)."""
    service = catalog.services.get(rating_group)
    if service is None:
        return Rating(Verdict.UNKNOWN_SERVICE)
    if not catalog.includes(offers, rating_group):
        return Rating(Verdict.NOT_IN_OFFER, service)
    zone = catalog.zone_of(visited_network)
    found = catalog.find_rate(offers, rating_group, zone) if zone is not None else None
    if found is None or zone is None:
        return Rating(Verdict.NO_TARIFF, service)
    if found.zero_rated:
        return Rating(Verdict.ZERO_RATED, service, found, zone=zone)
    return Rating(Verdict.RATED, service, found, zone=zone)


_RATED: dict[tuple[int, str], tuple[Rating, Rating]] = {}


def _rated(found: Rating, period_id: str) -> Rating:
    """A rating whose tariff does not depend on the time of day (cached per period).

    Keyed by the identity of ``found`` (hashing it would hash the service's whole
    config); the entry keeps ``found`` alive and is checked, so a recycled id never
    matches."""
    key = (id(found), period_id)
    entry = _RATED.get(key)
    if entry is not None and entry[0] is found:
        return entry[1]
    assert found.rate is not None
    tariff = tariff_of(found.rate, _EPOCH, _UTC, period_id)
    rated = Rating(Verdict.RATED, found.service, found.rate, tariff, found.zone)
    if len(_RATED) >= 65536:
        _RATED.clear()
    _RATED[key] = (found, rated)
    return rated


def tariff_of(rate: CompiledRate, now: datetime, timezone: ZoneInfo, period_id: str) -> Tariff:
    unit = Unit(rate.unit)
    if rate.tiers:
        return _tiered(rate, unit, period_id)
    if not rate.bands:
        return Tariff(unit, (Segment(0, rate.block, rate.price),))
    local = now.astimezone(timezone)
    if unit != "seconds":
        return Tariff(unit, (Segment(0, rate.block, price_at(rate, local)),))
    return Tariff(unit, _band_schedule(rate, local))


def price_at(rate: CompiledRate, local: datetime) -> int:
    """The per-block price in force at a local time."""
    minute = local.hour * 60 + local.minute + local.second / 60
    weekday = local.weekday()
    for band in rate.bands:
        if band.covers(weekday, minute):
            return band.price
    return rate.price


def _tiered(rate: CompiledRate, unit: Unit, period_id: str) -> Tariff:
    segments: list[Segment] = []
    previous = 0
    for upto, price in rate.tiers:
        length = 0 if upto is None else upto - previous
        segments.append(Segment(length, rate.block, price))
        previous = upto or previous
    return Tariff(unit, tuple(segments), counter=f"rg{rate.rating_group}:{period_id}")


def _boundaries(rate: CompiledRate, local: datetime, until: datetime) -> list[datetime]:
    """Every band start/end instant in ``(local, until]``, sorted."""
    instants: set[datetime] = set()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= until:
        for band in rate.bands:
            for minute in (band.start_minute, band.end_minute):
                instant = (day.replace(tzinfo=None) + timedelta(minutes=minute)).replace(
                    tzinfo=local.tzinfo
                )
                if local < instant <= until:
                    instants.add(instant)
        day = (day.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=local.tzinfo)
    return sorted(instants)


def _band_schedule(rate: CompiledRate, local: datetime) -> tuple[Segment, ...]:
    block = rate.block
    until = local + SCHEDULE_HORIZON
    boundaries = _boundaries(rate, local, until)
    segments: list[Segment] = []
    offset = 0
    while True:
        start = local + timedelta(seconds=offset)
        price = price_at(rate, start)
        change = next(
            (
                instant
                for instant in boundaries
                if instant > start and price_at(rate, instant) != price
            ),
            None,
        )
        if change is None:
            segments.append(Segment(0, block, price))
            break
        span = _ceil_seconds(change - start)
        length = -(-span // block) * block  # blocks that start before the change keep this price
        if segments and segments[-1].price == price:
            previous = segments.pop()
            length += previous.length
        segments.append(Segment(length, block, price))
        offset += _ceil_to_block(span, block)
    return tuple(segments)


def _ceil_seconds(delta: timedelta) -> int:
    whole = int(delta.total_seconds())
    return whole + (1 if delta > timedelta(seconds=whole) else 0)


def _ceil_to_block(units: int, block: int) -> int:
    return -(-units // block) * block
