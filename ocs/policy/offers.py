"""From catalog offers to balance buckets: what holding an offer puts in an account."""

from __future__ import annotations

from ocs.balance.model import Bucket, Unit
from ocs.policy.catalog import Catalog

DAY_MS = 86_400_000


def allowance_buckets(catalog: Catalog, offer_id: str, now_ms: int, instance: str) -> list[Bucket]:
    """The allowance buckets of one purchase of ``offer_id``.

    ``instance`` (e.g. the order id) keeps the bucket ids of two purchases of the
    same offer apart: ``<offer>.<allowance>.<instance>``.
    """
    offer = catalog.offer(offer_id)
    if offer is None:
        raise KeyError(f"unknown offer {offer_id!r}")
    buckets = []
    for allowance in offer.allowances:
        groups = sorted(catalog.service_by_name[name].rating_group for name in allowance.services)
        buckets.append(
            Bucket(
                id=f"{offer_id}.{allowance.id}.{instance}",
                unit=Unit(allowance.unit),
                balance=allowance.amount,
                initial=allowance.amount,
                valid_from=now_ms,
                expires=now_ms + allowance.validity_days * DAY_MS,
                priority=allowance.priority,
                applies_to=tuple(groups),
                source=offer_id,
                thresholds=tuple(allowance.thresholds),
                zones=tuple(allowance.zones),
            )
        )
    return buckets
