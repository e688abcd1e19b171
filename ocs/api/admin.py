"""The Admin service: customers, accounts, subscribers, status, sessions, offers, orders,
adjustments and the single customer view. Admin tokens may call everything; care agents the
reads, adjustments and status changes (``methods``)."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc

from ocs.api import resolve
from ocs.api.convert import STATUS_OF_PB, account_out, quantity, sessions_out, subscriber_out
from ocs.api.errors import ApiError, from_outcome, invalid, not_found, precondition
from ocs.api.orders import Order, Orders, check_order_id
from ocs.api.rpc import ADMIN, STAFF, Call, Methods
from ocs.api.usage import UsageHistory
from ocs.api.v1 import admin_pb2, common_pb2
from ocs.balance.model import Identity, Outcome, Status, Unit
from ocs.balance.store import BalanceStore
from ocs.charging.core import ChargingCore
from ocs.charging.operations import AccountOperations
from ocs.policy.catalog import Catalog
from ocs.policy.offers import allowance_buckets

SERVICE = admin_pb2.DESCRIPTOR.services_by_name["Admin"]
ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
DIGITS = re.compile(r"^[0-9]{5,15}$")
RECENT_USAGE_MS = 30 * 86_400_000
RECENT_USAGE_LIMIT = 10_000
_ORDER_STATES = {
    "accepted": admin_pb2.ORDER_STATE_ACCEPTED,
    "completed": admin_pb2.ORDER_STATE_COMPLETED,
    "failed": admin_pb2.ORDER_STATE_FAILED,
}


def check_id(field: str, value: str) -> str:
    if not value:
        raise invalid(field, "required")
    if not ID.match(value):
        raise invalid(field, "letters, digits and . _ : @ - only, at most 128")
    return value


def _op(kind: str) -> str:
    return f"api:{kind}:{uuid.uuid4().hex}"


class AdminService:
    def __init__(
        self,
        store: BalanceStore,
        catalog: Catalog,
        operations: AccountOperations,
        orders: Orders,
        usage: UsageHistory,
        core: ChargingCore,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.operations = operations
        self.orders = orders
        self.usage = usage
        self.core = core

    def methods(self) -> Methods:
        return {
            "CreateCustomer": (ADMIN, self.create_customer),
            "GetCustomer": (STAFF, self.get_customer),
            "GetCustomerView": (STAFF, self.get_customer_view),
            "CreateAccount": (ADMIN, self.create_account),
            "GetAccount": (STAFF, self.get_account),
            "CreateSubscriber": (ADMIN, self.create_subscriber),
            "GetSubscriber": (STAFF, self.get_subscriber),
            "SetSubscriberStatus": (STAFF, self.set_subscriber_status),
            "ListSessions": (STAFF, self.list_sessions),
            "ListOffers": (STAFF, self.list_offers),
            "PurchaseOffer": (ADMIN, self.purchase_offer),
            "CancelOffer": (ADMIN, self.cancel_offer),
            "GetOrder": (STAFF, self.get_order),
            "AdjustBalance": (STAFF, self.adjust_balance),
        }

    def now(self) -> int:
        return self.core.clock()

    # -- customers --------------------------------------------------------------------------

    async def create_customer(
        self, request: admin_pb2.CreateCustomerRequest, call: Call
    ) -> admin_pb2.Customer:
        customer_id = check_id("customer_id", request.customer_id)
        result = await self.store.create_customer(
            _op("customer"),
            customer_id,
            now_ms=self.now(),
            name=request.name,
            profile=dict(request.profile),
            actor=call.actor,
        )
        if result.outcome is Outcome.ALREADY_EXISTS:
            raise ApiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"customer {customer_id} already exists",
                field="customer_id",
            )
        if not result.ok:
            raise from_outcome(result.outcome, result.message, result.field, customer_id)
        return await self._customer(customer_id)

    async def _customer(self, customer_id: str) -> admin_pb2.Customer:
        customer = await self.store.get_customer(check_id("customer_id", customer_id))
        if customer is None:
            raise not_found("customer", customer_id, "customer_id")
        return admin_pb2.Customer(
            customer_id=customer.id,
            name=customer.name,
            account_ids=list(customer.accounts),
            profile=dict(customer.profile),
        )

    async def get_customer(
        self, request: admin_pb2.GetCustomerRequest, call: Call
    ) -> admin_pb2.Customer:
        return await self._customer(request.customer_id)

    async def get_customer_view(
        self, request: admin_pb2.GetCustomerRequest, call: Call
    ) -> admin_pb2.CustomerView:
        customer = await self._customer(request.customer_id)
        view = admin_pb2.CustomerView(customer=customer)
        for account_id in customer.account_ids:
            account = await self.store.get_account(account_id)
            if account is None:
                continue
            view.accounts.append(account_out(account, self.catalog))
            for subscriber_id in account.subscribers:
                subscriber = await self.store.get_subscriber(subscriber_id)
                if subscriber is not None:
                    view.subscribers.append(subscriber_out(subscriber))
        since = max(0, self.now() - RECENT_USAGE_MS)
        page = await self.usage.recent(customer.account_ids, since, RECENT_USAGE_LIMIT)
        totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for entry in page.entries:
            if entry.rating_group:
                total = totals[(entry.subscriber_id, entry.service, entry.unit)]
                total[0] += entry.units
                total[1] += entry.money
                total[2] += 1
        view.recent_usage.extend(
            admin_pb2.UsageSummary(
                subscriber_id=sub, service=service, unit=unit, units=u, money_minor=m, events=n
            )
            for (sub, service, unit), (u, m, n) in sorted(totals.items())
        )
        view.recent_usage_from_ms = max(since, page.history_from_ms)
        view.recent_usage_partial = bool(page.cursor) or not page.complete
        return view

    # -- accounts ---------------------------------------------------------------------------

    async def create_account(
        self, request: admin_pb2.CreateAccountRequest, call: Call
    ) -> admin_pb2.Account:
        account_id = check_id("account_id", request.account_id)
        customer_id = check_id("customer_id", request.customer_id)
        currency = request.currency or self.catalog.currency
        if currency != self.catalog.currency:
            raise invalid("currency", f"the catalog prices in {self.catalog.currency}")
        postpaid = request.kind == admin_pb2.ACCOUNT_KIND_POSTPAID
        if request.kind not in (admin_pb2.ACCOUNT_KIND_PREPAID, admin_pb2.ACCOUNT_KIND_POSTPAID):
            raise invalid("kind", f"unknown value {request.kind}")
        quantity("credit_limit", request.credit_limit)
        if postpaid and request.credit_limit <= 0:
            raise invalid("credit_limit", "a postpaid account needs a credit limit above 0")
        if not postpaid and request.credit_limit:
            raise invalid("credit_limit", "only a postpaid account has a credit limit")
        quantity("opening_balance", request.opening_balance)
        timezone = request.timezone or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid("timezone", f"unknown time zone {timezone!r}") from None
        day = request.bill_cycle_day or 1
        if not 1 <= day <= 28:
            raise invalid("bill_cycle_day", "must be 1..28")
        for unit, amount in request.pool_limits.items():
            if unit not in {u.value for u in Unit}:
                raise invalid(
                    f"pool_limits[{unit}]", "unit must be money, octets, seconds or units"
                )
            quantity(f"pool_limits[{unit}]", amount)
        if request.pool_limits and not request.parent_account_id:
            raise invalid("pool_limits", "only a member of a shared pool has pool limits")
        if request.parent_account_id:
            check_id("parent_account_id", request.parent_account_id)
        result = await self.store.create_account(
            _op("account"),
            account_id,
            customer_id,
            currency=currency,
            now_ms=self.now(),
            credit_limit=request.credit_limit,
            opening_balance=request.opening_balance,
            parent_id=request.parent_account_id,
            timezone=timezone,
            bill_cycle_day=day,
            low_balance=request.low_balance if request.HasField("low_balance") else None,
            pool_limit=dict(request.pool_limits),
            actor=call.actor,
        )
        if result.outcome is Outcome.INVALID and result.field == "customer_id":
            raise not_found("customer", customer_id, "customer_id")
        if result.outcome is Outcome.INVALID and result.field == "parent_id":
            raise invalid("parent_account_id", result.message)
        if result.outcome is Outcome.ALREADY_EXISTS:
            raise ApiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"account {account_id} already exists",
                field="account_id",
            )
        if not result.ok:
            raise from_outcome(result.outcome, result.message, result.field, account_id)
        return await self._account(account_id)

    async def _account(self, account_id: str) -> admin_pb2.Account:
        account = await self.store.get_account(check_id("account_id", account_id))
        if account is None:
            raise not_found("account", account_id, "account_id")
        return account_out(account, self.catalog)

    async def get_account(
        self, request: admin_pb2.GetAccountRequest, call: Call
    ) -> admin_pb2.Account:
        return await self._account(request.account_id)

    # -- subscribers ------------------------------------------------------------------------

    async def create_subscriber(
        self, request: admin_pb2.CreateSubscriberRequest, call: Call
    ) -> admin_pb2.Subscriber:
        subscriber_id = check_id("subscriber_id", request.subscriber_id)
        account_id = check_id("account_id", request.account_id)
        identities: list[Identity] = []
        fields: list[str] = []
        if request.msisdn:
            if not DIGITS.match(request.msisdn):
                raise invalid("msisdn", "E.164 digits only, 5..15 of them")
            identities.append(Identity("e164", request.msisdn))
            fields.append("msisdn")
        if request.imsi:
            if not DIGITS.match(request.imsi):
                raise invalid("imsi", "digits only, 5..15 of them")
            identities.append(Identity("imsi", request.imsi))
            fields.append("imsi")
        for kind, name, values in (
            ("sip", "sip_uris", request.sip_uris),
            ("nai", "nais", request.nais),
            ("private", "private_ids", request.private_ids),
        ):
            for n, value in enumerate(values):
                if not value:
                    raise invalid(f"{name}[{n}]", "must not be empty")
                identities.append(Identity(kind, value))
                fields.append(f"{name}[{n}]")
        if not identities:
            raise invalid("msisdn", "a subscriber needs at least one identity")
        offers: list[str] = []
        if request.base_offer:
            offer = self.catalog.offer(request.base_offer)
            if offer is None:
                raise not_found("offer", request.base_offer, "base_offer")
            if offer.kind != "base":
                raise invalid("base_offer", f"{request.base_offer} is a {offer.kind}, not a base")
            offers.append(request.base_offer)
        now = self.now()
        result = await self.store.create_subscriber(
            _op("subscriber"),
            subscriber_id,
            account_id,
            identities=identities,
            now_ms=now,
            offers=offers,
            actor=call.actor,
        )
        if result.outcome is Outcome.UNKNOWN_ACCOUNT:
            raise not_found("account", account_id, "account_id")
        if result.outcome is Outcome.ALREADY_EXISTS:
            field = result.field
            if field.startswith("identities["):
                field = fields[int(field[len("identities[") : -1])]
                message = f"{field} is already another subscriber's"
            else:
                field, message = "subscriber_id", f"subscriber {subscriber_id} already exists"
            raise ApiError(grpc.StatusCode.ALREADY_EXISTS, message, field=field)
        if not result.ok:
            raise from_outcome(result.outcome, result.message, result.field, subscriber_id)
        for offer_id in offers:
            buckets = allowance_buckets(self.catalog, offer_id, now, subscriber_id)
            if buckets:
                added = await self.store.add_buckets(
                    f"create:{subscriber_id}:{offer_id}",
                    account_id,
                    buckets,
                    now_ms=now,
                    source=offer_id,
                    actor=call.actor,
                )
                if not added.ok:
                    raise from_outcome(added.outcome, added.message, "base_offer")
        return await self._subscriber(subscriber_id)

    async def _subscriber(self, subscriber_id: str) -> admin_pb2.Subscriber:
        subscriber = await self.store.get_subscriber(subscriber_id)
        if subscriber is None:
            raise not_found("subscriber", subscriber_id, "subscriber")
        return subscriber_out(subscriber)

    async def get_subscriber(
        self, request: common_pb2.SubscriberRef, call: Call
    ) -> admin_pb2.Subscriber:
        return subscriber_out(await resolve.subscriber(self.store, request, ""))

    async def set_subscriber_status(
        self, request: admin_pb2.SetSubscriberStatusRequest, call: Call
    ) -> admin_pb2.Subscriber:
        if not request.HasField("subscriber"):
            raise invalid("subscriber", "required")
        status = STATUS_OF_PB.get(request.status)
        if status is None:
            raise invalid("status", f"unknown value {request.status}")
        if not request.reason:
            raise invalid("reason", "required: it is recorded with the change")
        subscriber = await resolve.subscriber(self.store, request.subscriber, "subscriber")
        if subscriber.status is Status.TERMINATED and status is not Status.TERMINATED:
            raise precondition(
                "SUBSCRIBER_TERMINATED", "a terminated subscriber cannot change status", "status"
            )
        if status is Status.TERMINATED:
            result = await self.operations.terminate_subscriber(
                _op("terminate"), subscriber.id, actor=call.actor, reason=request.reason
            )
        else:
            result = await self.store.set_subscriber_status(
                _op("status"),
                subscriber.id,
                status,
                now_ms=self.now(),
                actor=call.actor,
                reason=request.reason,
            )
        if not result.ok:
            raise from_outcome(result.outcome, result.message, "subscriber", subscriber.id)
        return await self._subscriber(subscriber.id)

    async def list_sessions(
        self, request: common_pb2.SubscriberRef, call: Call
    ) -> admin_pb2.ListSessionsResponse:
        subscriber = await resolve.subscriber(self.store, request, "")
        sessions = await self.store.live_sessions(subscriber.account_id, subscriber.id)
        return sessions_out(sessions)

    # -- offers and orders ------------------------------------------------------------------

    async def list_offers(
        self, request: admin_pb2.ListOffersRequest, call: Call
    ) -> admin_pb2.ListOffersResponse:
        data = self.catalog.data
        offers = []
        for offer_id, offer in sorted(data.offers.items()):
            services = sorted(
                {rate.service for rate in offer.rates}
                | {name for a in offer.allowances for name in a.services}
            )
            offers.append(
                admin_pb2.Offer(
                    offer_id=offer_id,
                    name=offer.name,
                    kind=offer.kind,
                    price=offer.price,
                    recurring_fee=offer.recurring_fee,
                    allowances=[
                        admin_pb2.Allowance(
                            id=a.id,
                            unit=a.unit,
                            amount=a.amount,
                            services=list(a.services),
                            validity_days=a.validity_days,
                        )
                        for a in offer.allowances
                    ],
                    services=services,
                )
            )
        return admin_pb2.ListOffersResponse(
            currency=data.currency, offers=offers, minor_unit_digits=self.catalog.minor_digits
        )

    async def purchase_offer(
        self, request: admin_pb2.PurchaseOfferRequest, call: Call
    ) -> admin_pb2.Order:
        check_order_id(request.order_id)
        if not request.HasField("subscriber"):
            raise invalid("subscriber", "required")
        if not request.offer_id:
            raise invalid("offer_id", "required")
        subscriber = await resolve.subscriber(self.store, request.subscriber, "subscriber")
        order = await self.orders.purchase(
            request.order_id, subscriber, request.offer_id, actor=call.actor
        )
        return order_out(order)

    async def cancel_offer(
        self, request: admin_pb2.CancelOfferRequest, call: Call
    ) -> admin_pb2.Order:
        check_order_id(request.order_id)
        if not request.HasField("subscriber"):
            raise invalid("subscriber", "required")
        subscriber = await resolve.subscriber(self.store, request.subscriber, "subscriber")
        order = await self.orders.cancel(
            request.order_id, subscriber, request.offer_id, actor=call.actor
        )
        return order_out(order)

    async def get_order(self, request: admin_pb2.GetOrderRequest, call: Call) -> admin_pb2.Order:
        order = await self.orders.get(check_order_id(request.order_id))
        if order is None:
            raise not_found("order", request.order_id, "order_id")
        return order_out(order)

    # -- adjustments ------------------------------------------------------------------------

    async def adjust_balance(
        self, request: admin_pb2.AdjustBalanceRequest, call: Call
    ) -> admin_pb2.AdjustBalanceResponse:
        check_id("adjustment_id", request.adjustment_id)
        account_id = check_id("account_id", request.account_id)
        if not request.reason:
            raise invalid("reason", "required: it is recorded with the adjustment")
        if not request.amount:
            raise invalid("amount", "must not be 0")
        bucket = request.bucket_id or "money"
        result = await self.store.adjust(
            request.adjustment_id,
            account_id,
            bucket,
            request.amount,
            reason=request.reason,
            actor=call.actor,
            now_ms=self.now(),
        )
        if result.outcome is Outcome.UNKNOWN_ACCOUNT:
            raise not_found("account", account_id, "account_id")
        if result.outcome is Outcome.INVALID and result.field == "bucket":
            raise not_found("bucket", bucket, "bucket_id")
        if result.outcome is Outcome.INVALID and result.field == "amount":
            raise precondition("BELOW_FLOOR", result.message, "amount")
        if not result.ok:
            raise from_outcome(result.outcome, result.message, result.field, account_id)
        return admin_pb2.AdjustBalanceResponse(balance=result.balance, replayed=result.replayed)


def order_out(order: Order) -> admin_pb2.Order:
    return admin_pb2.Order(
        order_id=order.order_id,
        kind=order.kind,
        subscriber_id=order.subscriber_id,
        offer_id=order.offer_id,
        state=_ORDER_STATES[order.state.value],
        failure=order.failure,
        charged_minor=order.charged,
        bucket_ids=list(order.bucket_ids),
        created_ms=order.created_ms,
        completed_ms=order.completed_ms,
        account_id=order.account_id,
    )
