"""The care agent's pages: search, the single view of a customer, and the actions on it
(suspend/resume, SIM swap, number change, balance adjustment, credit limit, activation code),
each through :class:`ocs.bss.care.Care` (the same rules and audit trail as the CLI and APIs);
and the admin's reports with CSV export."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ocs.api.auth import Role
from ocs.api.errors import ApiError
from ocs.api.v1 import admin_pb2
from ocs.balance.model import Status
from ocs.bss import activity, bills, reports
from ocs.bss.access import call_of
from ocs.bss.care import Care
from ocs.bss.directory import identities
from ocs.notify import outbox
from ocs.payments.service import Payments
from ocs.portal.pages import PAGES, SESSION, PageError, Pages, notice
from ocs.tickets.workflow import Tickets
from ocs.tmf.http import minor_units

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def staff_only(handler: Handler, admin: bool = False) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        pages = request.app[PAGES]
        session = await pages.session_of(request)
        if session is None:
            raise web.HTTPSeeOther("/signin?notice=Please+sign+in")
        if not session.user.is_staff or (admin and session.user.role is not Role.ADMIN):
            raise web.HTTPForbidden(text="care agents only")
        request[SESSION] = session
        return await handler(request)

    return guarded


class CarePages(Pages):
    def register(self, app: web.Application) -> None:
        self.care = Care(self.s)
        self.tickets = Tickets(self.s)
        self.payments = Payments(self.s)
        app.router.add_get("/care", staff_only(self.search))
        app.router.add_get("/care/customer/{id}", staff_only(self.customer))
        for action in ("status", "sim", "msisdn", "adjust", "credit-limit", "activation"):
            app.router.add_post(f"/care/customer/{{id}}/{action}", staff_only(self.act))
        app.router.add_get("/care/reports", staff_only(self.reports_page, admin=True))
        app.router.add_get("/care/reports/{name}.csv", staff_only(self.report_csv, admin=True))

    def principal(self, request: web.Request) -> Any:
        return request[SESSION].user.principal

    async def search(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("q", "").strip()[:128]
        hits: list[Any] = []
        total, error = 0, ""
        if query:
            try:
                hits, total = await self.care.search(self.principal(request), query, 0, 50)
            except ApiError as exc:
                error = exc.message
        return self.render(
            request, "care_search.html", q=query, hits=hits, total=total, error=error
        )

    async def view(self, request: web.Request, customer_id: str) -> dict[str, Any]:
        principal = self.principal(request)
        customer = await self.s.store.get_customer(customer_id)
        if customer is None:
            raise web.HTTPNotFound(text=f"no customer {customer_id}")
        accounts, subscribers, sessions = [], [], {}
        for account_id in customer.accounts:
            account = await self.s.store.get_account(account_id)
            if account is None:
                continue
            accounts.append(account)
            sessions[account_id] = await self.care.live_sessions(principal, account_id)
            for subscriber_id in account.subscribers:
                subscriber = await self.s.store.get_subscriber(subscriber_id)
                if subscriber is not None:
                    msisdn, imsi = identities(subscriber)
                    subscribers.append((subscriber, msisdn, imsi))
        usage = await self.s.admin.get_customer_view(
            admin_pb2.GetCustomerRequest(customer_id=customer.id), call_of(principal)
        )
        found_bills, _ = await self.s.db.run(
            bills.of_account, self.s.db, list(customer.accounts), 0, 20
        )
        found_tickets, _ = await self.tickets.search(principal, customer=customer.id, limit=20)
        return {
            "customer": customer,
            "profile": dict(customer.profile),
            "accounts": accounts,
            "subscribers": subscribers,
            "sessions": sessions,
            "usage": usage.recent_usage,
            "bills": found_bills,
            "payments": await self.s.db.run(self.payments.of_account, list(customer.accounts)),
            "tickets": found_tickets,
            "trail": await self.s.db.run(activity.of_customer, self.s.db, customer.id),
            "now": self.s.clock(),
            "statuses": [s.value for s in Status if s is not Status.TERMINATED],
            "is_admin": request[SESSION].user.role is Role.ADMIN,
        }

    async def customer(self, request: web.Request) -> web.StreamResponse:
        data = await self.view(request, request.match_info["id"])
        return self.render(request, "care_customer.html", error="", code="", **data)

    async def act(self, request: web.Request) -> web.StreamResponse:
        customer_id = request.match_info["id"]
        action = request.path.rsplit("/", 1)[1]
        principal = self.principal(request)
        code = ""
        try:
            form = await self.form(request)
            reason = str(form.get("reason", ""))
            subscriber = str(form.get("subscriber", ""))
            account = str(form.get("account", ""))
            if action == "status":
                status = Status(str(form.get("status", "")))
                await self.care.set_status(principal, subscriber, status, reason)
                done = f"{subscriber} is {status.value}"
            elif action == "sim":
                await self.care.swap_sim(principal, subscriber, str(form.get("imsi", "")), reason)
                done = f"SIM swapped for {subscriber}"
            elif action == "msisdn":
                await self.care.change_msisdn(
                    principal, subscriber, str(form.get("msisdn", "")), reason
                )
                done = f"number changed for {subscriber}"
            elif action == "adjust":
                amount = minor_units(
                    "amount", str(form.get("amount", "")).strip() or "0", self.s.digits, signed=True
                )
                balance = await self.care.adjust(principal, account, amount, reason)
                done = f"adjusted {account}: wallet now {balance}"
            elif action == "credit-limit":
                limit = minor_units(
                    "credit_limit",
                    str(form.get("limit", "")).strip() or "0",
                    self.s.digits,
                    signed=True,
                )
                await self.care.set_credit_limit(principal, account, limit, reason)
                done = f"credit limit of {account} changed"
            else:
                code = await self.activation(principal, subscriber)
                done = ""
        except (ApiError, ValueError, PageError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            data = await self.view(request, customer_id)
            return self.render(request, "care_customer.html", 400, error=message, code="", **data)
        if code:
            data = await self.view(request, customer_id)
            return self.render(request, "care_customer.html", error="", code=code, **data)
        raise web.HTTPSeeOther(
            f"/care/customer/{customer_id}?" + notice(done[:1].upper() + done[1:])
        )

    async def activation(self, principal: Any, subscriber_id: str) -> str:
        """A one-use code for the subscriber to set its portal password (also e-mailed)."""
        subscriber = await self.care.subscriber(subscriber_id)
        msisdn, _ = identities(subscriber)
        if not msisdn:
            raise PageError("The subscriber has no MSISDN to sign in with.")
        customer_id, name, email = await self.s.contact(subscriber.account_id)
        code = await self.s.db.run(
            self.people.issue_activation, msisdn, name, customer_id, subscriber.account_id
        )
        now = self.s.clock()

        def log() -> None:
            with self.s.db.transaction() as cur:
                activity.record(
                    cur,
                    now,
                    f"{principal.role.value}:{principal.subject}",
                    "activation",
                    customer=customer_id,
                    account=subscriber.account_id,
                    subscriber=subscriber.id,
                )
                outbox.email(
                    cur,
                    email,
                    "activation",
                    {"name": name, "code": code, "url": self.s.config.url()},
                    f"activation:{subscriber.id}:{now}",
                    now,
                )

        await self.s.db.run(log)
        return code

    async def reports_page(self, request: web.Request) -> web.StreamResponse:
        days = _days(request)
        built = [
            await self.s.db.run(
                reports.build, self.s.db, self.s.catalog, name, self.s.clock(), days
            )
            for name in reports.NAMES
        ]
        return self.render(request, "reports.html", reports=built, days=days)

    async def report_csv(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in reports.NAMES:
            raise web.HTTPNotFound()
        report = await self.s.db.run(
            reports.build, self.s.db, self.s.catalog, name, self.s.clock(), _days(request)
        )
        return web.Response(
            text=report.csv(),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )


def _days(request: web.Request) -> int:
    text = request.query.get("days", "30")
    return int(text) if text.isdigit() and 1 <= int(text) <= 366 else 30
