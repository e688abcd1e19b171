"""Tickets in the portal: the subscriber opens and follows its own (notes, attachments,
close); care works the queue (take, move, note, ask for a credit note) and a second agent
approves credit notes above the four-eyes amount."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from ocs.api.errors import ApiError
from ocs.bss import bills
from ocs.portal.care_pages import staff_only
from ocs.portal.pages import SESSION, PageError, Pages, notice
from ocs.portal.subscriber import subscriber_only
from ocs.tickets.credit import Credits
from ocs.tickets.workflow import MOVES, SEVERITIES, Tickets
from ocs.tmf.http import minor_units


class TicketPages(Pages):
    def register(self, app: web.Application) -> None:
        self.tickets = Tickets(self.s)
        self.credits = Credits(self.s, self.tickets)
        app.router.add_get("/me/tickets", subscriber_only(self.mine))
        app.router.add_post("/me/tickets", subscriber_only(self.open))
        app.router.add_get("/me/tickets/{id}", subscriber_only(self.ticket))
        app.router.add_post("/me/tickets/{id}", subscriber_only(self.change))
        app.router.add_get("/care/tickets", staff_only(self.queue))
        app.router.add_get("/care/tickets/{id}", staff_only(self.ticket))
        app.router.add_post("/care/tickets/{id}", staff_only(self.change))
        app.router.add_post("/care/tickets/{id}/credit", staff_only(self.credit))
        app.router.add_get("/care/approvals", staff_only(self.approvals))
        app.router.add_post("/care/approvals/{id}", staff_only(self.decide))

    def principal(self, request: web.Request) -> Any:
        return request[SESSION].user.principal

    async def mine(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        principal = self.principal(request)
        found, _ = await self.tickets.search(principal, limit=100)
        user = request[SESSION].user
        own_bills, _ = await self.s.db.run(bills.of_account, self.s.db, [user.account], 0, 24)
        return self.render(
            request,
            "me_tickets.html",
            status,
            tickets=found,
            error=error,
            categories=self.tickets.categories,
            severities=SEVERITIES,
            bills=[b for b in own_bills if b.kind != "credit_note"],
            now=self.s.clock(),
        )

    async def open(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await self.form(request)
            ticket = await self.tickets.open(
                self.principal(request),
                account="",
                category=str(form.get("category", "")),
                name=str(form.get("name", "")),
                description=str(form.get("description", "")),
                severity=str(form.get("severity", "minor")),
                bill=str(form.get("bill", "")),
            )
        except (ApiError, PageError) as exc:
            return await self.mine(request, _message(exc), 400)
        raise web.HTTPSeeOther(f"/me/tickets/{ticket.id}?" + notice(f"Ticket {ticket.id} opened"))

    async def ticket(
        self, request: web.Request, error: str = "", status: int = 200
    ) -> web.Response:
        principal = self.principal(request)
        try:
            ticket = await self.tickets.get(principal, request.match_info["id"])
        except ApiError as exc:
            raise web.HTTPNotFound(text=exc.message) from None
        staff = request[SESSION].user.is_staff
        return self.render(
            request,
            "care_ticket.html" if staff else "me_ticket.html",
            status,
            ticket=ticket,
            error=error,
            now=self.s.clock(),
            moves=sorted(MOVES.get(ticket.state, ())),
            credits=await self.s.db.run(self.credits.of_ticket, ticket.id),
            threshold=self.s.config.credit_note_approval_above,
        )

    async def change(self, request: web.Request) -> web.StreamResponse:
        principal = self.principal(request)
        ticket_id = request.match_info["id"]
        try:
            form = await self.form(request)
            upload = form.get("attachment")
            if isinstance(upload, web.FileField) and upload.filename:
                content = upload.file.read(self.s.config.max_attachment_bytes + 1)
                await self.tickets.attach(
                    principal,
                    ticket_id,
                    str(upload.filename),
                    str(upload.content_type),
                    base64.b64encode(content).decode(),
                )
            assignee = None
            if form.get("take"):
                assignee = request[SESSION].user.login
            await self.tickets.update(
                principal,
                ticket_id,
                state=str(form.get("state", "")),
                note=str(form.get("note", "")),
                assignee=assignee,
                reason=str(form.get("reason", "")),
            )
        except (ApiError, PageError) as exc:
            return await self.ticket(request, _message(exc), 400)
        base = "/care" if request[SESSION].user.is_staff else "/me"
        raise web.HTTPSeeOther(f"{base}/tickets/{ticket_id}?" + notice("Ticket updated"))

    async def queue(self, request: web.Request) -> web.StreamResponse:
        principal = self.principal(request)
        which = request.query.get("show", "open")
        assignee = request[SESSION].user.login if which == "mine" else ""
        state = "" if which == "all" else "open"
        found, total = await self.tickets.search(
            principal, state=state, assignee=assignee, limit=200
        )
        return self.render(
            request, "care_tickets.html", tickets=found, total=total, show=which, now=self.s.clock()
        )

    async def credit(self, request: web.Request) -> web.StreamResponse:
        ticket_id = request.match_info["id"]
        try:
            form = await self.form(request)
            amount = minor_units(
                "amount", str(form.get("amount", "")).strip() or "0", self.s.digits
            )
            made = await self.credits.request(
                self.principal(request), ticket_id, amount, str(form.get("reason", ""))
            )
        except (ApiError, PageError) as exc:
            return await self.ticket(request, _message(exc), 400)
        text = (
            f"Credit note {made.document} issued"
            if made.state == "issued"
            else f"Credit note waits for a second agent's approval ({made.id})"
        )
        raise web.HTTPSeeOther(f"/care/tickets/{ticket_id}?" + notice(text))

    async def approvals(
        self, request: web.Request, error: str = "", status: int = 200
    ) -> web.Response:
        pending = await self.s.db.run(self.credits.pending)
        return self.render(
            request,
            "care_approvals.html",
            status,
            pending=pending,
            error=error,
            me=f"{request[SESSION].user.role.value}:{request[SESSION].user.login}",
        )

    async def decide(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await self.form(request)
            made = await self.credits.decide(
                self.principal(request), request.match_info["id"], form.get("decision") == "approve"
            )
        except (ApiError, PageError) as exc:
            return await self.approvals(request, _message(exc), 400)
        text = (
            f"Credit note {made.document} issued"
            if made.state == "issued"
            else f"Credit request {made.id} rejected"
        )
        raise web.HTTPSeeOther("/care/approvals?" + notice(text))


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, ApiError) else str(exc)
