"""Tickets: states, who may move them, SLA timers, notes and attachments.

States (TMF621 names): ``acknowledged`` (new) -> ``inProgress`` <-> ``pending`` (waiting for
the customer) -> ``resolved`` -> ``closed``; ``cancelled`` and ``rejected`` end it early; a
resolved ticket can be reopened (``inProgress``). The customer may open, comment, attach,
cancel, close or reopen its own tickets; a comment on a ``pending`` ticket sets it back to
``inProgress``. Agents may do everything and take (be assigned) a ticket.

SLA: each category has a resolution time (``[portal] ticket_sla_hours``); a ticket is
*breached* when it was resolved after its due time, or is still open past it.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from typing import Any

from ocs.api.auth import Principal, Role
from ocs.api.errors import invalid, not_found, permission_denied, precondition
from ocs.bss import activity
from ocs.bss.access import SELF_CARE, STAFF, actor, require, require_account
from ocs.bss.context import Services
from ocs.notify import outbox

HOUR_MS = 3_600_000
OPEN = ("acknowledged", "inProgress", "pending")
STATES = ("acknowledged", "inProgress", "pending", "resolved", "closed", "cancelled", "rejected")
MOVES = {
    "acknowledged": {"inProgress", "pending", "resolved", "cancelled", "rejected"},
    "inProgress": {"pending", "resolved", "cancelled"},
    "pending": {"inProgress", "resolved", "cancelled"},
    "resolved": {"closed", "inProgress"},
}
CUSTOMER_MOVES = {
    ("acknowledged", "cancelled"),
    ("inProgress", "cancelled"),
    ("pending", "cancelled"),
    ("pending", "inProgress"),
    ("resolved", "closed"),
    ("resolved", "inProgress"),
}
SEVERITIES = ("minor", "major", "critical")
MIME = ("image/png", "image/jpeg", "application/pdf", "text/plain")
COLUMNS = (
    "id, customer, account, category, severity, name, description, state, assignee, bill, "
    "created_by, created_ms, updated_ms, due_ms, resolved_ms, resolution"
)

NAMES = [c.strip() for c in COLUMNS.split(",")]


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    ts: int
    author: str
    text: str


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    name: str
    mime: str
    size: int
    author: str
    ts: int


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    customer: str
    account: str
    category: str
    severity: str
    name: str
    description: str
    state: str
    assignee: str
    bill: str
    created_by: str
    created_ms: int
    updated_ms: int
    due_ms: int
    resolved_ms: int
    resolution: str
    notes: tuple[Note, ...] = field(default=())
    attachments: tuple[Attachment, ...] = field(default=())

    def breached(self, now_ms: int) -> bool:
        end = self.resolved_ms or (now_ms if self.state in OPEN else self.updated_ms)
        return end > self.due_ms

    @property
    def is_open(self) -> bool:
        return self.state in OPEN


def _text(name: str, value: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise invalid(name, "required")
    if len(value) > limit:
        raise invalid(name, f"at most {limit} characters")
    return value


class Tickets:
    def __init__(self, services: Services) -> None:
        self.s = services

    @property
    def categories(self) -> list[str]:
        return sorted(self.s.config.ticket_sla_hours)

    # -- reading ----------------------------------------------------------------------------

    def _load(self, ticket_id: str) -> Ticket | None:
        row = self.s.db.one(f"SELECT {COLUMNS} FROM tickets WHERE id = ?", (ticket_id,))
        if row is None:
            return None
        notes = tuple(
            Note(str(r[0]), int(r[1]), str(r[2]), str(r[3]))
            for r in self.s.db.rows(
                "SELECT id, ts, author, text FROM ticket_notes WHERE ticket = ? ORDER BY ts, id",
                (ticket_id,),
            )
        )
        files = tuple(
            Attachment(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), int(r[5]))
            for r in self.s.db.rows(
                "SELECT id, name, mime, size, author, ts FROM ticket_attachments "
                "WHERE ticket = ? ORDER BY ts, id",
                (ticket_id,),
            )
        )
        values: dict[str, Any] = dict(zip(NAMES, row, strict=True))
        return Ticket(**values, notes=notes, attachments=files)

    async def get(self, principal: Principal, ticket_id: str) -> Ticket:
        require(principal, SELF_CARE)
        ticket = await self.s.db.run(self._load, ticket_id) if ticket_id else None
        if ticket is None:
            raise not_found("ticket", ticket_id, "id")
        require_account(principal, ticket.account)
        return ticket

    async def search(
        self,
        principal: Principal,
        *,
        account: str = "",
        customer: str = "",
        state: str = "",
        assignee: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Ticket], int]:
        require(principal, SELF_CARE)
        if principal.role is Role.SUBSCRIBER:
            account = principal.account_id
        where, params = ["1 = 1"], []
        for column, value in (("account", account), ("customer", customer), ("assignee", assignee)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if state == "open":
            where.append("state IN ('acknowledged', 'inProgress', 'pending')")
        elif state:
            if state not in STATES:
                raise invalid("status", f"one of {', '.join(STATES)} (or open)")
            where.append("state = ?")
            params.append(state)
        clause = " AND ".join(where)
        rows = await self.s.db.run(
            self.s.db.rows,
            f"SELECT id FROM tickets WHERE {clause} ORDER BY due_ms, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        total = await self.s.db.run(
            self.s.db.one, f"SELECT COUNT(*) FROM tickets WHERE {clause}", tuple(params)
        )
        found = [await self.s.db.run(self._load, str(r[0])) for r in rows]
        return [t for t in found if t is not None], int(total[0]) if total else 0

    # -- changing ---------------------------------------------------------------------------

    async def open(
        self,
        principal: Principal,
        *,
        account: str,
        category: str,
        name: str,
        description: str,
        severity: str = "minor",
        bill: str = "",
    ) -> Ticket:
        require(principal, SELF_CARE)
        if principal.role is Role.SUBSCRIBER:
            account = account or principal.account_id
        require_account(principal, account)
        if category not in self.s.config.ticket_sla_hours:
            raise invalid("ticketType", f"one of {', '.join(self.categories)}")
        if severity not in SEVERITIES:
            raise invalid("severity", f"one of {', '.join(SEVERITIES)}")
        name = _text("name", name, 200, required=True)
        description = _text("description", description, 5000, required=True)
        found = await self.s.store.get_account(account) if account else None
        if found is None:
            raise not_found("account", account, "relatedParty")
        if bill:
            from ocs.bss import bills

            known = await self.s.db.run(bills.get, self.s.db, bill)
            if known is None or known.account != account:
                raise not_found("bill", bill, "relatedEntity")
        now = self.s.clock()
        due = now + self.s.config.ticket_sla_hours[category] * HOUR_MS
        contact = await self.s.contact(account)

        def write() -> str:
            with self.s.db.transaction() as cur:
                number = self.s.db.next_number(cur, "ticket")
                ticket_id = f"TT-{number:06d}"
                cur.execute(
                    f"INSERT INTO tickets ({COLUMNS}) VALUES ({', '.join('?' * 16)})",
                    (
                        ticket_id,
                        found.customer_id,
                        account,
                        category,
                        severity,
                        name,
                        description,
                        "acknowledged",
                        "",
                        bill,
                        actor(principal),
                        now,
                        now,
                        due,
                        0,
                        "",
                    ),
                )
                activity.record(
                    cur,
                    now,
                    actor(principal),
                    "ticket:open",
                    customer=found.customer_id,
                    account=account,
                    ticket=ticket_id,
                    category=category,
                )
                self._tell(cur, contact, ticket_id, name, "acknowledged", "", now)
                return ticket_id

        return await self.get(principal, await self.s.db.run(write))

    def _tell(
        self,
        cur: object,
        contact: tuple[str, str, str],
        ticket_id: str,
        name: str,
        state: str,
        note: str,
        now: int,
    ) -> None:
        from ocs.billing_bridge.ledger import LedgerCursor

        assert isinstance(cur, LedgerCursor)
        outbox.email(
            cur,
            contact[2],
            "ticket_update",
            {
                "name": contact[1],
                "ticket": ticket_id,
                "title": name,
                "state": state,
                "note": note,
                "url": self.s.config.url(),
            },
            f"ticket:{ticket_id}:{state}:{now}",
            now,
        )
        outbox.publish(
            cur,
            "troubleTicket",
            "TroubleTicketStatusChangeEvent",
            {"troubleTicket": {"id": ticket_id, "status": state}},
            f"ticket:{ticket_id}:{state}:{now}",
            now,
        )

    async def update(
        self,
        principal: Principal,
        ticket_id: str,
        *,
        state: str = "",
        reason: str = "",
        note: str = "",
        assignee: str | None = None,
        resolution: str = "",
    ) -> Ticket:
        ticket = await self.get(principal, ticket_id)
        staff = principal.role in STAFF
        note = _text("note", note, 5000)
        reason = _text("statusChangeReason", reason, 500)
        if assignee is not None:
            if not staff:
                raise permission_denied("only care assigns tickets")
            assignee = _text("assignee", assignee, 64)
        new_state = state or ticket.state
        if state and state != ticket.state:
            if state not in MOVES.get(ticket.state, set()):
                raise precondition(
                    "TICKET_STATE", f"a {ticket.state} ticket cannot become {state}", "status"
                )
            if not staff and (ticket.state, state) not in CUSTOMER_MOVES:
                raise permission_denied(f"care moves a ticket from {ticket.state} to {state}")
        elif note and not staff and ticket.state == "pending":
            new_state = "inProgress"
        if not ticket.is_open and note and ticket.state in ("closed", "cancelled", "rejected"):
            raise precondition("TICKET_CLOSED", f"the ticket is {ticket.state}", "note")
        now = self.s.clock()
        contact = await self.s.contact(ticket.account)

        def write() -> None:
            with self.s.db.transaction() as cur:
                resolved = (
                    now
                    if new_state == "resolved" and ticket.state != "resolved"
                    else (0 if new_state in OPEN else ticket.resolved_ms)
                )
                cur.execute(
                    "UPDATE tickets SET state = ?, assignee = ?, updated_ms = ?, resolved_ms = ?, "
                    "resolution = ? WHERE id = ?",
                    (
                        new_state,
                        ticket.assignee if assignee is None else assignee,
                        now,
                        resolved,
                        resolution or ticket.resolution,
                        ticket.id,
                    ),
                )
                if note:
                    cur.execute(
                        "INSERT INTO ticket_notes (id, ticket, ts, author, text) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (uuid.uuid4().hex, ticket.id, now, actor(principal), note),
                    )
                if new_state != ticket.state or assignee is not None:
                    activity.record(
                        cur,
                        now,
                        actor(principal),
                        "ticket:update",
                        customer=ticket.customer,
                        account=ticket.account,
                        ticket=ticket.id,
                        state=new_state,
                        reason=reason,
                        assignee=assignee or "",
                    )
                if new_state != ticket.state or (note and staff):
                    self._tell(
                        cur, contact, ticket.id, ticket.name, new_state, note if staff else "", now
                    )

        await self.s.db.run(write)
        return await self.get(principal, ticket.id)

    async def attach(
        self, principal: Principal, ticket_id: str, name: str, mime: str, content_b64: str
    ) -> Attachment:
        ticket = await self.get(principal, ticket_id)
        if not ticket.is_open and ticket.state != "resolved":
            raise precondition("TICKET_CLOSED", f"the ticket is {ticket.state}", "attachment")
        name = _text("attachment.name", name, 200, required=True)
        if mime not in MIME:
            raise invalid("attachment.mimeType", f"one of {', '.join(MIME)}")
        limit = self.s.config.max_attachment_bytes
        if len(content_b64) > (limit * 4) // 3 + 8:
            raise invalid("attachment.content", f"at most {limit} bytes")
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("attachment.content", "must be base64") from None
        if len(content) > limit:
            raise invalid("attachment.content", f"at most {limit} bytes")
        if len(ticket.attachments) >= self.s.config.max_attachments:
            raise precondition(
                "TOO_MANY_ATTACHMENTS",
                f"at most {self.s.config.max_attachments} per ticket",
                "attachment",
            )
        attachment = Attachment(
            uuid.uuid4().hex, name, mime, len(content), actor(principal), self.s.clock()
        )
        await self.s.db.run(
            self.s.db.write,
            "INSERT INTO ticket_attachments (id, ticket, name, mime, size, content, author, ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attachment.id,
                ticket.id,
                name,
                mime,
                len(content),
                content,
                attachment.author,
                attachment.ts,
            ),
        )
        return attachment

    async def attachment(
        self, principal: Principal, ticket_id: str, attachment_id: str
    ) -> tuple[Attachment, bytes]:
        ticket = await self.get(principal, ticket_id)
        row = await self.s.db.run(
            self.s.db.one,
            "SELECT id, name, mime, size, author, ts, content FROM ticket_attachments "
            "WHERE id = ? AND ticket = ?",
            (attachment_id, ticket.id),
        )
        if row is None:
            raise not_found("attachment", attachment_id, "attachment")
        return (
            Attachment(
                str(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), int(row[5])
            ),
            bytes(row[6]),
        )
