"""TMF629 Customer Management and TMF666 Account Management (v4): read and search.

Search (care and admin only, like the gRPC Admin reads) by ``name`` (any part), ``msisdn``,
``imsi`` (whole numbers or their beginning), ``account.id`` or ``id``, paged; the exact
identities are looked up in the balance engine itself, names in the directory."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocs.api.auth import Principal
from ocs.api.errors import invalid, not_found
from ocs.balance.model import Account, Customer
from ocs.bss.access import STAFF, require
from ocs.bss.context import Services
from ocs.bss.directory import Entry
from ocs.tmf.http import Route, json_response, money_out, paged, paging

CUSTOMERS = "/tmf-api/customerManagement/v4"
ACCOUNTS = "/tmf-api/accountManagement/v4"


def customer_json(customer: Customer, hits: list[Entry]) -> dict[str, Any]:
    profile = dict(customer.profile)
    contacts: list[dict[str, Any]] = []
    if profile.get("email"):
        contacts.append(
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"emailAddress": profile["email"], "contactType": "email"},
            }
        )
    for msisdn in sorted({h.msisdn for h in hits if h.msisdn}):
        contacts.append(
            {
                "mediumType": "mobile",
                "characteristic": {"phoneNumber": msisdn, "contactType": "mobile"},
            }
        )
    result: dict[str, Any] = {
        "@type": "Customer",
        "id": customer.id,
        "href": f"{CUSTOMERS}/customer/{customer.id}",
        "name": customer.name or customer.id,
        "status": "active",
        "engagedParty": {
            "id": customer.id,
            "name": customer.name or customer.id,
            "@referredType": "Individual",
        },
        "account": [
            {
                "id": a,
                "name": a,
                "href": f"{ACCOUNTS}/billingAccount/{a}",
                "@referredType": "BillingAccount",
            }
            for a in customer.accounts
        ],
        "characteristic": [
            {"name": key, "value": value, "valueType": "string"}
            for key, value in sorted(profile.items())
        ],
    }
    if contacts:
        result["contactMedium"] = contacts
    return result


def account_json(account: Account, digits: int) -> dict[str, Any]:
    postpaid = account.credit_limit > 0
    result: dict[str, Any] = {
        "@type": "BillingAccount",
        "id": account.id,
        "href": f"{ACCOUNTS}/billingAccount/{account.id}",
        "name": account.id,
        "accountType": "postpaid" if postpaid else "prepaid",
        "state": account.status.value,
        "relatedParty": [
            {
                "id": account.customer_id,
                "role": "customer",
                "@referredType": "Customer",
                "href": f"{CUSTOMERS}/customer/{account.customer_id}",
            }
        ],
        "accountBalance": [
            {
                "balanceType": "mainWallet",
                "amount": money_out(account.money, account.currency, digits),
            }
        ],
        "creditLimit": money_out(account.credit_limit, account.currency, digits),
        "billStructure": {"cycleSpecification": {"billingDateShift": account.bill_cycle_day}},
        "characteristic": [
            {"name": "timezone", "value": account.timezone},
            {"name": "subscribers", "value": ",".join(account.subscribers)},
        ],
    }
    if account.parent_id:
        result["accountRelationship"] = [
            {
                "relationshipType": "parent",
                "account": {"id": account.parent_id, "@referredType": "BillingAccount"},
            }
        ]
    return result


class CustomerApi:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                f"{CUSTOMERS}/customer",
                "listCustomer",
                "TMF629 Customer Management",
                "Find customers by name, MSISDN, IMSI, account or id (paged)",
                self.list_customers,
                {200: "[TMF629.Customer]"},
                query=("name", "msisdn", "imsi", "account.id", "id", "offset", "limit"),
                roles="care, admin",
            ),
            Route(
                "GET",
                f"{CUSTOMERS}/customer/{{id}}",
                "retrieveCustomer",
                "TMF629 Customer Management",
                "One customer",
                self.get_customer,
                {200: "TMF629.Customer"},
                roles="care, admin",
            ),
            Route(
                "GET",
                f"{ACCOUNTS}/billingAccount",
                "listBillingAccount",
                "TMF666 Account Management",
                "Accounts of a customer (relatedParty.id) or by id",
                self.list_accounts,
                {200: "[TMF666.BillingAccount]"},
                query=("relatedParty.id", "id", "offset", "limit"),
                roles="care, admin",
            ),
            Route(
                "GET",
                f"{ACCOUNTS}/billingAccount/{{id}}",
                "retrieveBillingAccount",
                "TMF666 Account Management",
                "One account",
                self.get_account,
                {200: "TMF666.BillingAccount"},
                roles="care, admin",
            ),
        ]

    async def _customer(self, customer_id: str, field: str = "id") -> Customer:
        customer = await self.s.store.get_customer(customer_id) if customer_id else None
        if customer is None:
            raise not_found("customer", customer_id, field)
        return customer

    async def list_customers(
        self, request: web.Request, principal: Principal
    ) -> web.StreamResponse:
        require(principal, STAFF)
        offset, limit = paging(request)
        q = request.query
        given = [(k, q[k]) for k in ("id", "msisdn", "imsi", "account.id", "name") if q.get(k)]
        if len(given) != 1:
            raise invalid("name", "give exactly one of name, msisdn, imsi, account.id, id")
        key, value = given[0]
        if len(value) > 128:
            raise invalid(key, "at most 128 characters")
        if key in ("msisdn", "imsi") and not value.lstrip("+").isdigit():
            raise invalid(key, "digits only")
        hits, _ = await self.s.directory.search(value, 0, 10_000)
        if key == "id":
            hits = [h for h in hits if h.customer == value]
        elif key == "account.id":
            hits = [h for h in hits if h.account == value]
        elif key == "msisdn":
            hits = [h for h in hits if h.msisdn.startswith(value.lstrip("+"))]
        elif key == "imsi":
            hits = [h for h in hits if h.imsi.startswith(value)]
        ids = list(dict.fromkeys(h.customer for h in hits))
        page = ids[offset : offset + limit]
        items = []
        for customer_id in page:
            customer = await self.s.store.get_customer(customer_id)
            if customer is not None:
                items.append(
                    customer_json(customer, [h for h in hits if h.customer == customer_id])
                )
        return paged(items, len(ids))

    async def get_customer(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, STAFF)
        customer = await self._customer(request.match_info["id"])
        hits, _ = await self.s.directory.search(customer.id, 0, 500)
        return json_response(
            customer_json(customer, [h for h in hits if h.customer == customer.id])
        )

    async def list_accounts(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, STAFF)
        offset, limit = paging(request)
        party = request.query.get("relatedParty.id", "")
        account_id = request.query.get("id", "")
        if bool(party) == bool(account_id):
            raise invalid("relatedParty.id", "give relatedParty.id (a customer) or id")
        ids = (
            [account_id]
            if account_id
            else list((await self._customer(party, "relatedParty.id")).accounts)
        )
        accounts = [a for a in [await self.s.store.get_account(i) for i in ids] if a is not None]
        items = [account_json(a, self.s.digits) for a in accounts[offset : offset + limit]]
        return paged(items, len(accounts))

    async def get_account(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, STAFF)
        account_id = request.match_info["id"]
        account = await self.s.store.get_account(account_id) if account_id else None
        if account is None:
            raise not_found("account", account_id, "id")
        return json_response(account_json(account, self.s.digits))
