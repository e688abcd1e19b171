"""Tickets at a real browser: a subscriber disputes a bill; an agent takes the ticket and asks
for a credit note above the four-eyes amount; the same agent cannot approve it, a second agent
does; the wallet is refunded, a CN document issued, the bill's outstanding amount reduced, the
ticket resolved and the customer e-mailed. The admin's reports show it and export CSV."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.async_api import Browser, expect

from ocs.api.auth import Role
from tests.portal.browser import browser, visitor
from tests.support.portal import Rest, issue_bill, make_customer, sign_in
from tests.support.smtp import MailServer

__all__ = ["browser"]
pytestmark = pytest.mark.asyncio(loop_scope="module")
PORTAL = {"credit_note_approval_above": 300}

PASSWORD = "long enough password"
TT = "/tmf-api/troubleTicket/v4"


async def test_a_billing_dispute_ends_in_a_credit_note_approved_by_a_second_agent(
    rest: Rest, browser: Browser, mail: MailServer
) -> None:
    await make_customer(
        rest.app,
        "Etta James",
        "4917600001",
        money=0,
        credit_limit=5000,
        email="etta@example.org",
        offers=("payg", "bundle_s"),
    )
    number = await issue_bill(rest.app, "A-etta")
    assert rest.app.portal is not None and rest.app.portal.background is not None
    people = rest.app.portal.background.people  # type: ignore[attr-defined]
    code = people.issue_activation("4917600001", "Etta James", "C-etta", "A-etta")
    await rest.app.portal.db.run(people.activate, "4917600001", code, PASSWORD)  # type: ignore[union-attr]
    people.create_agent("bob", "Bob Agent", Role.CARE, PASSWORD)
    people.create_agent("carol", "Carol Agent", Role.CARE, PASSWORD)
    people.create_agent("root", "Rita Admin", Role.ADMIN, PASSWORD)

    etta = await visitor(browser, "tickets-subscriber", rest.url)
    await sign_in(etta, "4917600001", PASSWORD)
    page = etta.page
    await page.get_by_role("link", name="Help").click()
    await page.get_by_label("Topic").select_option("billing_dispute")
    await page.get_by_label("Bill (for a billing question)").select_option(number)
    await page.get_by_label("Subject").fill("Charged for a bundle I cancelled")
    await page.get_by_label("What happened").fill("The recurring fee should not be there.")
    await etta.look("open ticket")
    await page.get_by_role("button", name="Send request").click()
    await expect(page.locator("#ticket-state")).to_have_text("acknowledged")
    ticket = page.url.rsplit("/", 1)[1].split("?")[0]
    await page.get_by_label("Your message").fill("Here is my cancellation confirmation.")
    await page.get_by_label("Attachment (PNG, JPEG, PDF or text)").set_input_files(
        files=[{"name": "cancel.txt", "mimeType": "text/plain", "buffer": b"cancelled 03 Nov"}]
    )
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".notes")).to_contain_text("cancellation confirmation")
    await expect(page.get_by_text("cancel.txt")).to_be_visible()
    await etta.look("ticket followed")
    await mail.wait_for("etta@example.org", f"Ticket {ticket}: acknowledged")

    bob = await visitor(browser, "tickets-agent", rest.url, viewport={"width": 1280, "height": 900})
    await sign_in(bob, "bob", PASSWORD)
    await bob.page.get_by_role("link", name="Tickets").click()
    row = bob.page.locator(f"tr[data-ticket='{ticket}']")
    await expect(row).to_contain_text("billing_dispute")
    await bob.look("ticket queue")
    await row.get_by_role("link", name=ticket).click()
    await bob.page.get_by_label("Move to").select_option("inProgress")
    await bob.page.get_by_label("Assign to me").check()
    await bob.page.get_by_label("Note to the customer").fill("We are checking your bill.")
    await bob.page.get_by_role("button", name="Update ticket").click()
    await expect(bob.page.locator("#ticket-state")).to_have_text("inProgress")
    await bob.page.get_by_label("Amount (EUR)").fill("5.94")
    await bob.page.get_by_label("Reason").fill("bundle cancelled before the cycle")
    await bob.page.get_by_role("button", name="Issue credit note").click()
    await expect(bob.page.get_by_role("status").first).to_contain_text("second agent")
    await bob.look("credit note waiting")
    await bob.page.get_by_role("link", name="Approvals").click()
    await expect(bob.page.get_by_text("You asked for this one")).to_be_visible()
    pending = await rest.app.portal.db.run(  # type: ignore[union-attr]
        rest.app.portal.db.one,  # type: ignore[union-attr]
        "SELECT id FROM credit_requests WHERE ticket = ?",
        (ticket,),
    )
    assert pending is not None
    own = await rest.post(
        f"{TT}/creditRequest/{pending[0]}/decision",
        {"decision": "approve"},
        role=Role.CARE,
        subject="bob",
    )
    assert own.status == 403

    carol = await visitor(
        browser, "tickets-approver", rest.url, viewport={"width": 1280, "height": 900}
    )
    await sign_in(carol, "carol", PASSWORD)
    await carol.page.get_by_role("link", name="Approvals").click()
    await carol.look("approvals")
    await carol.page.get_by_role("button", name=f"Approve {pending[0]}").click()
    await expect(carol.page.get_by_role("status").first).to_contain_text("Credit note CN-")

    # postpaid: credited on the bill (settled by the credit note), and the wallet gets back
    # what the bill's charges took from it (the bundle's 4.99; tax never touched the wallet)
    account = await rest.app.balance.get_account("A-etta")
    assert account is not None and account.money == 499
    api = await rest.get(f"{TT}/troubleTicket/{ticket}", role=Role.SUBSCRIBER, account="A-etta")
    assert api.body["status"] == "resolved"
    assert api.body["relatedEntity"][0]["id"] == number
    bill = await rest.get(
        f"/tmf-api/customerBillManagement/v4/customerBill/{number}", role=Role.CARE
    )
    assert bill.body["state"] == "settled"
    await mail.wait_for("etta@example.org", f"Ticket {ticket}: resolved")
    await page.reload()
    await expect(page.locator("#ticket-state")).to_have_text("resolved")
    await page.get_by_label("And").select_option("closed")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#ticket-state")).to_have_text("closed")
    await page.get_by_role("link", name="Bills").click()
    await expect(page.locator("tbody")).to_contain_text("credit note")

    root = await visitor(browser, "reports", rest.url, viewport={"width": 1280, "height": 900})
    await sign_in(root, "root", PASSWORD)
    await root.page.get_by_role("link", name="Reports").click()
    await expect(root.page.get_by_role("heading", name="Ticket backlog and SLA")).to_be_visible()
    await root.look("reports")
    async with root.page.expect_download() as info:
        await root.page.get_by_role("link", name="Download CSV of Ticket backlog and SLA").click()
    path = await (await info.value).path()
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][:3] == ["category", "state", "tickets"]
    assert ["billing_dispute", "closed", "1", "0"] == rows[1][:4]
    denied = await bob.page.goto("/care/reports")
    assert denied is not None and denied.status == 403
    for person in (etta, bob, carol, root):
        await person.page.context.close()
