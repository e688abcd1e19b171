"""The catalog file's shape: services, zones, offers, rates, partners, discounts.

Field-level checks live here (types, ranges, formats); checks across entries
(a rate naming an unknown service, overlapping zones) are in
:mod:`ocs.policy.catalog`, which builds the indexed catalog from this.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from ocs.policy.tariff import MAX_EXACT

Amount = Annotated[StrictInt, Field(ge=0, le=MAX_EXACT)]
Positive = Annotated[StrictInt, Field(ge=1, le=MAX_EXACT)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
FinalUnitAction = Literal["terminate", "redirect", "restrict_access"]

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_MCC_MNC = re.compile(r"^\d{5,6}$")


def parse_days(text: str) -> frozenset[int]:
    """``"mon-fri"``, ``"sat,sun"``, ``"mon-wed,fri"`` -> ISO weekday numbers 0..6 (Monday 0)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"days must look like 'mon-fri' or 'sat,sun', got {text!r}")
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        if end < start:
            raise ValueError(f"day range {part!r} runs backwards")
        days.update(range(start, end + 1))
    return frozenset(days)


def parse_clock(text: str) -> time:
    """``"08:00"`` -> 08:00; ``"24:00"`` is the end of the day (time.max)."""
    if text == "24:00":
        return time.max
    match = re.fullmatch(r"(\d{2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"time must be HH:MM (00:00-24:00), got {text!r}")
    return time(int(match[1]), int(match[2]))


def _check_days(text: str) -> str:
    parse_days(text)
    return text


def _check_clock(text: str) -> str:
    parse_clock(text)
    return text


def _check_network(text: str) -> str:
    if not _MCC_MNC.match(text):
        raise ValueError(f"network must be an MCC-MNC of 5 or 6 digits, got {text!r}")
    return text


Days = Annotated[str, AfterValidator(_check_days)]
Clock = Annotated[str, AfterValidator(_check_clock)]
Network = Annotated[str, AfterValidator(_check_network)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(Model):
    """A rating group: what it measures and how quota is granted for it."""

    rating_group: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]
    unit: Literal["octets", "seconds", "units"]
    quantum: Positive
    """Units granted per reservation (the Granted-Service-Unit size)."""
    validity: Positive = 3600
    """Seconds a grant is valid (Validity-Time)."""
    quota_threshold: Annotated[StrictInt, Field(ge=0, le=100)] = 0
    """Percent of a grant left when the gateway re-requests (Volume/Time-Quota-Threshold)."""
    quota_holding_time: Annotated[StrictInt, Field(ge=0)] = 0
    """Seconds of idleness before the gateway returns the quota; 0 = not sent."""
    final_unit_action: FinalUnitAction = "terminate"
    description: str = ""


class Zone(Model):
    """A roaming zone: visited networks (MCC-MNC of 3GPP-SGSN-MCC-MNC) that price alike."""

    networks: list[Network] = []
    default: StrictBool = False
    """The zone of every visited network not home and not listed elsewhere."""


class Band(Model):
    """A time-of-day / day-of-week price, in the account's time zone."""

    days: Days = "mon-sun"
    start: Clock = Field("00:00", alias="from")
    end: Clock = Field("24:00", alias="to")
    price: Amount

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Tier(Model):
    """A price that holds while period usage (in the rate's unit) is below ``upto``."""

    upto: Positive | None = None
    price: Amount


class Rate(Model):
    service: Name
    zone: Name = "home"
    """``home``, a zone name, or ``any``."""
    block: Positive = 1
    """Units per started block: 1_000_000 = per started MB, 60 = per started minute."""
    price: Amount = 0
    """Minor units per started block (outside every band)."""
    bands: list[Band] = []
    tiers: list[Tier] = []
    zero_rated: StrictBool = False


class Allowance(Model):
    id: Name
    unit: Literal["octets", "seconds", "units"]
    amount: Positive
    services: list[Name]
    validity_days: Positive = 30
    priority: Annotated[StrictInt, Field(ge=0, le=1000)] = 10
    thresholds: list[Annotated[StrictInt, Field(ge=1, le=100)]] = [80, 100]
    zones: list[Name] = []
    """Where the allowance may be used: ``home`` and zone names (empty: everywhere). A bucket
    pays only for usage rated in one of its zones; outside them the tariff applies."""


class Offer(Model):
    name: str
    kind: Literal["base", "bundle", "addon"] = "bundle"
    """A subscriber holds one base offer and any number of bundles / add-ons."""
    price: Amount = 0
    """One-time charge on purchase (minor units)."""
    recurring_fee: Amount = 0
    """Charged from the wallet at the start of every bill period while the offer is held (its
    allowances renewed with it); shown on statements and invoices as a recurring fee."""
    price_covers_first_period: StrictBool = True
    """Whether the purchase price pays for the bill period the offer is bought in. True: no
    recurring fee for that period (the first fee is charged when the next period starts).
    False: buying charges the price and that period's recurring fee."""
    allowances: list[Allowance] = []
    rates: list[Rate] = []
    final_unit_action: FinalUnitAction | None = None
    """Overrides the service's action for holders of this offer."""


class PartnerRate(Model):
    """A wholesale price for a service's traffic: ``price`` per started ``block`` of units,
    counted on the period's total (e.g. an IOT or MVNO host rate per MB)."""

    service: Name
    block: Positive = 1
    price: Amount
    """Minor units per started block (required: a rate that owes nothing is a mistake)."""


class Partner(Model):
    name: str
    kind: Literal["roaming", "content", "wholesale"]
    networks: list[Network] = []
    """Roaming partners: visited networks they operate."""
    services: list[Name] = []
    """Content partners: services whose revenue is shared."""
    share_percent: Annotated[StrictInt, Field(ge=0, le=100)] = 0
    """Percent of the gross amount owed to the partner."""
    rates: list[PartnerRate] = []
    """Per-unit prices owed for the partner's traffic (whatever the subscriber paid: usage
    from allowances costs the operator too), on top of the share."""


class Discount(Model):
    """``percent`` off the charges of ``services`` for holders of every offer in ``requires``."""

    name: str
    percent: Annotated[StrictInt, Field(ge=1, le=100)]
    services: list[Name]
    requires: list[Name]


class CatalogFile(Model):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    """ISO 4217 alphabetic code of every price (and every account)."""
    currency_code: Annotated[StrictInt, Field(ge=1, le=999)] | None = None
    """ISO 4217 numeric code (Currency-Code on the wire); if given it must be the currency's."""
    minor_unit_digits: Annotated[StrictInt, Field(ge=0, le=6)] | None = None
    """Decimal places of the integer money unit: the currency's ISO 4217 minor unit (2 for
    EUR: cents) unless set; a finer unit (more digits) is allowed, a coarser one is not."""
    home_networks: list[Network]
    top_up_url: str = ""
    """Redirect-Server address for REDIRECT final-unit actions."""
    restrict_filter_id: str = ""
    """Filter-Id for RESTRICT_ACCESS final-unit actions."""
    tax_percent: Annotated[StrictInt, Field(ge=0, le=100)] = 0
    services: dict[Name, Service]
    service_contexts: dict[str, Name] = {}
    """Service-Context-Id -> the service charged when a request names no rating group."""
    zones: dict[Name, Zone] = {}
    offers: dict[Name, Offer]
    partners: dict[Name, Partner] = {}
    discounts: dict[Name, Discount] = {}
