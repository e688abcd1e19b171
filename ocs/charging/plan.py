"""Per-item decisions before and after the balance call.

``plan_item`` rates one usage item (rating group) and decides what to ask the
balance engine: commit used units, reserve the next grant, or nothing. Items
the core can answer alone (unknown service, not in the offer, zero-rated) get
their answer here. ``answer_item`` turns the engine's item result into the
answer the gateway sees: granted units, validity, thresholds and, for the last
grant the balance allows, the Final-Unit-Indication (RFC 8506 §5.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ocs.balance.model import ItemResult, Outcome, SessionItem
from ocs.charging.profiles import Profile
from ocs.charging.types import (
    FinalUnit,
    FinalUnitAction,
    ItemAnswer,
    RequestType,
    ResultCode,
    ServiceUnits,
    UsageItem,
)
from ocs.policy.catalog import Catalog, ServiceInfo
from ocs.policy.grants import GrantPolicy, grant_policy
from ocs.policy.rating import Rating, Verdict, rate
from ocs.policy.tariff import flat

_ACTIONS = {
    "terminate": FinalUnitAction.TERMINATE,
    "redirect": FinalUnitAction.REDIRECT,
    "restrict_access": FinalUnitAction.RESTRICT_ACCESS,
}

_VERDICT_CODES = {
    Verdict.UNKNOWN_SERVICE: ResultCode.RATING_FAILED,
    Verdict.NO_TARIFF: ResultCode.RATING_FAILED,
    Verdict.NOT_IN_OFFER: ResultCode.END_USER_SERVICE_DENIED,
    Verdict.ZERO_RATED: ResultCode.CREDIT_CONTROL_NOT_APPLICABLE,
}


@dataclass(slots=True)
class PlannedItem:
    request: UsageItem
    rating_group: int | None
    service: ServiceInfo | None
    rating: Rating | None
    policy: GrantPolicy | None
    used: int
    answer: ItemAnswer | None = None
    """Decided without the balance engine (the engine may still commit used units)."""
    balance_item: SessionItem | None = None
    result: ItemResult | None = None
    """The engine's answer for ``balance_item`` (None: not asked, or not answered yet)."""


def rating_group_of(catalog: Catalog, item: UsageItem, service_context_id: str) -> int | None:
    """The item's Rating-Group, else its service context's default service, else None."""
    if item.rating_group is not None:
        return item.rating_group
    default = catalog.default_service(service_context_id)
    return default.rating_group if default is not None else None


def used_units(item: UsageItem, unit: str) -> int:
    return sum(units.amount(unit) or 0 for units in item.used)


def plan_item(
    catalog: Catalog,
    profile: Profile,
    item: UsageItem,
    request_type: RequestType,
    service_context_id: str,
    visited_network: str | None,
    now: datetime,
    period_id: str,
    grace_ms: int,
) -> PlannedItem:
    rating_group = rating_group_of(catalog, item, service_context_id)
    if rating_group is None:
        answer = ItemAnswer(None, item.service_id, ResultCode.RATING_FAILED)
        return PlannedItem(item, None, None, None, None, 0, answer=answer)
    rating = rate(
        catalog, rating_group, profile.offers, visited_network, now, profile.timezone, period_id
    )
    service = rating.service
    if service is None:
        answer = ItemAnswer(rating_group, item.service_id, ResultCode.RATING_FAILED)
        return PlannedItem(item, rating_group, None, rating, None, 0, answer=answer)
    unit = service.config.unit
    used = used_units(item, unit)
    policy = grant_policy(catalog, service, profile.offers)
    planned = PlannedItem(item, rating_group, service, rating, policy, used)
    wants_quota = item.requested is not None and request_type is not RequestType.TERMINATE
    if rating.verdict is not Verdict.RATED or rating.tariff is None:
        planned.answer = ItemAnswer(rating_group, item.service_id, _VERDICT_CODES[rating.verdict])
        if used:
            # Units used under an earlier grant are still committed at that grant's price;
            # without a holding there is nothing to charge for a service that no longer rates.
            planned.balance_item = SessionItem(
                rating_group=rating_group,
                service_id=item.service_id,
                used=used,
                requested=0,
                tariff=flat(unit, 1, 0),  # never priced: held_only
                validity_ms=policy.validity_seconds * 1000,
                grace_ms=grace_ms,
                reserve=False,
                held_only=True,
            )
        return planned
    requested = policy.units_to_request(item.requested.amount(unit) if item.requested else None)
    planned.balance_item = SessionItem(
        rating_group=rating_group,
        service_id=item.service_id,
        used=used,
        requested=requested if wants_quota else 0,
        tariff=rating.tariff,
        validity_ms=policy.validity_seconds * 1000,
        grace_ms=grace_ms,
        reserve=wants_quota,
        zone=rating.zone,
    )
    return planned


def answer_item(planned: PlannedItem, result: ItemResult | None) -> ItemAnswer:
    """The answer for one item, from the engine's result (None: the engine was not asked)."""
    if planned.answer is not None:
        return planned.answer
    assert planned.policy is not None and planned.service is not None
    policy = planned.policy
    unit = planned.service.config.unit
    rating_group, service_id = planned.rating_group, planned.request.service_id
    if result is None:
        return ItemAnswer(rating_group, service_id, ResultCode.UNABLE_TO_COMPLY)
    if result.outcome is Outcome.DENIED:
        return ItemAnswer(rating_group, service_id, ResultCode.END_USER_SERVICE_DENIED)
    if result.outcome is Outcome.NO_CREDIT:
        final_unit = _final_unit(policy)
        if final_unit.action is FinalUnitAction.TERMINATE:
            return ItemAnswer(rating_group, service_id, ResultCode.CREDIT_LIMIT_REACHED)
        # Redirect / restrict from the first request without credit (RFC 8506 §5.6.2):
        # no grant, the action and how long it applies.
        return ItemAnswer(
            rating_group,
            service_id,
            ResultCode.CREDIT_LIMIT_REACHED,
            validity_time=policy.validity_seconds,
            final_unit=final_unit,
        )
    if result.outcome is not Outcome.OK:
        return ItemAnswer(rating_group, service_id, ResultCode.UNABLE_TO_COMPLY)
    if result.granted > 0:
        threshold = policy.threshold(result.granted)
        return ItemAnswer(
            rating_group,
            service_id,
            ResultCode.SUCCESS,
            granted=ServiceUnits.of(unit, result.granted),
            validity_time=policy.validity_seconds,
            quota_threshold=threshold or None,
            quota_holding_time=policy.quota_holding_time or None,
            final_unit=_final_unit(policy) if result.final else None,
        )
    if result.was_final and planned.used:
        # The final units were used and the action started: deduct, no new reservation,
        # and say how long the subscriber may stay redirected/restricted (RFC 8506 §5.6.2).
        return ItemAnswer(
            rating_group, service_id, ResultCode.SUCCESS, validity_time=policy.validity_seconds
        )
    return ItemAnswer(rating_group, service_id, ResultCode.SUCCESS)


def _final_unit(policy: GrantPolicy) -> FinalUnit:
    action = _ACTIONS[policy.final_unit_action]
    if action is FinalUnitAction.REDIRECT:
        return FinalUnit(action, redirect_url=policy.redirect_url)
    if action is FinalUnitAction.RESTRICT_ACCESS:
        return FinalUnit(action, filter_id=policy.filter_id)
    return FinalUnit(action)
