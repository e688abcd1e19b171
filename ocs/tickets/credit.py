"""Credit notes that end a billing dispute, with four eyes above an amount.

An agent asks for a credit on a ticket (usually a ``billing_dispute`` naming the disputed
bill). Up to ``[portal] credit_note_approval_above`` (minor units) it is issued at once; above,
it waits for a second agent (not the one who asked) to approve or reject it. Issuing is:

1. a refund of the amount to the account's main wallet through the balance engine
   (``BalanceStore.refund``, op id ``credit:<request id>``: idempotent, on the ledger and the
   statement like any refund);
2. a credit-note document through the billing bridge's functions (``issuing.issue``, the next
   ``CN-`` number; JSON and PDF written like every issued document), correcting the bill;
3. the disputed bill's outstanding amount reduced (``bills.credit``), so dunning stops;
4. the ticket resolved, the customer told, every step on the activity trail.

A credit note's document uses revision ``100 + n`` of the bill's period (``n`` counting the
account's dispute credit notes of that period), apart from the corrections the billing run
issues (revisions 0, 1, ...), which the ledger's uniqueness would otherwise mix up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from fractions import Fraction

from ocs.api.auth import Principal
from ocs.api.errors import invalid, not_found, permission_denied, precondition
from ocs.balance.model import OpResult
from ocs.billing_bridge.invoices import round_half_up
from ocs.bss import activity, bills
from ocs.bss.access import STAFF, actor, require
from ocs.bss.context import Services
from ocs.payments.service import restore_credit
from ocs.tickets.workflow import Tickets

COLUMNS = (
    "id, ticket, account, bill, amount, reason, state, requested_by, approved_by, created_ms, "
    "decided_ms, document"
)
DISPUTE_REVISION = 100


@dataclass(frozen=True, slots=True)
class CreditRequest:
    id: str
    ticket: str
    account: str
    bill: str
    amount: int
    reason: str
    state: str
    """``pending`` (four eyes), ``issued``, ``rejected``."""
    requested_by: str
    approved_by: str
    created_ms: int
    decided_ms: int
    document: str


class Credits:
    def __init__(self, services: Services, tickets: Tickets) -> None:
        self.s = services
        self.tickets = tickets

    def _load(self, request_id: str) -> CreditRequest | None:
        row = self.s.db.one(f"SELECT {COLUMNS} FROM credit_requests WHERE id = ?", (request_id,))
        return CreditRequest(*row) if row else None

    def pending(self) -> list[CreditRequest]:
        rows = self.s.db.rows(
            f"SELECT {COLUMNS} FROM credit_requests WHERE state = 'pending' ORDER BY created_ms"
        )
        return [CreditRequest(*r) for r in rows]

    def of_ticket(self, ticket: str) -> list[CreditRequest]:
        rows = self.s.db.rows(
            f"SELECT {COLUMNS} FROM credit_requests WHERE ticket = ? ORDER BY created_ms",
            (ticket,),
        )
        return [CreditRequest(*r) for r in rows]

    async def request(
        self, principal: Principal, ticket_id: str, amount: int, reason: str
    ) -> CreditRequest:
        require(principal, STAFF)
        ticket = await self.tickets.get(principal, ticket_id)
        if not ticket.is_open:
            raise precondition("TICKET_CLOSED", f"the ticket is {ticket.state}", "ticket")
        if not 0 < amount < 2**53:
            raise invalid("amount", "must be more than 0")
        reason = reason.strip()
        if not reason or len(reason) > 500:
            raise invalid("reason", "required, at most 500 characters")
        if ticket.bill:
            bill = await self.s.db.run(bills.get, self.s.db, ticket.bill)
            if bill is not None and amount > bill.total:
                raise invalid("amount", f"more than the bill's total {bill.total}")
        request = CreditRequest(
            f"CR-{uuid.uuid4().hex[:12]}",
            ticket.id,
            ticket.account,
            ticket.bill,
            amount,
            reason,
            "pending",
            actor(principal),
            "",
            self.s.clock(),
            0,
            "",
        )
        await self.s.db.run(
            self.s.db.write,
            f"INSERT INTO credit_requests ({COLUMNS}) VALUES ({', '.join('?' * 12)})",
            (
                request.id,
                request.ticket,
                request.account,
                request.bill,
                request.amount,
                request.reason,
                request.state,
                request.requested_by,
                "",
                request.created_ms,
                0,
                "",
            ),
        )
        await self.s.db.run(
            activity.log,
            self.s.db,
            self.s.clock(),
            actor(principal),
            "credit:request",
            customer=ticket.customer,
            account=ticket.account,
            ticket=ticket.id,
            amount=amount,
            request=request.id,
        )
        if amount <= self.s.config.credit_note_approval_above:
            return await self._issue(request, actor(principal))
        return request

    async def decide(self, principal: Principal, request_id: str, approve: bool) -> CreditRequest:
        require(principal, STAFF)
        request = await self.s.db.run(self._load, request_id)
        if request is None:
            raise not_found("credit request", request_id, "id")
        if request.state != "pending":
            raise precondition("CREDIT_DECIDED", f"the request is {request.state}", "id")
        if request.requested_by == actor(principal):
            raise permission_denied("a second agent must approve a credit note (four eyes)")
        if not approve:
            changed = await self.s.db.run(
                self.s.db.write,
                "UPDATE credit_requests SET state = 'rejected', approved_by = ?, decided_ms = ? "
                "WHERE id = ? AND state = 'pending'",
                (actor(principal), self.s.clock(), request.id),
            )
            if not changed:
                raise precondition("CREDIT_DECIDED", "decided by someone else", "id")
            await self.s.db.run(
                activity.log,
                self.s.db,
                self.s.clock(),
                actor(principal),
                "credit:reject",
                account=request.account,
                customer=(await self.s.contact(request.account))[0],
                request=request.id,
            )
            loaded = await self.s.db.run(self._load, request.id)
            assert loaded is not None
            return loaded
        return await self._issue(request, actor(principal))

    async def _issue(self, request: CreditRequest, approver: str) -> CreditRequest:
        claimed = await self.s.db.run(
            self.s.db.write,
            "UPDATE credit_requests SET state = 'issuing', approved_by = ?, decided_ms = ? "
            "WHERE id = ? AND state = 'pending'",
            (approver, self.s.clock(), request.id),
        )
        if not claimed:
            raise precondition("CREDIT_DECIDED", "decided by someone else", "id")
        now = self.s.clock()
        refund = await self._credit_wallet(request, approver, now)
        if refund is not None and not refund.ok:
            await self.s.db.run(
                self.s.db.write,
                "UPDATE credit_requests SET state = 'pending' WHERE id = ?",
                (request.id,),
            )
            raise precondition(refund.outcome.value, f"refund refused: {refund.message}", "amount")
        number = await self._document(request, now)
        if request.bill:
            await self.s.db.run(bills.credit, self.s.db, request.bill, request.amount, now)
            await restore_credit(self.s, request.bill)  # settled by the credit: credit back
        await self.s.db.run(
            self.s.db.write,
            "UPDATE credit_requests SET state = 'issued', document = ? WHERE id = ?",
            (number, request.id),
        )
        customer = (await self.s.contact(request.account))[0]
        await self.s.db.run(
            activity.log,
            self.s.db,
            now,
            approver,
            "credit:issue",
            customer=customer,
            account=request.account,
            ticket=request.ticket,
            amount=request.amount,
            document=number,
            request=request.id,
        )
        from ocs.api.auth import Role

        system = Principal(approver.partition(":")[2] or approver, Role.ADMIN)
        await self.tickets.update(
            system,
            request.ticket,
            state="resolved",
            note=f"Credit note {number} issued: {request.reason}",
            resolution=f"credit note {number}",
        )
        if request.bill:
            from ocs.payments.dunning import restore

            await restore(self.s, request.account)
        loaded = await self.s.db.run(self._load, request.id)
        assert loaded is not None
        return loaded

    async def _credit_wallet(
        self, request: CreditRequest, approver: str, now: int
    ) -> OpResult | None:
        """A prepaid account is credited in its wallet (an adjustment with the reason, shown on
        its statement). A postpaid account is credited on its bill only: the credit note
        lowers what it owes, and the wallet gets its credit back when the bill is settled
        (ocs.payments.service.restore_credit); crediting both would credit twice."""
        account = await self.s.store.get_account(request.account)
        if account is not None and account.credit_limit > 0 and request.bill:
            return None
        return await self.s.store.adjust(
            f"credit:{request.id}",
            request.account,
            "money",
            request.amount,
            reason=f"credit note: {request.reason}",
            actor=approver,
            now_ms=now,
        )

    async def _document(self, request: CreditRequest, now: int) -> str:
        """The credit-note document through the billing bridge's own functions: the issuer,
        addressee, payment details and time zone of the bill it corrects; net and tax exact
        (tax once on the net, as on every document), adding up to the amount credited."""
        from ocs.billing_bridge.documents import write_json
        from ocs.billing_bridge.invoices import Document, Line, tax_summary
        from ocs.billing_bridge.issuing import issue, stored
        from ocs.billing_bridge.pdf import write_pdf

        data = (
            await self.s.db.run(bills.document, self.s.db, request.bill) if request.bill else None
        )
        original = Document.from_json(data) if data else None
        account = await self.s.store.get_account(request.account)
        if account is None:
            raise not_found("account", request.account, "account")
        percent = original.tax_percent if original else 0
        lines = (Line("credit", f"Credit: {request.reason}", -_net_of(request.amount, percent)),)
        taxes = tax_summary(lines, percent)
        net, tax = lines[0].amount, sum(t.tax for t in taxes)
        period = original.period if original else "adhoc"
        existing = await self.s.db.run(stored, self.s.db, request.account, period)
        revision = DISPUTE_REVISION + sum(
            1 for d in existing if d.kind == "credit_note" and d.revision >= DISPUTE_REVISION
        )
        document = Document(
            "credit_note",
            request.account,
            account.customer_id,
            account.currency,
            period,
            original.period_start_ms if original else now,
            original.period_end_ms if original else now,
            lines,
            net,
            percent,
            tax,
            net + tax,
            corrects=request.bill,
            revision=revision,
            taxes=taxes,
            timezone=original.timezone if original else account.timezone,
        )
        if original is not None:
            document = replace(
                document,
                issuer=original.issuer,
                bill_to=original.bill_to,
                payment=original.payment,
            )
        issued, _ = await self.s.db.run(issue, self.s.db, document, now)
        directory = self.s.documents_dir / "invoices" / issued.period
        await self.s.db.run(write_json, issued, directory)
        await self.s.db.run(lambda: write_pdf(issued, directory, digits=self.s.digits))
        return issued.number


def _net_of(gross: int, percent: int) -> int:
    """The net whose tax (rounded half away from zero) makes up ``gross`` exactly, if one does
    (the nearest otherwise)."""
    guess = round_half_up(Fraction(gross * 100, 100 + percent))
    for net in (guess, guess - 1, guess + 1):
        if net + round_half_up(Fraction(net * percent, 100)) == gross:
            return net
    return guess
