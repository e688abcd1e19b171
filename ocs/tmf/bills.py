"""TMF678 Customer Bill Management (v4): bills with their PDF and items; the payment
provider's webhook (``POST /payments/webhook``, signed, no bearer token)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from ocs.api.auth import Principal
from ocs.api.errors import invalid, not_found
from ocs.bss import bills
from ocs.bss.access import ADMIN, SELF_CARE, require, require_account
from ocs.bss.bills import Bill
from ocs.bss.context import Services
from ocs.payments.camt053 import import_statement
from ocs.payments.service import Payments
from ocs.payments.signature import HEADER, BadSignature, verify
from ocs.tmf.http import Route, iso, json_response, money_out, paged, paging

BASE = "/tmf-api/customerBillManagement/v4"
STATE = {"open": "sent", "settled": "settled", "info": "validated"}


def bill_json(bill: Bill, document: dict[str, Any] | None, digits: int, now: int) -> dict[str, Any]:
    cur = bill.currency
    state = STATE.get(bill.state, "sent")
    if bill.state == "open" and (bill.paid or bill.credited):
        state = "partiallyPaid"
    net = int(document.get("net", bill.total)) if document else bill.total
    tax = int(document.get("tax", 0)) if document else 0
    result: dict[str, Any] = {
        "@type": "CustomerBill",
        "id": bill.number,
        "href": f"{BASE}/customerBill/{bill.number}",
        "billNo": bill.number,
        "billDate": iso(bill.issued_ms),
        "lastUpdate": iso(max(bill.issued_ms, bill.settled_ms)),
        "category": {
            "invoice": "normal",
            "credit_note": "credit note",
            "statement": "statement",
        }.get(bill.kind, bill.kind),
        "runType": "onCycle",
        "state": state,
        "amountDue": money_out(bill.total, cur, digits),
        "remainingAmount": money_out(bill.outstanding, cur, digits),
        "taxExcludedAmount": money_out(net, cur, digits),
        "taxIncludedAmount": money_out(bill.total, cur, digits),
        "billingAccount": {
            "id": bill.account,
            "@referredType": "BillingAccount",
            "href": f"/tmf-api/accountManagement/v4/billingAccount/{bill.account}",
        },
        "relatedParty": [{"id": bill.customer, "role": "customer", "@referredType": "Customer"}],
        "billDocument": [
            {
                "id": bill.number,
                "name": f"{bill.number}.pdf",
                "mimeType": "application/pdf",
                "attachmentType": "bill",
                "url": f"{BASE}/customerBill/{bill.number}/document",
            }
        ],
        "paymentMethod": {
            "id": bill.reference,
            "name": "bank transfer or card",
            "@referredType": "PaymentMethod",
        },
    }
    if bill.kind == "invoice":
        result["paymentDueDate"] = iso(bill.due_ms)
    if document:
        result["billingPeriod"] = {
            "startDateTime": iso(int(document["period_start_ms"])),
            "endDateTime": iso(int(document["period_end_ms"])),
        }
        if tax:
            result["taxItem"] = [
                {
                    "taxCategory": "VAT",
                    "taxRate": Decimal(int(document.get("tax_percent", 0))),
                    "taxAmount": money_out(tax, cur, digits),
                }
            ]
    del now
    return result


def rate_json(bill: Bill, n: int, line: dict[str, Any], digits: int) -> dict[str, Any]:
    return {
        "@type": "AppliedCustomerBillingRate",
        "id": f"{bill.number}-{n}",
        "href": f"{BASE}/appliedCustomerBillingRate/{bill.number}-{n}",
        "name": line.get("description", ""),
        "description": line.get("description", ""),
        "type": line.get("kind", ""),
        "date": iso(bill.issued_ms),
        "isBilled": True,
        "bill": {"id": bill.number, "href": f"{BASE}/customerBill/{bill.number}"},
        "billingAccount": {"id": bill.account, "@referredType": "BillingAccount"},
        "taxExcludedAmount": money_out(int(line.get("amount", 0)), bill.currency, digits),
        "characteristic": [
            {"name": "subscriber", "value": str(line.get("subscriber", ""))},
            {"name": "quantity", "value": str(line.get("quantity", 0))},
            {"name": "unit", "value": str(line.get("unit", ""))},
            {"name": "events", "value": str(line.get("events", 0))},
        ],
    }


class BillApi:
    def __init__(self, services: Services, payments: Payments) -> None:
        self.s = services
        self.payments = payments
        self.secret = b""

    def routes(self) -> list[Route]:
        tag = "TMF678 Customer Bill Management"
        roles = "subscriber (own account), care, admin"
        return [
            Route(
                "GET",
                f"{BASE}/customerBill",
                "listCustomerBill",
                tag,
                "Bills of an account, newest first",
                self.list_bills,
                {200: "[TMF678.CustomerBill]"},
                query=("billingAccount.id", "offset", "limit"),
                roles=roles,
            ),
            Route(
                "GET",
                f"{BASE}/customerBill/{{id}}",
                "retrieveCustomerBill",
                tag,
                "One bill",
                self.get_bill,
                {200: "TMF678.CustomerBill"},
                roles=roles,
            ),
            Route(
                "GET",
                f"{BASE}/customerBill/{{id}}/document",
                "retrieveCustomerBillDocument",
                tag,
                "The bill as PDF",
                self.pdf,
                {200: None},
                roles=roles,
                content="application/pdf",
            ),
            Route(
                "GET",
                f"{BASE}/appliedCustomerBillingRate",
                "listAppliedCustomerBillingRate",
                tag,
                "The items of a bill",
                self.items,
                {200: "[TMF678.AppliedCustomerBillingRate]"},
                query=("bill.id", "offset", "limit"),
                roles=roles,
            ),
            Route(
                "POST",
                "/payments/camt053",
                "importCamt053",
                "Payments",
                "Import an ISO 20022 camt.053 bank statement (application/xml): credit transfers "
                "matched to bills by payment reference; the report says what matched, what did "
                "not and why",
                self.camt053,
                {200: "Ocs.Camt053Report"},
                roles="admin",
                extra={
                    "requestBody": {
                        "required": True,
                        "content": {"application/xml": {"schema": {"type": "string"}}},
                    }
                },
            ),
            Route(
                "POST",
                "/payments/webhook",
                "paymentWebhook",
                "Payments",
                "The payment provider's notice (X-OCS-Signature, no bearer token)",
                self.webhook,
                {200: "Ocs.PaymentResult"},
                body="Ocs.PaymentNotice",
                query=(HEADER,),
                roles="none",
                public=True,
            ),
        ]

    async def _bill(self, principal: Principal, number: str, field: str = "id") -> Bill:
        require(principal, SELF_CARE)
        bill = await self.s.db.run(bills.get, self.s.db, number) if number else None
        if bill is None:
            raise not_found("bill", number, field)
        require_account(principal, bill.account)
        return bill

    async def list_bills(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, SELF_CARE)
        offset, limit = paging(request)
        account = request.query.get("billingAccount.id", "")
        if not account:
            raise invalid("billingAccount.id", "required")
        require_account(principal, account)
        found, total = await self.s.db.run(bills.of_account, self.s.db, [account], offset, limit)
        now = self.s.clock()
        items = []
        for bill in found:
            document = await self.s.db.run(bills.document, self.s.db, bill.number)
            items.append(bill_json(bill, document, self.s.digits, now))
        return paged(items, total)

    async def get_bill(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        bill = await self._bill(principal, request.match_info["id"])
        document = await self.s.db.run(bills.document, self.s.db, bill.number)
        return json_response(bill_json(bill, document, self.s.digits, self.s.clock()))

    async def pdf(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        bill = await self._bill(principal, request.match_info["id"])
        return await pdf_response(self.s, bill)

    async def items(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        offset, limit = paging(request)
        bill = await self._bill(principal, request.query.get("bill.id", ""), "bill.id")
        document = await self.s.db.run(bills.document, self.s.db, bill.number) or {}
        lines = list(document.get("lines", []))
        items = [rate_json(bill, n, line, self.s.digits) for n, line in enumerate(lines)]
        return paged(items[offset : offset + limit], len(items))

    async def webhook(
        self, request: web.Request, principal: Principal | None
    ) -> web.StreamResponse:
        raw = await request.read()
        try:
            key = verify(
                self.secret,
                raw,
                request.headers.get(HEADER, ""),
                self.s.clock() // 1000,
                self.s.config.payment_tolerance_s,
            )
        except BadSignature as exc:
            from ocs.api.errors import unauthenticated

            raise unauthenticated(f"{HEADER}: {exc}") from None
        fresh = await self.s.db.run(self._nonce, key)
        try:
            body = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            raise invalid("body", "not JSON") from None
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        if not fresh:
            from ocs.api.errors import unauthenticated

            raise unauthenticated(f"{HEADER}: this signature was used before (replay)")
        applied = await self.payments.notice(body)
        return json_response(
            {
                "id": applied.provider_id,
                "state": applied.state,
                "replayed": applied.replayed,
                "bill": applied.bill,
                "account": applied.account,
            }
        )

    async def camt053(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        require(principal, ADMIN)
        if request.content_type not in ("application/xml", "text/xml"):
            raise invalid("body", "send the statement as application/xml")
        data = await request.read()
        report = await import_statement(self.s, self.payments, data)
        return json_response(report.to_json())

    def _nonce(self, signature: str) -> bool:
        now = self.s.clock()
        horizon = now - 2 * self.s.config.payment_tolerance_s * 1000
        with self.s.db.transaction() as cur:
            cur.execute("DELETE FROM webhook_nonces WHERE received_ms < ?", (horizon,))
            cur.execute("SELECT 1 FROM webhook_nonces WHERE signature = ?", (signature,))
            if cur.fetchone() is not None:
                return False
            cur.execute(
                "INSERT INTO webhook_nonces (signature, received_ms) VALUES (?, ?)",
                (signature, now),
            )
        return True


async def pdf_response(s: Services, bill: Bill) -> web.StreamResponse:
    account = await s.store.get_account(bill.account)
    timezone = account.timezone if account else "UTC"
    path = await s.db.run(bills.ensure_pdf, s.db, s.documents_dir, bill, timezone, s.digits)
    if path is None:
        raise not_found("bill document", bill.number, "id")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{bill.number}.pdf"',
        },
    )
