"""Dunning as a workflow: an open bill past its due date walks through the steps of its
customer's segment (``[portal] dunning``: remind after N days, bar after M), one step at a
time, each recorded on the account's activity trail (what care sees) and told to the customer
by e-mail. Barring sets the account's active subscribers to ``barred`` (charging refuses them
at once); the moment the account has no overdue bill at a barring step any more (paid, or
credited), :func:`restore` sets exactly the subscribers dunning barred back to active.

Every change carries an operation id made of the bill, the step and the subscriber, so a
step that is run twice (a restart, two processes) changes nothing the second time."""

from __future__ import annotations

import logging

from ocs.balance.model import Status
from ocs.bss import activity, bills
from ocs.bss.bills import Bill
from ocs.bss.context import Services
from ocs.notify import outbox
from ocs.portal.pages import money, when

log = logging.getLogger("ocs.payments")

DAY_MS = 86_400_000
ACTOR = "system:dunning"


async def run_once(s: Services) -> int:
    """Apply every step now due; how many steps were applied."""
    now = s.clock()
    applied = 0
    for bill in await s.db.run(bills.open_bills, s.db):
        if bill.due_ms >= now:
            continue
        segment = await s.db.run(s.directory.segment, bill.customer)
        steps = s.config.dunning.get(segment) or s.config.dunning["consumer"]
        overdue_days = (now - bill.due_ms) // DAY_MS
        for index in range(bill.dunning_step, len(steps)):
            step = steps[index]
            if step.days > overdue_days:
                break
            await _step(s, bill, index, step.action, now)
            applied += 1
    return applied


async def _step(s: Services, bill: Bill, index: int, action: str, now: int) -> None:
    barred: list[str] = []
    if action == "bar":
        account = await s.store.get_account(bill.account)
        for subscriber_id in account.subscribers if account else ():
            subscriber = await s.store.get_subscriber(subscriber_id)
            if subscriber is None or subscriber.status is not Status.ACTIVE:
                continue
            result = await s.store.set_subscriber_status(
                f"dunning:{bill.number}:{index}:{subscriber_id}",
                subscriber_id,
                Status.BARRED,
                now_ms=now,
                actor=ACTOR,
                reason=f"dunning: bill {bill.number} unpaid",
            )
            if result.ok:
                barred.append(subscriber_id)
    await s.db.run(_record, s, bill, index, action, barred, now, await s.contact(bill.account))
    log.info(
        "dunning step bill=%s account=%s step=%d action=%s barred=%d",
        bill.number,
        bill.account,
        index,
        action,
        len(barred),
    )


def _record(
    s: Services,
    bill: Bill,
    index: int,
    action: str,
    barred: list[str],
    now: int,
    contact: tuple[str, str, str],
) -> None:
    with s.db.transaction() as cur:
        advanced = cur.execute(
            "UPDATE bills SET dunning_step = ? WHERE number = ? AND dunning_step = ?",
            (index + 1, bill.number, index),
        )
        if not advanced:
            return  # another round (or process) took this step: it records and tells
        for subscriber in barred:
            cur.execute("DELETE FROM dunning_bars WHERE subscriber = ?", (subscriber,))
            cur.execute(
                "INSERT INTO dunning_bars (subscriber, account, bill, ts) VALUES (?, ?, ?, ?)",
                (subscriber, bill.account, bill.number, now),
            )
        activity.record(
            cur,
            now,
            ACTOR,
            f"dunning:{action}",
            customer=bill.customer,
            account=bill.account,
            bill=bill.number,
            step=index + 1,
            outstanding=bill.outstanding,
            barred=barred,
        )
        person = contact[1:]
        if person[1]:
            outbox.email(
                cur,
                str(person[1]),
                "service_barred" if action == "bar" else "dunning_reminder",
                {
                    "name": person[0],
                    "number": bill.number,
                    "reference": bill.reference,
                    "outstanding": money(bill.outstanding, bill.currency, s.digits),
                    "due": when(bill.due_ms, with_time=False),
                    "url": s.config.url(),
                },
                f"dunning:{bill.number}:{index}",
                now,
            )


async def restore(s: Services, account: str) -> list[str]:
    """Lift dunning's bars if no overdue bill of the account is at a barring step any more."""
    now = s.clock()
    for bill in await s.db.run(bills.open_bills, s.db, account):
        segment = await s.db.run(s.directory.segment, bill.customer)
        steps = s.config.dunning.get(segment) or s.config.dunning["consumer"]
        if any(step.action == "bar" for step in steps[: bill.dunning_step]):
            return []
    rows = await s.db.run(
        s.db.rows, "SELECT subscriber, bill FROM dunning_bars WHERE account = ?", (account,)
    )
    restored = []
    for subscriber_id, bill_number in rows:
        subscriber = await s.store.get_subscriber(str(subscriber_id))
        if subscriber is not None and subscriber.status is Status.BARRED:
            result = await s.store.set_subscriber_status(
                f"dunning:restore:{bill_number}:{subscriber_id}",
                str(subscriber_id),
                Status.ACTIVE,
                now_ms=now,
                actor=ACTOR,
                reason=f"bill {bill_number} paid",
            )
            if result.ok:
                restored.append(str(subscriber_id))
    if rows:
        await s.db.run(_restored, s, account, restored, now, await s.contact(account))
    return restored


def _restored(
    s: Services, account: str, restored: list[str], now: int, contact: tuple[str, str, str]
) -> None:
    with s.db.transaction() as cur:
        cur.execute("DELETE FROM dunning_bars WHERE account = ?", (account,))
        customer = contact[0]
        activity.record(
            cur,
            now,
            ACTOR,
            "dunning:restore",
            customer=customer,
            account=account,
            restored=restored,
        )
        person = contact[1:]
        if restored:
            outbox.email(
                cur,
                str(person[1]),
                "service_restored",
                {"name": person[0]},
                f"dunning:restore:{account}:{now}",
                now,
            )
