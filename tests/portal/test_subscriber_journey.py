"""A subscriber at a real browser: activates with care's code, signs in, sees the balance the
REST API reports, watches it change live, buys a bundle; sign-in is rate limited, cookies are
HttpOnly/Secure/SameSite, forms without their CSRF token are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from ocs.api.auth import Role
from tests.portal.browser import Visitor, browser, visitor
from tests.support.portal import Rest, make_customer

__all__ = ["browser"]
pytestmark = pytest.mark.asyncio(loop_scope="module")

BAL = "/tmf-api/prepayBalanceManagement/v4"
PASSWORD = "correct horse battery"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nina(rest: Rest, browser: Browser) -> AsyncIterator[Visitor]:
    await make_customer(rest.app, "Nina Simone", "4917200001", money=2000, email="nina@example.org")
    assert rest.app.portal is not None and rest.app.portal.background is not None
    people = rest.app.portal.background.people  # type: ignore[attr-defined]
    code = people.issue_activation("4917200001", "Nina Simone", "C-nina", "A-nina")
    person = await visitor(browser, "subscriber", rest.url, viewport={"width": 420, "height": 900})
    page = person.page
    await page.goto("/activate")
    await person.look("activate")
    await page.get_by_label("Mobile number").fill("4917200001")
    await page.get_by_label("Activation code").fill(code.lower())
    await page.get_by_label("New password", exact=True).fill(PASSWORD)
    await page.get_by_label("New password again").fill(PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("heading", name="Hello, Nina Simone")).to_be_visible()
    yield person
    await page.context.close()


async def test_the_balance_page_shows_what_the_api_reports_and_changes_live(
    rest: Rest, nina: Visitor
) -> None:
    page = nina.page
    api = await rest.get(f"{BAL}/bucket/A-nina~money", role=Role.SUBSCRIBER, account="A-nina")
    assert api.body["remainingValue"]["amount"] == Decimal("20.00")
    await expect(page.locator("#money")).to_have_text("EUR 20.00")
    await expect(page.locator("#live-status")).to_have_attribute("data-ready", "1")
    await nina.look("balance")
    body = {
        "amount": {"amount": Decimal("5"), "units": "EUR"},
        "usageType": "monetary",
        "partyAccount": {"id": "A-nina"},
    }
    topped = await rest.post(
        f"{BAL}/topupBalance", body, role=Role.CARE, headers={"Idempotency-Key": "live-1"}
    )
    assert topped.status == 201
    await expect(page.locator("#money")).to_have_text("EUR 25.00")


async def test_buying_a_bundle_charges_the_price_and_shows_the_allowances(
    rest: Rest, nina: Visitor
) -> None:
    page = nina.page
    await page.get_by_role("link", name="Bundles").click()
    await expect(page.get_by_role("heading", name="Bundles", exact=True)).to_be_visible()
    await nina.look("bundles")
    await page.get_by_role("button", name="Buy Prepaid Bundle S").click()
    await expect(page.get_by_role("status").first).to_contain_text("Bought Prepaid Bundle S")
    await expect(page.locator("#money")).to_have_text("EUR 20.01")
    await expect(page.locator("tr[data-bucket^='bundle_s.data']")).to_contain_text("500.0 MB")
    await nina.look("balance after bundle")
    account = await rest.app.balance.get_account("A-nina")
    assert account is not None and account.money == 2001
    assert any(b.source == "bundle_s" for b in account.buckets)


async def test_cookies_are_httponly_secure_strict_and_forms_need_their_token(
    rest: Rest, nina: Visitor
) -> None:
    cookies = {c["name"]: c for c in await nina.page.context.cookies()}
    session = cookies["ocs_session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    forged = await nina.page.request.post(
        "/me/bundles", form={"offer": "bundle_s"}, max_redirects=0
    )
    assert forged.status == 403
    account = await rest.app.balance.get_account("A-nina")
    assert account is not None and account.money == 2001


async def test_sign_in_is_rate_limited(rest: Rest, browser: Browser) -> None:
    person = await visitor(browser, "signin", rest.url)
    page = person.page
    await page.goto("/signin")
    await person.look("sign in")
    limit = rest.app.config.portal.signin_failures
    for _ in range(limit):
        await page.get_by_label("Mobile number or agent login").fill("4917200001")
        await page.get_by_label("Password").fill("wrong password!")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await page.get_by_label("Mobile number or agent login").fill("4917200001")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed attempts")
    await person.look("sign in refused")
    await page.context.close()
