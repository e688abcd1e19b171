"""TMF621 Trouble Ticket (v4): create, list, read, update (status, notes, attachments,
assignment), attachment content; and ocs's credit notes of a dispute (four eyes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocs.api.auth import Principal
from ocs.api.errors import invalid
from ocs.bss.context import Services
from ocs.tickets.credit import CreditRequest, Credits
from ocs.tickets.workflow import Ticket, Tickets
from ocs.tmf.http import (
    Route,
    iso,
    json_response,
    minor_units,
    paged,
    paging,
    read_json,
    text_field,
)

BASE = "/tmf-api/troubleTicket/v4"


def ticket_json(ticket: Ticket, now: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "@type": "TroubleTicket",
        "id": ticket.id,
        "href": f"{BASE}/troubleTicket/{ticket.id}",
        "name": ticket.name,
        "description": ticket.description,
        "ticketType": ticket.category,
        "severity": ticket.severity,
        "priority": "high" if ticket.breached(now) and ticket.is_open else "normal",
        "status": ticket.state,
        "creationDate": iso(ticket.created_ms),
        "lastUpdate": iso(ticket.updated_ms),
        "expectedResolutionDate": iso(ticket.due_ms),
        "relatedParty": [
            {"id": ticket.customer, "role": "customer", "@referredType": "Customer"},
            {"id": ticket.account, "role": "billingAccount", "@referredType": "BillingAccount"},
        ],
        "note": [
            {"id": n.id, "author": n.author, "date": iso(n.ts), "text": n.text}
            for n in ticket.notes
        ],
        "attachment": [
            {
                "id": a.id,
                "name": a.name,
                "mimeType": a.mime,
                "size": {"amount": a.size, "units": "bytes"},
                "url": f"{BASE}/troubleTicket/{ticket.id}/attachment/{a.id}",
            }
            for a in ticket.attachments
        ],
    }
    if ticket.assignee:
        result["relatedParty"].append(
            {"id": ticket.assignee, "role": "assignee", "@referredType": "Individual"}
        )
    if ticket.bill:
        result["relatedEntity"] = [
            {"id": ticket.bill, "role": "disputedBill", "@referredType": "CustomerBill"}
        ]
    if ticket.resolved_ms:
        result["resolutionDate"] = iso(ticket.resolved_ms)
    if ticket.resolution:
        result["statusChangeReason"] = ticket.resolution
    return result


def credit_json(request: CreditRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "ticket": request.ticket,
        "account": request.account,
        "bill": request.bill,
        "amount": request.amount,
        "reason": request.reason,
        "state": request.state,
        "requestedBy": request.requested_by,
        "approvedBy": request.approved_by,
        "document": request.document,
    }


CREDIT_SCHEMA = "Ocs.CreditRequest"


class TicketApi:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.tickets = Tickets(services)
        self.credits = Credits(services, self.tickets)

    def routes(self) -> list[Route]:
        tag = "TMF621 Trouble Ticket"
        roles = "subscriber (own account), care, admin"
        return [
            Route(
                "POST",
                f"{BASE}/troubleTicket",
                "createTroubleTicket",
                tag,
                "Open a ticket",
                self.create,
                {201: "TMF621.TroubleTicket"},
                body="TMF621.TroubleTicket_Create",
                roles=roles,
            ),
            Route(
                "GET",
                f"{BASE}/troubleTicket",
                "listTroubleTicket",
                tag,
                "Tickets (a subscriber's own), by status, account, customer or assignee",
                self.list,
                {200: "[TMF621.TroubleTicket]"},
                query=("status", "relatedParty.id", "account.id", "assignee", "offset", "limit"),
                roles=roles,
            ),
            Route(
                "GET",
                f"{BASE}/troubleTicket/{{id}}",
                "retrieveTroubleTicket",
                tag,
                "One ticket",
                self.get,
                {200: "TMF621.TroubleTicket"},
                roles=roles,
            ),
            Route(
                "PATCH",
                f"{BASE}/troubleTicket/{{id}}",
                "patchTroubleTicket",
                tag,
                "Change status, add notes and attachments, assign",
                self.patch,
                {200: "TMF621.TroubleTicket"},
                body="TMF621.TroubleTicket_Update",
                roles=roles,
            ),
            Route(
                "GET",
                f"{BASE}/troubleTicket/{{id}}/attachment/{{attachment}}",
                "retrieveTroubleTicketAttachment",
                tag,
                "An attachment's content",
                self.attachment,
                {200: None},
                roles=roles,
                content="application/octet-stream",
            ),
            Route(
                "POST",
                f"{BASE}/troubleTicket/{{id}}/creditNote",
                "createCreditNote",
                tag,
                "Ask for a credit note (issued at once up to the four-eyes amount)",
                self.credit,
                {201: CREDIT_SCHEMA},
                roles="care, admin",
            ),
            Route(
                "POST",
                f"{BASE}/creditRequest/{{id}}/decision",
                "decideCreditNote",
                tag,
                "A second agent approves or rejects a credit note",
                self.decide,
                {200: CREDIT_SCHEMA},
                roles="care, admin (not the one who asked)",
            ),
        ]

    async def create(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        body = await read_json(request)
        account, bill = "", ""
        for party in body.get("relatedParty") or []:
            if isinstance(party, dict) and party.get("@referredType") == "BillingAccount":
                account = str(party.get("id", ""))
        for entity in body.get("relatedEntity") or []:
            if isinstance(entity, dict) and entity.get("@referredType") == "CustomerBill":
                bill = str(entity.get("id", ""))
        ticket = await self.tickets.open(
            principal,
            account=account,
            category=text_field(body, "ticketType", required=True),
            name=text_field(body, "name") or text_field(body, "description", limit=5000)[:80],
            description=text_field(body, "description", required=True, limit=5000),
            severity=text_field(body, "severity", required=True),
            bill=bill,
        )
        for attachment in body.get("attachment") or []:
            await self._attach(principal, ticket.id, attachment)
        ticket = await self.tickets.get(principal, ticket.id)
        return json_response(ticket_json(ticket, self.s.clock()), 201)

    async def _attach(self, principal: Principal, ticket_id: str, attachment: Any) -> None:
        if not isinstance(attachment, dict):
            raise invalid("attachment", "must be objects {name, mimeType, content}")
        await self.tickets.attach(
            principal,
            ticket_id,
            text_field(attachment, "name", limit=200),
            text_field(attachment, "mimeType", limit=100),
            str(attachment.get("content") or ""),
        )

    async def list(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        offset, limit = paging(request)
        q = request.query
        found, total = await self.tickets.search(
            principal,
            account=q.get("account.id", ""),
            customer=q.get("relatedParty.id", ""),
            state=q.get("status", ""),
            assignee=q.get("assignee", ""),
            offset=offset,
            limit=limit,
        )
        now = self.s.clock()
        return paged([ticket_json(t, now) for t in found], total)

    async def get(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        ticket = await self.tickets.get(principal, request.match_info["id"])
        return json_response(ticket_json(ticket, self.s.clock()))

    async def patch(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        body = await read_json(request)
        ticket_id = request.match_info["id"]
        notes = body.get("note") or []
        if not isinstance(notes, list):
            raise invalid("note", "must be a list")
        text = "\n\n".join(str(n.get("text", "")) for n in notes if isinstance(n, dict))
        assignee = None
        for party in body.get("relatedParty") or []:
            if isinstance(party, dict) and party.get("role") == "assignee":
                assignee = str(party.get("id", ""))
        for attachment in body.get("attachment") or []:
            await self._attach(principal, ticket_id, attachment)
        ticket = await self.tickets.update(
            principal,
            ticket_id,
            state=text_field(body, "status"),
            reason=text_field(body, "statusChangeReason"),
            note=text,
            assignee=assignee,
        )
        return json_response(ticket_json(ticket, self.s.clock()))

    async def attachment(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        found, content = await self.tickets.attachment(
            principal, request.match_info["id"], request.match_info["attachment"]
        )
        return web.Response(
            body=content,
            content_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{found.id}"',
                "X-Content-Type": found.mime,
            },
        )

    async def credit(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        body = await read_json(request)
        amount = body.get("amount")
        if not isinstance(amount, dict):
            raise invalid("amount", "required: {value, unit}")
        minor = minor_units("amount.value", amount.get("value"), self.s.digits)
        made = await self.credits.request(
            principal, request.match_info["id"], minor, text_field(body, "reason", required=True)
        )
        return json_response(credit_json(made), 201)

    async def decide(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        body = await read_json(request)
        decision = text_field(body, "decision", required=True)
        if decision not in ("approve", "reject"):
            raise invalid("decision", "approve or reject")
        made = await self.credits.decide(principal, request.match_info["id"], decision == "approve")
        return json_response(credit_json(made))
