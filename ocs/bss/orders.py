"""Buying an offer from the catalog (the portal's "buy a bundle", TMF622 product orders).

Fulfilment is :class:`ocs.api.orders.Orders` (charge, buckets, offers, re-authorization,
resumable by the order id). Who may: care and admin for any subscriber (any offer); a
subscriber for itself, bundles and add-ons only, paid from its own wallet. (The gRPC
``PurchaseOffer`` stays admin-only: it is the provisioning interface.)"""

from __future__ import annotations

from ocs.api.auth import Principal, Role
from ocs.api.errors import invalid, not_found, permission_denied
from ocs.api.orders import Order, check_order_id
from ocs.bss.access import SELF_CARE, actor, require, require_account
from ocs.bss.context import Services


async def purchase(
    s: Services,
    principal: Principal,
    account_id: str,
    offer_id: str,
    order_id: str,
    subscriber_id: str = "",
) -> Order:
    require(principal, SELF_CARE)
    require_account(principal, account_id)
    check_order_id(order_id)
    offer = s.catalog.offer(offer_id) if offer_id else None
    if offer is None:
        raise (
            not_found("offer", offer_id, "offer_id")
            if offer_id
            else invalid("offer_id", "required")
        )
    if principal.role is Role.SUBSCRIBER and offer.kind == "base":
        raise permission_denied("a base offer is changed by care")
    account = await s.store.get_account(account_id)
    if account is None:
        raise not_found("account", account_id, "account_id")
    if not subscriber_id:
        if not account.subscribers:
            raise invalid("subscriber_id", "the account has no subscriber")
        subscriber_id = account.subscribers[0]
    subscriber = await s.store.get_subscriber(subscriber_id)
    if subscriber is None or subscriber.account_id != account_id:
        raise not_found("subscriber", subscriber_id, "subscriber_id")
    return await s.orders.purchase(order_id, subscriber, offer_id, actor=actor(principal))
