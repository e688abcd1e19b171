"""The loaded product catalog: cross-checked, immutable, indexed for the hot path.

``load_catalog(path)`` reads the TOML file (shape in :mod:`ocs.policy.schema`),
checks every reference across entries, and returns a :class:`Catalog`. Any
problem is a :class:`~ocs.errors.ConfigError` naming the file, the path inside
it and what is wrong, e.g.::

    config/catalog.toml: offers.payg.rates[2].service: unknown service 'intenet'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from ocs.config import describe_error, format_location, read_toml
from ocs.errors import ConfigError
from ocs.policy.currency import Currency, currency
from ocs.policy.schema import Allowance, CatalogFile, Offer, Rate, Service, parse_clock, parse_days

HOME = "home"
ANY_ZONE = "any"
_KIND_ORDER = {"addon": 0, "bundle": 1, "base": 2}


@dataclass(frozen=True, slots=True)
class CompiledBand:
    days: frozenset[int]
    start_minute: int
    end_minute: int
    price: int

    def covers(self, weekday: int, minute: float) -> bool:
        return weekday in self.days and self.start_minute <= minute < self.end_minute


@dataclass(frozen=True, slots=True)
class CompiledRate:
    offer: str
    service: str
    rating_group: int
    unit: str
    zone: str
    block: int
    price: int
    bands: tuple[CompiledBand, ...]
    tiers: tuple[tuple[int | None, int], ...]
    zero_rated: bool


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    config: Service

    @property
    def rating_group(self) -> int:
        return self.config.rating_group


class Catalog:
    """Indexes over a validated :class:`CatalogFile`."""

    def __init__(self, data: CatalogFile, source: str) -> None:
        self.data = data
        self.source = source
        self.money = currency(data.currency)
        """The ISO 4217 currency of every price and account."""
        self.minor_digits: int = (
            data.minor_unit_digits if data.minor_unit_digits is not None else self.money.digits
        )
        """Decimal places of the integer money unit (2: amounts are cents)."""
        self.services: dict[int, ServiceInfo] = {
            service.rating_group: ServiceInfo(name, service)
            for name, service in data.services.items()
        }
        self.service_by_name = {info.name: info for info in self.services.values()}
        self.home_networks = frozenset(data.home_networks)
        self.network_zone: dict[str, str] = {
            network: name for name, zone in data.zones.items() for network in zone.networks
        }
        self.default_zone = next((name for name, zone in data.zones.items() if zone.default), None)
        self.rates: dict[tuple[str, int, str], CompiledRate] = {}
        self.offer_rating_groups: dict[str, frozenset[int]] = {}
        for offer_id, offer in data.offers.items():
            groups: set[int] = set()
            for rate in offer.rates:
                compiled = _compile_rate(offer_id, rate, self.service_by_name[rate.service].config)
                self.rates[(offer_id, compiled.rating_group, compiled.zone)] = compiled
                groups.add(compiled.rating_group)
            for allowance in offer.allowances:
                groups.update(
                    self.service_by_name[name].rating_group for name in allowance.services
                )
            self.offer_rating_groups[offer_id] = frozenset(groups)

    @classmethod
    def build(cls, data: CatalogFile, source: str) -> Catalog:
        _cross_check(data, source)
        return cls(data, source)

    @property
    def currency(self) -> str:
        return self.data.currency

    @property
    def currency_code(self) -> int:
        """ISO 4217 numeric code (Diameter Currency-Code)."""
        return self.money.number

    def offer(self, offer_id: str) -> Offer | None:
        return self.data.offers.get(offer_id)

    def default_service(self, service_context_id: str) -> ServiceInfo | None:
        """The service charged for a Service-Context-Id when a request names no rating group."""
        name = self.data.service_contexts.get(service_context_id)
        return self.service_by_name[name] if name is not None else None

    def zone_of(self, visited_network: str | None) -> str | None:
        """``home`` for the home network (or none reported), a zone name, or None if unpriced."""
        if not visited_network or visited_network in self.home_networks:
            return HOME
        return self.network_zone.get(visited_network, self.default_zone)

    def ordered_offers(self, offer_ids: Iterable[str]) -> list[str]:
        """Offers a subscriber holds, most specific first: add-ons, bundles, then the base offer."""
        known = [offer_id for offer_id in offer_ids if offer_id in self.data.offers]
        return sorted(known, key=lambda offer_id: _KIND_ORDER[self.data.offers[offer_id].kind])

    def includes(self, offer_ids: Sequence[str], rating_group: int) -> bool:
        """Whether any of the offers prices or grants an allowance for the rating group."""
        return any(
            rating_group in self.offer_rating_groups.get(offer_id, ()) for offer_id in offer_ids
        )

    def find_rate(
        self, offer_ids: Sequence[str], rating_group: int, zone: str
    ) -> CompiledRate | None:
        """The rate of the first offer (most specific first) pricing this group in the zone."""
        for offer_id in self.ordered_offers(offer_ids):
            rate = self.rates.get((offer_id, rating_group, zone)) or self.rates.get(
                (offer_id, rating_group, ANY_ZONE)
            )
            if rate is not None:
                return rate
        return None


def load_catalog(path: Path) -> Catalog:
    """Read, validate and index a catalog file."""
    raw = read_toml(path)
    try:
        data = CatalogFile.model_validate(raw)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        location = format_location(tuple(error["loc"]))
        raise ConfigError(str(path), location, describe_error(error)) from None
    return Catalog.build(data, source=str(path))


def _compile_rate(offer_id: str, rate: Rate, service: Service) -> CompiledRate:
    bands = tuple(
        CompiledBand(
            days=parse_days(band.days),
            start_minute=_minutes(band.start),
            end_minute=_minutes(band.end),
            price=band.price,
        )
        for band in rate.bands
    )
    return CompiledRate(
        offer=offer_id,
        service=rate.service,
        rating_group=service.rating_group,
        unit=service.unit,
        zone=rate.zone,
        block=rate.block,
        price=rate.price,
        bands=bands,
        tiers=tuple((tier.upto, tier.price) for tier in rate.tiers),
        zero_rated=rate.zero_rated,
    )


def _minutes(clock: str) -> int:
    if clock == "24:00":
        return 24 * 60
    parsed = parse_clock(clock)
    return parsed.hour * 60 + parsed.minute


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, location: Sequence[Any], problem: str) -> None:
        raise ConfigError(self.source, format_location(tuple(location)), problem)


def _check_currency(data: CatalogFile, problems: _Problems) -> Currency | None:
    try:
        found = currency(data.currency)
    except KeyError as exc:
        problems.fail(("currency",), str(exc.args[0]))
        return None
    if data.currency_code is not None and data.currency_code != found.number:
        problems.fail(
            ("currency_code",),
            f"{data.currency} is ISO 4217 number {found.number}, not {data.currency_code}",
        )
    if data.minor_unit_digits is not None and data.minor_unit_digits < found.digits:
        problems.fail(
            ("minor_unit_digits",),
            f"{data.currency}'s minor unit has {found.digits} digits: amounts of "
            f"{data.minor_unit_digits} digits could not hold it",
        )
    return found


def _cross_check(data: CatalogFile, source: str) -> None:
    problems = _Problems(source)
    _check_currency(data, problems)
    seen_groups: dict[int, str] = {}
    for name, service in data.services.items():
        other = seen_groups.setdefault(service.rating_group, name)
        if other != name:
            problems.fail(
                ("services", name, "rating_group"),
                f"rating group {service.rating_group} is already used by service {other!r}",
            )
        _check_action(
            data, service.final_unit_action, ("services", name, "final_unit_action"), problems
        )
    for context, service_name in data.service_contexts.items():
        if service_name not in data.services:
            problems.fail(("service_contexts", context), f"unknown service {service_name!r}")
    _check_zones(data, problems)
    for offer_id, offer in data.offers.items():
        _check_offer(data, offer_id, offer, problems)
    for name, partner in data.partners.items():
        for index, service_name in enumerate(partner.services):
            if service_name not in data.services:
                problems.fail(
                    ("partners", name, "services", index), f"unknown service {service_name!r}"
                )
        rated: set[str] = set()
        for index, rate in enumerate(partner.rates):
            where = ("partners", name, "rates", index, "service")
            if rate.service not in data.services:
                problems.fail(where, f"unknown service {rate.service!r}")
            elif rate.service in rated:
                problems.fail(where, f"service {rate.service!r} has two rates")
            elif partner.kind != "roaming" and rate.service not in partner.services:
                problems.fail(
                    where, f"service {rate.service!r} is not one of the partner's services"
                )
            rated.add(rate.service)
    for name, discount in data.discounts.items():
        for index, service_name in enumerate(discount.services):
            if service_name not in data.services:
                problems.fail(
                    ("discounts", name, "services", index), f"unknown service {service_name!r}"
                )
        for index, offer_id in enumerate(discount.requires):
            if offer_id not in data.offers:
                problems.fail(("discounts", name, "requires", index), f"unknown offer {offer_id!r}")


def _check_zones(data: CatalogFile, problems: _Problems) -> None:
    home = set(data.home_networks)
    owner: dict[str, str] = {}
    defaults = []
    for name, zone in data.zones.items():
        if name in (HOME, ANY_ZONE):
            problems.fail(("zones", name), f"{name!r} is reserved; choose another zone name")
        if zone.default:
            defaults.append(name)
        for index, network in enumerate(zone.networks):
            if network in home:
                problems.fail(("zones", name, "networks", index), f"{network} is a home network")
            other = owner.setdefault(network, name)
            if other != name:
                problems.fail(
                    ("zones", name, "networks", index), f"{network} is already in zone {other!r}"
                )
    if len(defaults) > 1:
        problems.fail(
            ("zones", defaults[1], "default"), f"zone {defaults[0]!r} is already the default"
        )


def _check_offer(data: CatalogFile, offer_id: str, offer: Offer, problems: _Problems) -> None:
    where = ("offers", offer_id)
    seen: set[tuple[str, str]] = set()
    for index, rate in enumerate(offer.rates):
        at = (*where, "rates", index)
        service = data.services.get(rate.service)
        if service is None:
            problems.fail((*at, "service"), f"unknown service {rate.service!r}")
            continue
        if rate.zone not in (HOME, ANY_ZONE) and rate.zone not in data.zones:
            problems.fail((*at, "zone"), f"unknown zone {rate.zone!r}")
        if (rate.service, rate.zone) in seen:
            problems.fail(at, f"a second rate for service {rate.service!r} in zone {rate.zone!r}")
        seen.add((rate.service, rate.zone))
        _check_rate(rate, at, problems)
    for index, allowance in enumerate(offer.allowances):
        _check_allowance(data, allowance, (*where, "allowances", index), problems)
    _check_action(data, offer.final_unit_action, (*where, "final_unit_action"), problems)


def _check_rate(rate: Rate, at: tuple[Any, ...], problems: _Problems) -> None:
    if rate.zero_rated and (rate.price or rate.bands or rate.tiers):
        problems.fail(at, "a zero-rated rate has no price, bands or tiers")
    if rate.bands and rate.tiers:
        problems.fail(at, "a rate has either time bands or tiers, not both")
    for index, band in enumerate(rate.bands):
        if _minutes(band.start) >= _minutes(band.end):
            problems.fail(
                (*at, "bands", index), f"band starts at {band.start}, not before {band.end}"
            )
    for first in range(len(rate.bands)):
        for second in range(first + 1, len(rate.bands)):
            a, b = rate.bands[first], rate.bands[second]
            overlap_days = parse_days(a.days) & parse_days(b.days)
            if (
                overlap_days
                and _minutes(a.start) < _minutes(b.end)
                and _minutes(b.start) < _minutes(a.end)
            ):
                problems.fail((*at, "bands", second), f"overlaps band {first}")
    previous = 0
    for index, tier in enumerate(rate.tiers):
        last = index == len(rate.tiers) - 1
        if (tier.upto is None) != last:
            problems.fail((*at, "tiers", index), "only the last tier has no 'upto'")
        if tier.upto is not None and tier.upto <= previous:
            problems.fail(
                (*at, "tiers", index, "upto"), f"must be above the previous tier's {previous}"
            )
        previous = tier.upto or previous


def _check_allowance(
    data: CatalogFile, allowance: Allowance, at: tuple[Any, ...], problems: _Problems
) -> None:
    if not allowance.services:
        problems.fail((*at, "services"), "an allowance applies to at least one service")
    for index, service_name in enumerate(allowance.services):
        service = data.services.get(service_name)
        if service is None:
            problems.fail((*at, "services", index), f"unknown service {service_name!r}")
        elif service.unit != allowance.unit:
            problems.fail(
                (*at, "services", index),
                f"service {service_name!r} is measured in {service.unit}, "
                f"the allowance in {allowance.unit}",
            )
    for index, zone in enumerate(allowance.zones):
        if zone != HOME and zone not in data.zones:
            problems.fail((*at, "zones", index), f"unknown zone {zone!r} (home or a zone name)")


def _check_action(
    data: CatalogFile, action: str | None, at: tuple[Any, ...], problems: _Problems
) -> None:
    if action == "redirect" and not data.top_up_url:
        problems.fail(at, "redirect needs top_up_url at the top of the catalog")
    if action == "restrict_access" and not data.restrict_filter_id:
        problems.fail(at, "restrict_access needs restrict_filter_id at the top of the catalog")
