"""TMF620 Product Catalog (offers a subscriber can buy: prices, allowances, zones), TMF622
Product Ordering (buy one: ocs.bss.orders, the fulfilment of ocs.api.orders) and TMF635
Usage (charged usage of an account, from the billing ledger: paged, by date and service)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from ocs.api.auth import Principal
from ocs.api.errors import invalid, not_found
from ocs.api.orders import Order, check_order_id
from ocs.bss.access import SELF_CARE, require, require_account
from ocs.bss.context import Services
from ocs.bss.orders import purchase
from ocs.tmf.http import (
    Route,
    iso,
    json_response,
    money_out,
    paged,
    paging,
    parse_time,
    read_json,
    text_field,
)

CATALOG = "/tmf-api/productCatalogManagement/v4"
ORDERING = "/tmf-api/productOrderingManagement/v4"
USAGE = "/tmf-api/usageManagement/v4"
ORDER_STATE = {"accepted": "inProgress", "completed": "completed", "failed": "failed"}


class CatalogApi:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[Route]:
        roles = "subscriber, care, admin"
        return [
            Route(
                "GET",
                f"{CATALOG}/productOffering",
                "listProductOffering",
                "TMF620 Product Catalog",
                "Offers with prices, allowances and zones",
                self.offerings,
                {200: "[TMF620.ProductOffering]"},
                query=("lifecycleStatus", "offset", "limit"),
                roles=roles,
            ),
            Route(
                "GET",
                f"{CATALOG}/productOffering/{{id}}",
                "retrieveProductOffering",
                "TMF620 Product Catalog",
                "One offer",
                self.offering,
                {200: "TMF620.ProductOffering"},
                roles=roles,
            ),
            Route(
                "GET",
                f"{CATALOG}/productOfferingPrice/{{id}}",
                "retrieveProductOfferingPrice",
                "TMF620 Product Catalog",
                "An offer's price",
                self.price,
                {200: "TMF620.ProductOfferingPrice"},
                roles=roles,
            ),
            Route(
                "POST",
                f"{ORDERING}/productOrder",
                "createProductOrder",
                "TMF622 Product Ordering",
                "Buy an offer (externalId or Idempotency-Key: the order id, reused on retry)",
                self.order,
                {201: "TMF622.ProductOrder"},
                body="TMF622.ProductOrder_Create",
                query=("Idempotency-Key",),
                roles="subscriber (own account, bundles and add-ons), care, admin",
            ),
            Route(
                "GET",
                f"{ORDERING}/productOrder/{{id}}",
                "retrieveProductOrder",
                "TMF622 Product Ordering",
                "An order's state",
                self.get_order,
                {200: "TMF622.ProductOrder"},
                roles="subscriber (own), care, admin",
            ),
            Route(
                "GET",
                f"{USAGE}/usage",
                "listUsage",
                "TMF635 Usage Management",
                "Charged usage of an account, newest first",
                self.usage,
                {200: "[TMF635.Usage]"},
                query=(
                    "relatedParty.id",
                    "usageDate.gt",
                    "usageDate.lt",
                    "usageType",
                    "offset",
                    "limit",
                ),
                roles="subscriber (own account), care, admin",
            ),
        ]

    def _offering(self, offer_id: str) -> dict[str, Any]:
        offer = self.s.catalog.offer(offer_id)
        if offer is None:
            raise not_found("offer", offer_id, "id")
        zones = sorted({r.zone for r in offer.rates}) or ["home"]
        return {
            "@type": "ProductOffering",
            "id": offer_id,
            "href": f"{CATALOG}/productOffering/{offer_id}",
            "name": offer.name,
            "description": ", ".join(
                f"{a.amount} {a.unit} of {'/'.join(a.services)} for {a.validity_days} days"
                for a in offer.allowances
            )
            or "rates only",
            "isBundle": offer.kind == "bundle",
            "isSellable": offer.kind != "base",
            "lifecycleStatus": "Launched",
            "category": [{"id": offer.kind, "name": offer.kind}],
            "productOfferingPrice": [
                {
                    "id": f"{offer_id}.price",
                    "name": "one-time price",
                    "href": f"{CATALOG}/productOfferingPrice/{offer_id}.price",
                },
                {
                    "id": f"{offer_id}.recurring",
                    "name": "recurring fee per bill cycle",
                    "href": f"{CATALOG}/productOfferingPrice/{offer_id}.recurring",
                },
            ],
            "place": [
                {"id": zone, "name": f"zone {zone}", "@referredType": "GeographicZone"}
                for zone in zones
            ],
            "prodSpecCharValueUse": [
                {
                    "name": f"{a.id} allowance",
                    "valueType": a.unit,
                    "productSpecCharacteristicValue": [
                        {"value": a.amount, "unitOfMeasure": a.unit, "valueType": "integer"}
                    ],
                    "description": f"for {', '.join(a.services)}, valid {a.validity_days} days",
                }
                for a in offer.allowances
            ],
        }

    async def offerings(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, SELF_CARE)
        offset, limit = paging(request)
        items = [self._offering(o) for o in sorted(self.s.catalog.data.offers)]
        return paged(items[offset : offset + limit], len(items))

    async def offering(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, SELF_CARE)
        return json_response(self._offering(request.match_info["id"]))

    async def price(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, SELF_CARE)
        offer_id, _, kind = request.match_info["id"].rpartition(".")
        offer = self.s.catalog.offer(offer_id)
        if offer is None or kind not in ("price", "recurring"):
            raise not_found("price", request.match_info["id"], "id")
        amount = offer.price if kind == "price" else offer.recurring_fee
        return json_response(
            {
                "@type": "ProductOfferingPrice",
                "id": f"{offer_id}.{kind}",
                "href": f"{CATALOG}/productOfferingPrice/{offer_id}.{kind}",
                "name": f"{offer.name}: {'one-time price' if kind == 'price' else 'recurring fee'}",
                "priceType": "oneTime" if kind == "price" else "recurring",
                "recurringChargePeriodType": "billCycle" if kind == "recurring" else "none",
                "price": money_out(amount, self.s.currency, self.s.digits),
                "isBundle": False,
                "lifecycleStatus": "Launched",
            }
        )

    def _order_json(self, order: Order) -> dict[str, Any]:
        offer = self.s.catalog.offer(order.offer_id)
        return {
            "@type": "ProductOrder",
            "id": order.order_id,
            "href": f"{ORDERING}/productOrder/{order.order_id}",
            "externalId": order.order_id,
            "state": ORDER_STATE[order.state.value],
            "orderDate": iso(order.created_ms),
            **({"completionDate": iso(order.completed_ms)} if order.completed_ms else {}),
            "billingAccount": {"id": order.account_id, "@referredType": "BillingAccount"},
            "description": order.failure or f"{order.kind} of {order.offer_id}",
            "orderTotalPrice": [
                {
                    "priceType": "oneTime",
                    "name": "charged",
                    "price": {
                        "taxIncludedAmount": money_out(
                            order.charged, self.s.currency, self.s.digits
                        )
                    },
                }
            ],
            "productOrderItem": [
                {
                    "id": "1",
                    "action": "add" if order.kind == "purchase" else "delete",
                    "state": ORDER_STATE[order.state.value],
                    "quantity": 1,
                    "productOffering": {
                        "id": order.offer_id,
                        "name": offer.name if offer else "",
                        "href": f"{CATALOG}/productOffering/{order.offer_id}",
                    },
                }
            ],
        }

    async def order(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        body = await read_json(request)
        items = body.get("productOrderItem")
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise invalid(
                "productOrderItem", "exactly one item: {id, action: add, productOffering: {id}}"
            )
        item = items[0]
        if item.get("action", "add") != "add":
            raise invalid("productOrderItem[0].action", "only add (buy an offer)")
        offering = item.get("productOffering")
        if not isinstance(offering, dict):
            raise invalid("productOrderItem[0].productOffering", "required: {id}")
        offer_id = text_field(offering, "id", required=True, limit=128)
        account_ref = body.get("billingAccount")
        account = str(account_ref.get("id", "")) if isinstance(account_ref, dict) else ""
        if not account:
            account = principal.account_id
        if not account:
            raise invalid("billingAccount.id", "required")
        order_id = (
            text_field(body, "externalId", limit=128)
            or request.headers.get("Idempotency-Key", "").strip()
            or f"tmf:{uuid.uuid4().hex}"
        )
        check_order_id(order_id)
        existing = await self.s.orders.get(order_id)
        made = await purchase(self.s, principal, account, offer_id, order_id)
        return json_response(self._order_json(made), 200 if existing else 201)

    async def get_order(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, SELF_CARE)
        order = await self.s.orders.get(check_order_id(request.match_info["id"]))
        if order is None:
            raise not_found("order", request.match_info["id"], "id")
        require_account(principal, order.account_id)
        return json_response(self._order_json(order))

    async def usage(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, SELF_CARE)
        offset, limit = paging(request)
        q = request.query
        account = q.get("relatedParty.id", "") or principal.account_id
        if not account:
            raise invalid("relatedParty.id", "required: the account")
        require_account(principal, account)
        where = ["account = ?"]
        params: list[object] = [account]
        if q.get("usageDate.gt"):
            where.append("ts > ?")
            params.append(parse_time("usageDate.gt", q["usageDate.gt"]))
        if q.get("usageDate.lt"):
            where.append("ts < ?")
            params.append(parse_time("usageDate.lt", q["usageDate.lt"]))
        if q.get("usageType"):
            service = self.s.catalog.service_by_name.get(q["usageType"])
            if service is None:
                known = ", ".join(sorted(self.s.catalog.service_by_name))
                raise invalid("usageType", f"one of {known}")
            where.append("rating_group = ?")
            params.append(service.rating_group)
        clause = " AND ".join(where)
        db = self.s.db
        total = await db.run(db.one, f"SELECT COUNT(*) FROM charges WHERE {clause}", tuple(params))
        rows = await db.run(
            db.rows,
            "SELECT event_id, item, subscriber, ts, rating_group, unit, used, money, "
            f"from_allowances, visited_network FROM charges WHERE {clause} "
            "ORDER BY ts DESC, event_id, item LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        items = []
        for event_id, item, subscriber, ts, group, unit, used, money, allowances, visited in rows:
            info = self.s.catalog.services.get(int(group))
            items.append(
                {
                    "@type": "Usage",
                    "id": f"{event_id}#{item}",
                    "usageDate": iso(int(ts)),
                    "usageType": info.name if info else str(group),
                    "description": (info.config.description if info else "") or "",
                    "status": "rated",
                    "relatedParty": [
                        {
                            "id": account,
                            "role": "billingAccount",
                            "@referredType": "BillingAccount",
                        },
                        {
                            "id": str(subscriber),
                            "role": "subscriber",
                            "@referredType": "Subscriber",
                        },
                    ],
                    "usageCharacteristic": [
                        {"name": "units", "value": int(used), "valueType": "integer"},
                        {"name": "unit", "value": str(unit), "valueType": "string"},
                        {
                            "name": "unitsFromAllowances",
                            "value": int(allowances),
                            "valueType": "integer",
                        },
                        {"name": "ratingGroup", "value": int(group), "valueType": "integer"},
                        {"name": "visitedNetwork", "value": str(visited), "valueType": "string"},
                    ],
                    "ratedProductUsage": [
                        {
                            "ratingDate": iso(int(ts)),
                            "usageRatingTag": "usage",
                            "isBilled": False,
                            "taxExcludedRatingAmount": money_out(
                                int(money), self.s.currency, self.s.digits
                            ),
                        }
                    ],
                }
            )
        return paged(items, int(total[0]) if total else 0)
