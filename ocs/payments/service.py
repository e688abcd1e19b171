"""Payments: checkouts we start with a provider, and the payments it (or the bank) confirms.

The provider interface is one documented integration path (docs/portal.md):

1. we create a **checkout** (``payment_intents``: account, bill or wallet, amount) and send the
   person to the provider's page with its id as the reference;
2. the provider calls ``POST /payments/webhook`` with ``{"id", "status", "amount", "reference"}``
   signed with the shared secret (:mod:`ocs.payments.signature`: HMAC-SHA256, timestamped,
   replay-protected);
3. :meth:`Payments.apply` records the payment **once per provider payment id** (a repeat with
   the same content answers as the first time; the same id with other content is refused) and
   either marks the **bill** paid (settled when paid and credited reach its total; dunning bars
   are lifted) or credits the **prepaid wallet** through the balance engine (top-up idempotent
   by ``pay:<provider id>``, sessions re-authorized).

Bank transfers found in a camt.053 statement (:mod:`ocs.payments.camt053`) are applied the same
way, matched to bills by their payment reference.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import grpc

from ocs.api.auth import Principal, Role
from ocs.api.errors import ApiError, invalid, not_found, precondition
from ocs.balance.model import Outcome
from ocs.bss import activity, bills
from ocs.bss.access import SELF_CARE, require, require_account
from ocs.bss.context import Services
from ocs.notify import outbox
from ocs.portal.pages import money
from ocs.tmf import metrics

MAX_AMOUNT = 10_000_000_00


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    account: str
    bill: str
    amount: int
    currency: str
    state: str


@dataclass(frozen=True, slots=True)
class Applied:
    provider_id: str
    state: str
    """``paid`` (a bill), ``credited`` (a wallet), ``failed`` (the provider said so)."""
    account: str
    bill: str
    amount: int
    replayed: bool


class Payments:
    def __init__(self, services: Services) -> None:
        self.s = services

    # -- checkouts --------------------------------------------------------------------------

    async def checkout(
        self, principal: Principal, account: str, amount: int, bill_number: str = ""
    ) -> Intent:
        require(principal, SELF_CARE)
        require_account(principal, account)
        if bill_number:
            bill = await self.s.db.run(bills.get, self.s.db, bill_number)
            if bill is None or bill.account != account:
                raise not_found("bill", bill_number, "bill")
            if bill.state != "open" or not bill.outstanding:
                raise precondition("BILL_SETTLED", f"bill {bill_number} has nothing to pay", "bill")
            amount = bill.outstanding
        elif not 0 < amount <= MAX_AMOUNT:
            raise invalid("amount", "must be more than 0")
        if await self.s.store.get_account(account) is None:
            raise not_found("account", account, "account")
        intent = Intent(
            f"chk_{uuid.uuid4().hex}", account, bill_number, amount, self.s.currency, "open"
        )
        await self.s.db.run(
            self.s.db.write,
            "INSERT INTO payment_intents (id, account, bill, amount, currency, state, created_by, "
            "created_ms) VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
            (
                intent.id,
                account,
                bill_number,
                amount,
                intent.currency,
                principal.subject,
                self.s.clock(),
            ),
        )
        return intent

    def intent(self, intent_id: str) -> Intent | None:
        row = self.s.db.one(
            "SELECT id, account, bill, amount, currency, state FROM payment_intents WHERE id = ?",
            (intent_id,),
        )
        return (
            Intent(str(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), str(row[5]))
            if row
            else None
        )

    # -- confirmed payments -----------------------------------------------------------------

    async def notice(self, body: dict[str, Any]) -> Applied:
        """The provider's webhook body, already verified: validate, then apply."""
        from ocs.tmf.http import minor_units, text_field

        provider_id = text_field(body, "id", required=True, limit=128)
        status = text_field(body, "status", required=True, limit=32)
        reference = text_field(body, "reference", required=True, limit=128)
        amount = body.get("amount")
        if not isinstance(amount, dict):
            raise invalid("amount", "required: {value, unit}")
        minor = minor_units("amount.value", amount.get("value"), self.s.digits)
        currency = text_field(amount, "unit", required=True, limit=3)
        if status not in ("succeeded", "failed"):
            raise invalid("status", "succeeded or failed")
        intent = await self.s.db.run(self.intent, reference)
        if intent is None:
            raise not_found("checkout", reference, "reference")
        if status == "failed":
            return Applied(provider_id, "failed", intent.account, intent.bill, 0, False)
        return await self.apply(
            provider_id,
            intent.account,
            intent.bill,
            minor,
            currency,
            source="webhook",
            reference=reference,
        )

    async def apply(
        self,
        provider_id: str,
        account: str,
        bill_number: str,
        amount: int,
        currency: str,
        *,
        source: str,
        reference: str,
    ) -> Applied:
        if currency != self.s.currency:
            raise invalid("amount.unit", f"payments are in {self.s.currency}")
        digest = hashlib.sha256(
            json.dumps([account, bill_number, amount, currency]).encode()
        ).hexdigest()
        first = await self.s.db.run(
            self._record,
            provider_id,
            account,
            bill_number,
            amount,
            currency,
            source,
            reference,
            digest,
            await self.s.contact(account),
        )
        if bill_number:
            state = "paid"
        else:
            topped = await self.s.operations.topup(
                f"pay:{provider_id}", account, amount, currency, actor=f"payments:{source}"
            )
            if topped.outcome is not Outcome.OK:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"wallet top-up refused: {topped.outcome.value}",
                    field="reference",
                    reason=topped.outcome.value,
                )
            state = "credited"
        metrics.PAYMENTS.labels(source, "new" if first else "replayed").inc()
        if first:
            await self.after_payment(account, bill_number)
        return Applied(provider_id, state, account, bill_number, amount, not first)

    def _record(
        self,
        provider_id: str,
        account: str,
        bill_number: str,
        amount: int,
        currency: str,
        source: str,
        reference: str,
        digest: str,
        contact: tuple[str, str, str],
    ) -> bool:
        """Record the payment and its effect on the bill; False if it was recorded before."""
        now = self.s.clock()
        with self.s.db.transaction() as cur:
            cur.execute("SELECT digest FROM payments WHERE provider_id = ?", (provider_id,))
            row = cur.fetchone()
            if row is not None:
                if row[0] != digest:
                    raise ApiError(
                        grpc.StatusCode.ALREADY_EXISTS,
                        f"payment {provider_id} was recorded with other content",
                        field="id",
                    )
                return False
            cur.execute(
                "INSERT INTO payments (provider_id, intent, account, bill, amount, currency, "
                "source, reference, received_ms, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    provider_id,
                    reference if source == "webhook" else "",
                    account,
                    bill_number,
                    amount,
                    currency,
                    source,
                    reference,
                    now,
                    digest,
                ),
            )
            cur.execute("UPDATE payment_intents SET state = 'paid' WHERE id = ?", (reference,))
            customer, name, email = contact
            if bill_number:
                cur.execute(
                    "UPDATE bills SET paid = paid + ? WHERE number = ? AND state = 'open'",
                    (amount, bill_number),
                )
                cur.execute(
                    "UPDATE bills SET state = 'settled', settled_ms = ? WHERE number = ? AND "
                    "state = 'open' AND paid + credited >= total",
                    (now, bill_number),
                )
            activity.record(
                cur,
                now,
                f"payments:{source}",
                "payment",
                customer=customer,
                account=account,
                bill=bill_number,
                amount=amount,
                provider_id=provider_id,
            )
            outbox.email(
                cur,
                email,
                "payment_received",
                {
                    "name": name,
                    "amount": money(amount, currency, self.s.digits),
                    "bill": bill_number,
                },
                f"payment:{provider_id}",
                now,
            )
            if bill_number:
                cur.execute("SELECT state FROM bills WHERE number = ?", (bill_number,))
                state = cur.fetchone()
                outbox.publish(
                    cur,
                    "customerBillManagement",
                    "CustomerBillStateChangeEvent",
                    {
                        "customerBill": {
                            "id": bill_number,
                            "state": "settled"
                            if state and state[0] == "settled"
                            else "partiallyPaid",
                        }
                    },
                    f"bill:{bill_number}:payment:{provider_id}",
                    now,
                )
        return True

    async def after_payment(self, account: str, bill_number: str) -> None:
        """A settled bill gives a postpaid account back its credit; a settled account gets
        back what dunning barred."""
        from ocs.payments.dunning import restore

        if bill_number:
            await restore_credit(self.s, bill_number)
        await restore(self.s, account)

    def of_account(self, accounts: list[str], limit: int = 50) -> list[tuple[Any, ...]]:
        if not accounts:
            return []
        marks = ",".join("?" for _ in accounts)
        return self.s.db.rows(
            "SELECT provider_id, account, bill, amount, currency, source, received_ms "
            f"FROM payments WHERE account IN ({marks}) ORDER BY received_ms DESC LIMIT ?",
            (*accounts, limit),
        )


def webhook_principal() -> Principal:
    return Principal("payment-provider", Role.NETWORK_FUNCTION)


async def restore_credit(services: Services, bill_number: str) -> None:
    """Once a postpaid invoice is settled (paid, and credited by credit notes), the money its
    charges took from the account's wallet (its lines of money movements: usage, purchases,
    fees, less refunds and adjustments; not discounts nor tax, which never touched the wallet)
    goes back to the wallet, so the credit limit is free again: a top-up with payment id
    ``settle:<bill>``, once however often the bill is paid."""
    from ocs.billing_bridge.invoices import Document
    from ocs.billing_bridge.reconcile_documents import INVOICE_SIGN
    from ocs.bss import bills

    bill = await services.db.run(bills.get, services.db, bill_number)
    data = await services.db.run(bills.document, services.db, bill_number)
    if bill is None or data is None or bill.state != "settled":
        return
    document = Document.from_json(data)
    if document.kind != "invoice":
        return
    owed = sum(line.amount for line in document.lines if line.kind in INVOICE_SIGN)
    if owed <= 0:
        return
    await services.operations.topup(
        f"settle:{bill_number}",
        document.account,
        owed,
        document.currency,
        actor="payments:settlement",
    )
