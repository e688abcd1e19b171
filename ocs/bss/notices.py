"""What the BSS tells people and subscribed systems on its own: a bill issued, a balance
threshold crossed. (Payments, dunning and tickets tell of themselves where they happen.)"""

from __future__ import annotations

from collections.abc import Sequence

from ocs.balance.events import Event
from ocs.bss import bills
from ocs.bss.bills import Bill
from ocs.bss.context import Services
from ocs.notify import outbox
from ocs.portal.pages import money, quantity, when


async def sync_bills(s: Services) -> list[Bill]:
    """New documents in the ledger become bills, announced by e-mail and to the hub."""
    new = await s.db.run(bills.sync, s.db, s.config.payment_terms_days)
    if new:
        contacts = {b.account: await s.contact(b.account) for b in new}
        await s.db.run(_announce, s, new, contacts)
    return new


def _announce(s: Services, new: list[Bill], contacts: dict[str, tuple[str, str, str]]) -> None:
    now = s.clock()
    with s.db.transaction() as cur:
        for bill in new:
            person = contacts[bill.account][1:]
            if bill.kind != "credit_note":
                outbox.email(
                    cur,
                    str(person[1]),
                    "bill_issued",
                    {
                        "name": person[0],
                        "number": bill.number,
                        "period": bill.period,
                        "kind": bill.kind.replace("_", " "),
                        "reference": bill.reference,
                        "total": money(bill.total, bill.currency, s.digits),
                        "due": when(bill.due_ms, with_time=False),
                        "url": s.config.url(),
                    },
                    f"bill:{bill.number}",
                    now,
                )
            outbox.publish(
                cur,
                "customerBillManagement",
                "CustomerBillCreateEvent",
                {
                    "customerBill": {
                        "id": bill.number,
                        "billNo": bill.number,
                        "billingAccount": {"id": bill.account},
                        "href": f"/tmf-api/customerBillManagement/v4/customerBill/{bill.number}",
                    }
                },
                f"bill:{bill.number}",
                now,
            )


async def on_events(s: Services, events: Sequence[Event], now: int) -> None:
    """Threshold events of the balance engine: hub ``BucketThresholdEvent`` and an e-mail."""
    crossings = [e for e in events if e.data.get("type") == "threshold"]
    if crossings:
        accounts = {_owner(e) for e in crossings}
        contacts = {a: await s.contact(a) for a in accounts}
        await s.db.run(_thresholds, s, crossings, contacts, now)


def _owner(event: Event) -> str:
    owner = str(event.data.get("bucket", "")).rpartition("/")[0]
    return owner or str(event.data.get("acct", ""))


def _thresholds(
    s: Services, events: list[Event], contacts: dict[str, tuple[str, str, str]], now: int
) -> None:
    with s.db.transaction() as cur:
        for event in events:
            data = event.data
            account = str(data.get("acct", ""))
            label = str(data.get("bucket", ""))
            owner, _, bucket = label.rpartition("/")
            account = owner or account
            unit = str(data.get("unit", "money"))
            left = int(data.get("balance", 0))
            outbox.publish(
                cur,
                "prepayBalanceManagement",
                "BucketThresholdEvent",
                {
                    "bucket": {"id": f"{account}~{bucket}", "partyAccount": {"id": account}},
                    "kind": data.get("kind"),
                    "mark": data.get("mark"),
                    "remaining": left,
                    "unit": unit,
                },
                event.id,
                now,
            )
            _, name, email = contacts.get(account, ("", "", ""))
            person = (name, email)
            shown = money(left, s.currency, s.digits) if unit == "money" else quantity(left, unit)
            what = "Your balance" if unit == "money" else f"Your allowance {bucket}"
            outbox.email(
                cur,
                str(person[1]),
                "low_balance",
                {"name": person[0], "what": what, "left": shown, "url": s.config.url()},
                event.id,
                now,
            )
