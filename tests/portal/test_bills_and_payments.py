"""A postpaid subscriber's bill at a real browser: the e-mail says it is issued, the PDF
downloads, the bill is paid through the provider's signed webhook (the sandbox checkout sends
it over HTTP), and the API, the page and a second e-mail agree; a prepaid subscriber tops up
through the same payment flow."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Browser, expect
from pypdf import PdfReader

from ocs.api.auth import Role
from tests.portal.browser import browser, visitor
from tests.support.portal import Rest, issue_bill, make_customer, sign_in, until
from tests.support.smtp import MailServer

__all__ = ["browser"]
pytestmark = pytest.mark.asyncio(loop_scope="module")

BILLS = "/tmf-api/customerBillManagement/v4"
PASSWORD = "a long enough secret"


async def test_a_bill_is_announced_downloaded_and_paid_by_the_webhook(
    rest: Rest, browser: Browser, mail: MailServer, tmp_path: object
) -> None:
    await make_customer(
        rest.app,
        "Ella Fitzgerald",
        "4917300001",
        money=0,
        credit_limit=5000,
        email="ella@example.org",
        offers=("payg", "bundle_s"),
    )
    number = await issue_bill(rest.app, "A-ella")
    announced = await mail.wait_for("ella@example.org", f"Your bill {number} is ready")
    assert "Payment reference: RF" in announced.get_content()
    assert rest.app.portal is not None and rest.app.portal.background is not None
    people = rest.app.portal.background.people  # type: ignore[attr-defined]
    code = people.issue_activation("4917300001", "Ella Fitzgerald", "C-ella", "A-ella")
    await rest.app.portal.db.run(people.activate, "4917300001", code, PASSWORD)  # type: ignore[union-attr]
    api = await rest.get(f"{BILLS}/customerBill/{number}", role=Role.SUBSCRIBER, account="A-ella")
    assert api.body["state"] == "sent"
    due = api.body["amountDue"]["value"]
    assert due == Decimal("5.94")  # Bundle S recurring fee 4.99 + 19 % tax
    items = await rest.get(
        f"{BILLS}/appliedCustomerBillingRate",
        role=Role.SUBSCRIBER,
        account="A-ella",
        params={"bill.id": number},
    )
    assert [i["taxExcludedAmount"]["value"] for i in items.body] == [Decimal("4.99")]

    person = await visitor(browser, "bills", rest.url)
    page = person.page
    await sign_in(person, "4917300001", PASSWORD)
    await page.get_by_role("link", name="Bills").click()
    row = page.locator(f"tr[data-bill='{number}']")
    await expect(row).to_contain_text("EUR 5.94")
    await expect(row.locator(".state")).to_contain_text("Open")
    await person.look("bills open")
    async with page.expect_download() as download_info:
        await row.get_by_role("link", name="PDF").click()
    download = await download_info.value
    saved = f"{tmp_path}/{number}.pdf"
    await download.save_as(saved)
    text = "".join(p.extract_text() for p in PdfReader(saved).pages)
    assert number in text and "5.94" in text

    await row.get_by_role("button", name=f"Pay {number}").click()
    await expect(page.get_by_role("heading", name="Pay EUR 5.94")).to_be_visible()
    await person.look("checkout")
    await page.get_by_role("button", name="Pay now").click()
    await expect(page.get_by_role("status").first).to_contain_text(f"bill {number} is paid")
    await expect(page.locator(f"tr[data-bill='{number}'] .state")).to_contain_text("Paid")
    await person.look("bills paid")
    paid = await rest.get(f"{BILLS}/customerBill/{number}", role=Role.CARE)
    assert paid.body["state"] == "settled" and paid.body["remainingAmount"]["value"] == 0
    # the settled bill gives the postpaid wallet back what its charges took (the bundle's
    # price; not the tax), once: the credit limit is free again
    wallet = await rest.app.balance.get_account("A-ella")
    assert wallet is not None and wallet.money == 499
    received = await mail.wait_for("ella@example.org", "Payment received: EUR 5.94")
    assert number in received.get_content()
    # another subscriber's bill: 403; the PDF page of it: 404
    other = await rest.get(
        f"{BILLS}/customerBill/{number}", role=Role.SUBSCRIBER, account="A-other"
    )
    assert other.status == 403
    await page.context.close()


async def test_a_prepaid_top_up_goes_through_the_payment_flow(rest: Rest, browser: Browser) -> None:
    await make_customer(rest.app, "Miles Davis", "4917300002", money=100)
    assert rest.app.portal is not None and rest.app.portal.background is not None
    people = rest.app.portal.background.people  # type: ignore[attr-defined]
    code = people.issue_activation("4917300002", "Miles Davis", "C-miles", "A-miles")
    await rest.app.portal.db.run(people.activate, "4917300002", code, PASSWORD)  # type: ignore[union-attr]
    person = await visitor(browser, "topup", rest.url)
    page = person.page
    await sign_in(person, "4917300002", PASSWORD)
    await page.get_by_role("link", name="Top up").click()
    await person.look("top up")
    await page.get_by_label("EUR 10.00").check()
    await page.get_by_role("button", name="Continue to payment").click()
    await page.get_by_role("button", name="Pay now").click()
    await expect(page.locator("#money")).to_have_text("EUR 11.00")

    async def credited() -> bool:
        account = await rest.app.balance.get_account("A-miles")
        return account is not None and account.money == 1100

    await until(credited, what="the wallet credited once")
    await page.get_by_role("link", name="Top up").click()
    await page.get_by_label("Or another amount (EUR)").fill("1.234")
    await page.get_by_role("button", name="Continue to payment").click()
    await expect(page.get_by_role("alert")).to_contain_text("decimal places")
    await page.context.close()
