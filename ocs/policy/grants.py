"""Grant policy: how much quota to offer for a service, for how long, and what happens at the end.

The quantum comes from the catalog's service; a gateway asking for less gets
what it asked for. The balance engine then grants at most what the balance can
pay for, and flags the grant that is the last one the balance allows: that
grant carries the Final-Unit-Indication built from :attr:`GrantPolicy.final_unit_action`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocs.policy.catalog import Catalog, ServiceInfo


@dataclass(frozen=True, slots=True)
class GrantPolicy:
    quantum: int
    validity_seconds: int
    quota_threshold_percent: int
    quota_holding_time: int
    final_unit_action: str
    """``terminate``, ``redirect`` or ``restrict_access``."""
    redirect_url: str
    filter_id: str

    def units_to_request(self, requested: int | None) -> int:
        """Units to try to reserve: the gateway's request, capped at the quantum."""
        if requested is None or requested <= 0:
            return self.quantum
        return min(requested, self.quantum)

    def threshold(self, granted: int) -> int:
        """Volume-/Time-Quota-Threshold: re-request when this much of a grant is left (0 = none)."""
        return granted * self.quota_threshold_percent // 100


_POLICIES: dict[tuple[int, int, tuple[str, ...]], tuple[Catalog, ServiceInfo, GrantPolicy]] = {}


def grant_policy(catalog: Catalog, service: ServiceInfo, offers: Sequence[str]) -> GrantPolicy:
    """The grant policy of a service for the holder of ``offers`` (cached by the identity of
    the catalog and service: hashing the service would hash its whole config)."""
    key = (id(catalog), id(service), tuple(offers))
    entry = _POLICIES.get(key)
    if entry is not None and entry[0] is catalog and entry[1] is service:
        return entry[2]
    policy = _grant_policy(catalog, service, offers)
    if len(_POLICIES) >= 65536:
        _POLICIES.clear()
    _POLICIES[key] = (catalog, service, policy)
    return policy


def _grant_policy(catalog: Catalog, service: ServiceInfo, offers: Sequence[str]) -> GrantPolicy:
    action = service.config.final_unit_action
    for offer_id in catalog.ordered_offers(offers):
        offer = catalog.data.offers[offer_id]
        if (
            offer.final_unit_action
            and service.rating_group in catalog.offer_rating_groups[offer_id]
        ):
            action = offer.final_unit_action
            break
    return GrantPolicy(
        quantum=service.config.quantum,
        validity_seconds=service.config.validity,
        quota_threshold_percent=service.config.quota_threshold,
        quota_holding_time=service.config.quota_holding_time,
        final_unit_action=action,
        redirect_url=catalog.data.top_up_url,
        filter_id=catalog.data.restrict_filter_id,
    )
