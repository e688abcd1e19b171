"""A care agent at a real browser: finds a subscriber, swaps its SIM while a Gy session is
live (the session's next CCR-U is charged as before, the new IMSI works, the old one not),
changes its number, suspends and resumes it, adjusts its wallet with a reason, issues an
activation code; every action is on the customer's audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from ocs.api.auth import Role
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc
from tests.portal.browser import Visitor, browser, visitor
from tests.support.portal import Rest, make_customer, sign_in, until

__all__ = ["browser"]
pytestmark = pytest.mark.asyncio(loop_scope="module")

AGENT_PASSWORD = "agent password 1"
CUST = "/tmf-api/customerManagement/v4"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(rest: Rest, browser: Browser) -> AsyncIterator[Visitor]:
    assert rest.app.portal is not None and rest.app.portal.background is not None
    people = rest.app.portal.background.people  # type: ignore[attr-defined]
    people.create_agent("alice", "Alice Agent", Role.CARE, AGENT_PASSWORD)
    person = await visitor(browser, "agent", rest.url, viewport={"width": 1280, "height": 900})
    await sign_in(person, "alice", AGENT_PASSWORD)
    await expect(person.page.get_by_role("heading", name="Find a customer")).to_be_visible()
    yield person
    await person.page.context.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(rest: Rest) -> AsyncIterator[Gateway]:
    assert rest.app.diameter is not None
    connected = await Gateway.connect(rest.app.diameter.listening[0][2])
    yield connected
    await connected.close()


async def test_sim_swap_keeps_the_live_session_and_its_charging(
    rest: Rest, agent: Visitor, gateway: Gateway
) -> None:
    await make_customer(
        rest.app,
        "Sarah Vaughan",
        "4917500001",
        imsi="001019000000001",
        money=1000,
        email="sarah@example.org",
    )

    async def indexed() -> bool:  # a name is found once the directory has read its event
        reply = await rest.get(f"{CUST}/customer", role=Role.CARE, params={"name": "vaughan"})
        return "C-sarah" in [c["id"] for c in reply.body]

    await until(indexed, what="the directory to index the new customer")
    page = agent.page
    await page.goto("/care")
    await agent.look("search")
    await page.get_by_label("Name, MSISDN, IMSI, account or id").fill("vaughan")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="Sarah Vaughan").click()
    await expect(page.get_by_role("heading", name="Sarah Vaughan C-sarah")).to_be_visible()

    session = Gateway.new_session()
    started = await gateway.ccr(
        session, INITIAL, 0, imsi="001019000000001", mscc=[Mscc(rating_group=100, request=True)]
    )
    assert started.result_code == 2001 and started[100].octets
    await page.reload()
    await expect(page.locator(".sessions")).to_contain_text(session)
    await agent.look("customer view with live session")

    card = page.locator("[data-subscriber='S-sarah']")
    await card.get_by_label("New SIM's IMSI").fill("001019000000002")
    await card.get_by_label("Reason").nth(1).fill("lost SIM, new card sent")
    await card.get_by_role("button", name="Swap SIM of S-sarah").click()
    await expect(page.get_by_role("status").first).to_contain_text("SIM swapped for S-sarah")
    await expect(card.locator(".imsi")).to_have_text("001019000000002")

    used = await gateway.ccr(
        session, UPDATE, 1, mscc=[Mscc(rating_group=100, request=True, used_octets=3_000_000)]
    )
    assert used.result_code == 2001 and used[100].result_code == 2001
    ended = await gateway.ccr(session, TERMINATE, 2, mscc=[Mscc(rating_group=100, used_octets=0)])
    assert ended.result_code == 2001
    account = await rest.app.balance.get_account("A-sarah")
    assert account is not None and account.money == 1000 - 6  # 3 started MB at 2 cents
    old = await gateway.ccr(
        Gateway.new_session(),
        INITIAL,
        0,
        imsi="001019000000001",
        mscc=[Mscc(rating_group=100, request=True)],
    )
    assert old.result_code == 5030  # DIAMETER_USER_UNKNOWN: the old SIM is gone
    new_session = Gateway.new_session()
    new = await gateway.ccr(
        new_session, INITIAL, 0, imsi="001019000000002", mscc=[Mscc(rating_group=100, request=True)]
    )
    assert new.result_code == 2001
    await gateway.ccr(new_session, TERMINATE, 1, mscc=[Mscc(rating_group=100, used_octets=0)])


async def test_number_change_status_adjustment_and_activation_are_audited(
    rest: Rest, agent: Visitor
) -> None:
    page = agent.page
    await page.goto("/care/customer/C-sarah")
    card = page.locator("[data-subscriber='S-sarah']")
    await card.get_by_label("New MSISDN").fill("4917500099")
    await card.get_by_label("Reason").nth(2).fill("ported in from another operator")
    await card.get_by_role("button", name="Change number of S-sarah").click()
    await expect(card.locator(".msisdn")).to_have_text("4917500099")
    found = await rest.get(f"{CUST}/customer", role=Role.CARE, params={"msisdn": "4917500099"})
    assert [c["id"] for c in found.body] == ["C-sarah"]
    gone = await rest.get(f"{CUST}/customer", role=Role.CARE, params={"msisdn": "4917500001"})
    assert gone.body == []

    await card.get_by_label("Status").select_option("suspended")
    await card.get_by_label("Reason").first.fill("customer asked, travelling")
    await card.get_by_role("button", name="Set status of S-sarah").click()
    await expect(card.locator(".status")).to_have_text("suspended")
    await card.get_by_label("Status").select_option("active")
    await card.get_by_label("Reason").first.fill("back home")
    await card.get_by_role("button", name="Set status of S-sarah").click()
    await expect(card.locator(".status")).to_have_text("active")

    await page.get_by_label("Amount (EUR, negative to debit)").fill("2.50")
    await page.locator("#adj-reason-A-sarah").fill("goodwill: network outage")
    await page.get_by_role("button", name="Adjust A-sarah").click()
    await expect(page.locator(".wallet")).to_have_text("EUR 12.44")
    bad = page.get_by_label("Amount (EUR, negative to debit)")
    await bad.fill("-500")
    await page.locator("#adj-reason-A-sarah").fill("too much")
    await page.get_by_role("button", name="Adjust A-sarah").click()
    await expect(page.get_by_role("alert")).to_contain_text("floor")

    await card.get_by_role("button", name="Issue activation code for S-sarah").click()
    await expect(page.locator("#activation-code")).to_contain_text("Activation code:")
    await agent.look("customer view after actions")
    trail = page.locator(".trail")
    for action in (
        "sim_swap",
        "msisdn",
        "status:suspended",
        "status:active",
        "adjust",
        "activation",
    ):
        await expect(trail).to_contain_text(action)
    await expect(trail).to_contain_text("care:alice")
    await expect(trail).to_contain_text("reason=goodwill: network outage")

    async def mail_sent() -> bool:
        assert rest.app.portal is not None and rest.app.portal.db is not None
        row = rest.app.portal.db.one(
            "SELECT COUNT(*) FROM outbox WHERE target = 'sarah@example.org'"
        )
        return bool(row and row[0])

    await until(mail_sent, what="the activation e-mail queued")
