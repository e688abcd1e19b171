"""TMF654 Prepay Balance Management (v4): buckets, accumulated balance, top-up, adjustment.

Over the gRPC Balance/Admin handlers (``GetBalance``, ``TopUp``, ``AdjustBalance``): same
roles (subscribers read their own account; top-up and adjustment need care or admin), same
validation, same errors. A bucket's id is ``<account>~<bucket>``. Top-up and adjustment are
idempotent by the ``Idempotency-Key`` header (the payment id / adjustment id).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocs.api.auth import Principal
from ocs.api.errors import invalid
from ocs.api.v1 import admin_pb2, balance_pb2, common_pb2
from ocs.bss.access import STAFF, call_of, require
from ocs.bss.context import Services
from ocs.tmf.http import (
    Route,
    iso,
    json_response,
    minor_units,
    paged,
    paging,
    ref_id,
    text_field,
)

BASE = "/tmf-api/prepayBalanceManagement/v4"
USAGE_TYPE = {"money": "monetary", "octets": "data", "seconds": "voice", "units": "sms"}
QUANTITY_UNITS = {"octets": "octets", "seconds": "seconds", "units": "units"}


def selector(request: web.Request) -> balance_pb2.AccountSelector:
    account = request.query.get("partyAccount.id", "")
    msisdn = request.query.get("logicalResource.value", "")
    if account:
        return balance_pb2.AccountSelector(account_id=account)
    if msisdn:
        return balance_pb2.AccountSelector(subscriber=common_pb2.SubscriberRef(msisdn=msisdn))
    raise invalid(
        "partyAccount.id", "name the account (partyAccount.id) or an MSISDN (logicalResource.value)"
    )


def quantity(amount: int, unit: str, currency: str, digits: int) -> dict[str, Any]:
    if unit == "money":
        return {"amount": money_value(amount, digits), "units": currency}
    return {"amount": amount, "units": QUANTITY_UNITS.get(unit, unit)}


def money_value(amount: int, digits: int) -> Any:
    from decimal import Decimal

    return Decimal(amount).scaleb(-digits)


def bucket_json(
    view: balance_pb2.BalanceView, bucket: common_pb2.Bucket, now_ms: int
) -> dict[str, Any]:
    digits, currency = view.minor_unit_digits, view.currency
    account = view.account_id
    expired = bool(bucket.expires_ms) and bucket.expires_ms <= now_ms
    usage = USAGE_TYPE.get(bucket.unit, "other")
    if bucket.unit == "units" and "sms" not in bucket.services and bucket.services:
        usage = "other"
    name = bucket.id if bucket.id != "money" else "Main wallet"
    valid: dict[str, str] = {}
    if bucket.valid_from_ms:
        valid["startDateTime"] = iso(bucket.valid_from_ms)
    if bucket.expires_ms:
        valid["endDateTime"] = iso(bucket.expires_ms)
    result: dict[str, Any] = {
        "@type": "Bucket",
        "id": f"{account}~{bucket.id}",
        "href": f"{BASE}/bucket/{account}~{bucket.id}",
        "name": name,
        "description": ", ".join(bucket.services) or "all services",
        "isShared": bool(view.parent_account_id),
        "remainingValue": quantity(bucket.available, bucket.unit, currency, digits),
        "reservedValue": quantity(bucket.reserved, bucket.unit, currency, digits),
        "status": "expired" if expired else "active",
        "usageType": usage,
        "partyAccount": {
            "id": account,
            "href": f"/tmf-api/accountManagement/v4/billingAccount/{account}",
            "@referredType": "BillingAccount",
        },
    }
    if bucket.initial:
        result["remainingValueName"] = (
            f"{bucket.available} of {bucket.initial} {QUANTITY_UNITS.get(bucket.unit, currency)}"
        )
    if valid:
        result["validFor"] = valid
    return result


class BalanceApi:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[Route]:
        tag = "TMF654 Prepay Balance Management"
        return [
            Route(
                "GET",
                f"{BASE}/bucket",
                "listBucket",
                tag,
                "Buckets of an account",
                self.list_buckets,
                {200: "[TMF654.Bucket]"},
                query=("partyAccount.id", "logicalResource.value", "offset", "limit"),
                roles="subscriber (own account), care, admin",
            ),
            Route(
                "GET",
                f"{BASE}/bucket/{{id}}",
                "retrieveBucket",
                tag,
                "One bucket",
                self.get_bucket,
                {200: "TMF654.Bucket"},
                roles="subscriber (own account), care, admin",
            ),
            Route(
                "GET",
                f"{BASE}/accumulatedBalance",
                "listAccumulatedBalance",
                tag,
                "Money available on an account",
                self.accumulated,
                {200: "[TMF654.AccumulatedBalance]"},
                query=("partyAccount.id", "logicalResource.value"),
                roles="subscriber (own account), care, admin",
            ),
            Route(
                "POST",
                f"{BASE}/topupBalance",
                "createTopupBalance",
                tag,
                "Money into the main wallet (Idempotency-Key: the payment id)",
                self.topup,
                {201: "TMF654.TopupBalance"},
                body="TMF654.TopupBalance_Create",
                query=("Idempotency-Key",),
                roles="care, admin",
            ),
            Route(
                "POST",
                f"{BASE}/adjustBalance",
                "createAdjustBalance",
                tag,
                "A signed correction of one bucket (Idempotency-Key: the adjustment id)",
                self.adjust,
                {201: "TMF654.AdjustBalance"},
                body="TMF654.AdjustBalance_Create",
                query=("Idempotency-Key",),
                roles="care, admin",
            ),
        ]

    async def view(
        self, principal: Principal, sel: balance_pb2.AccountSelector
    ) -> balance_pb2.BalanceView:
        return await self.s.balance.get_balance(sel, call_of(principal))

    async def list_buckets(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        offset, limit = paging(request)
        view = await self.view(principal, selector(request))
        now = self.s.clock()
        items = [bucket_json(view, b, now) for b in view.buckets]
        return paged(items[offset : offset + limit], len(items))

    async def get_bucket(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        account, sep, bucket_id = request.match_info["id"].partition("~")
        if not sep:
            raise invalid("id", "a bucket id is <account>~<bucket>")
        view = await self.view(principal, balance_pb2.AccountSelector(account_id=account))
        for bucket in view.buckets:
            if bucket.id == bucket_id:
                return json_response(bucket_json(view, bucket, self.s.clock()))
        from ocs.api.errors import not_found

        raise not_found("bucket", bucket_id, "id")

    async def accumulated(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        view = await self.view(principal, selector(request))
        now = self.s.clock()
        money = [b for b in view.buckets if b.unit == "money"]
        item = {
            "@type": "AccumulatedBalance",
            "id": view.account_id,
            "name": "Money available",
            "description": "spendable now: money buckets, credit limit and reservations counted",
            "totalBalance": quantity(
                view.money_available, "money", view.currency, view.minor_unit_digits
            ),
            "bucket": [{"id": f"{view.account_id}~{b.id}", "name": b.id} for b in money],
            "partyAccount": {"id": view.account_id, "@referredType": "BillingAccount"},
        }
        del now
        return paged([item], 1)

    def _idempotency_key(self, request: web.Request) -> str:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise invalid("Idempotency-Key", "required header: the operation's id, reused on retry")
        if len(key) > 128:
            raise invalid("Idempotency-Key", "at most 128 characters")
        return key

    async def topup(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, STAFF)
        from ocs.tmf.http import read_json

        body = await read_json(request)
        key = self._idempotency_key(request)
        account = ref_id(body, "partyAccount")
        amount = body.get("amount")
        if not isinstance(amount, dict):
            raise invalid("amount", "required: {amount, units}")
        currency = text_field(amount, "units") or self.s.currency
        if currency != self.s.currency:
            raise invalid("amount.units", f"the catalog prices in {self.s.currency}")
        minor = minor_units("amount.amount", amount.get("amount"), self.s.digits)
        usage = text_field(body, "usageType") or "monetary"
        if usage != "monetary":
            raise invalid("usageType", "only monetary top-ups (money into the main wallet)")
        bucket = ref_id(body, "bucket", required=False)
        if bucket and bucket not in (f"{account}~money", "money"):
            raise invalid("bucket.id", f"top-ups go to the main wallet {account}~money")
        reply = await self.s.balance.top_up(
            balance_pb2.TopUpRequest(
                account=balance_pb2.AccountSelector(account_id=account),
                payment_id=key,
                amount_minor=minor,
                currency=currency,
            ),
            call_of(principal),
        )
        now = iso(self.s.clock())
        result = {
            "@type": "TopupBalance",
            "id": key,
            "href": f"{BASE}/topupBalance/{key}",
            "status": "completed",
            "confirmationDate": now,
            "requestedDate": now,
            "amount": quantity(minor, "money", currency, self.s.digits),
            "usageType": "monetary",
            "bucket": {"id": f"{account}~money"},
            "partyAccount": {"id": account, "@referredType": "BillingAccount"},
            "description": "replayed: applied before" if reply.replayed else "applied",
        }
        return json_response(result, 200 if reply.replayed else 201)

    async def adjust(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, STAFF)
        from ocs.tmf.http import read_json

        body = await read_json(request)
        key = self._idempotency_key(request)
        bucket_ref = ref_id(body, "bucket")
        account, sep, bucket_id = bucket_ref.partition("~")
        if not sep:
            raise invalid("bucket.id", "a bucket id is <account>~<bucket>")
        amount = body.get("amount")
        if not isinstance(amount, dict):
            raise invalid("amount", "required: {amount, units}")
        reason = text_field(body, "reason", required=True)
        units = text_field(amount, "units")
        if bucket_id == "money":
            minor = minor_units("amount.amount", amount.get("amount"), self.s.digits, signed=True)
        else:
            minor = minor_units("amount.amount", amount.get("amount"), 0, signed=True)
        if minor == 0:
            raise invalid("amount.amount", "must not be 0")
        reply = await self.s.admin.adjust_balance(
            admin_pb2.AdjustBalanceRequest(
                adjustment_id=key,
                account_id=account,
                amount=minor,
                reason=reason,
                bucket_id=bucket_id,
            ),
            call_of(principal),
        )
        now = iso(self.s.clock())
        result = {
            "@type": "AdjustBalance",
            "id": key,
            "href": f"{BASE}/adjustBalance/{key}",
            "status": "completed",
            "confirmationDate": now,
            "reason": reason,
            "adjustType": "oneTime",
            "amount": quantity(
                minor, "money" if bucket_id == "money" else "units", self.s.currency, self.s.digits
            )
            if bucket_id == "money"
            else {"amount": minor, "units": units or "units"},
            "bucket": {"id": bucket_ref},
            "usageType": text_field(body, "usageType") or "monetary",
            "partyAccount": {"id": account, "@referredType": "BillingAccount"},
            "description": f"balance after: {reply.balance}",
        }
        return json_response(result, 200 if reply.replayed else 201)
