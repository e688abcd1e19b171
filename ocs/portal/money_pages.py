"""The subscriber's money pages: top-up and bills (list, PDF, pay), through the payment flow;
and the sandbox provider's checkout page (``sandbox_payments``, demo and tests), which pays by
sending the provider's signed webhook to ``/payments/webhook`` like a real provider would."""

from __future__ import annotations

import uuid
from decimal import Decimal

import aiohttp
from aiohttp import web

from ocs.api.errors import ApiError
from ocs.bss import bills
from ocs.payments.service import Payments
from ocs.payments.signature import HEADER, sign
from ocs.portal.pages import SESSION, PageError, Pages, notice
from ocs.portal.subscriber import subscriber_only
from ocs.tmf.bills import pdf_response
from ocs.tmf.http import dumps, minor_units

TOPUP_AMOUNTS = (500, 1000, 2000, 5000)


class MoneyPages(Pages):
    payments: Payments
    secret: bytes = b""

    def register(self, app: web.Application) -> None:
        self.payments = Payments(self.s)
        app.router.add_get("/me/topup", subscriber_only(self.topup_page))
        app.router.add_post("/me/topup", subscriber_only(self.topup))
        app.router.add_get("/me/bills", subscriber_only(self.bills_page))
        app.router.add_get("/me/bills/{number}.pdf", subscriber_only(self.pdf))
        app.router.add_post("/me/bills/{number}/pay", subscriber_only(self.pay))
        if self.s.config.sandbox_payments:
            app.router.add_get("/pay/sandbox/{intent}", subscriber_only(self.checkout))
            app.router.add_post("/pay/sandbox/{intent}", subscriber_only(self.checkout_pay))

    async def topup_page(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "topup.html", amounts=TOPUP_AMOUNTS, error="")

    async def topup(self, request: web.Request) -> web.StreamResponse:
        user = request[SESSION].user
        try:
            form = await self.form(request)
            other = str(form.get("other", "")).strip().replace(",", ".")
            text = other or str(form.get("amount", "")).strip()
            minor = minor_units("amount", text or "0", self.s.digits)
            intent = await self.payments.checkout(user.principal, user.account, minor)
        except PageError as exc:
            return self.render(
                request, "topup.html", exc.status, amounts=TOPUP_AMOUNTS, error=str(exc)
            )
        except ApiError as exc:
            return self.render(
                request,
                "topup.html",
                400,
                amounts=TOPUP_AMOUNTS,
                error=f"Amount: {exc.message.partition(': ')[2] or exc.message}",
            )
        raise web.HTTPSeeOther(self._checkout_url(intent.id))

    def _checkout_url(self, intent: str) -> str:
        if self.s.config.sandbox_payments:
            return f"/pay/sandbox/{intent}"
        raise PageError("No payment provider is configured for card payments.", 503)

    async def bills_page(self, request: web.Request) -> web.StreamResponse:
        user = request[SESSION].user
        found, _ = await self.s.db.run(bills.of_account, self.s.db, [user.account], 0, 100)
        return self.render(request, "bills.html", bills=found, now=self.s.clock(), error="")

    async def pdf(self, request: web.Request) -> web.StreamResponse:
        user = request[SESSION].user
        bill = await self.s.db.run(bills.get, self.s.db, request.match_info["number"])
        if bill is None or bill.account != user.account:
            raise web.HTTPNotFound()
        return await pdf_response(self.s, bill)

    async def pay(self, request: web.Request) -> web.StreamResponse:
        user = request[SESSION].user
        try:
            await self.form(request)
            intent = await self.payments.checkout(
                user.principal, user.account, 0, request.match_info["number"]
            )
            raise web.HTTPSeeOther(self._checkout_url(intent.id))
        except (PageError, ApiError) as exc:
            found, _ = await self.s.db.run(bills.of_account, self.s.db, [user.account], 0, 100)
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            return self.render(
                request, "bills.html", 400, bills=found, now=self.s.clock(), error=message
            )

    async def checkout(self, request: web.Request) -> web.StreamResponse:
        intent = await self.s.db.run(self.payments.intent, request.match_info["intent"])
        if intent is None or intent.account != request[SESSION].user.account:
            raise web.HTTPNotFound()
        return self.render(request, "checkout.html", intent=intent)

    async def checkout_pay(self, request: web.Request) -> web.StreamResponse:
        """The sandbox provider: it sends its signed webhook to us, over HTTP, then returns
        the person to the portal (as a provider's redirect would)."""
        await self.form(request)
        intent = await self.s.db.run(self.payments.intent, request.match_info["intent"])
        if intent is None or intent.account != request[SESSION].user.account:
            raise web.HTTPNotFound()
        body = dumps(
            {
                "id": f"sandbox_{uuid.uuid4().hex}",
                "status": "succeeded",
                "reference": intent.id,
                "amount": {
                    "value": Decimal(intent.amount).scaleb(-self.s.digits),
                    "unit": intent.currency,
                },
            }
        ).encode()
        url = f"{request.scheme}://{request.host}/payments/webhook"
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(self.secret, body, self.s.clock() // 1000),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers, ssl=False) as reply,
        ):
            answer = await reply.json()
        if reply.status != 200:
            raise PageError(f"The payment was not accepted: {answer.get('reason')}", 502)
        target = "/me/bills" if intent.bill else "/me"
        what = f"bill {intent.bill} is paid" if intent.bill else "your balance is topped up"
        raise web.HTTPSeeOther(f"{target}?" + notice(f"Payment received: {what}"))
