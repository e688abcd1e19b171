"""TMF620 offers, TMF622 orders (a subscriber buys a bundle for itself, idempotent by its
id), TMF635 usage from the ledger (paged, by date and service), TMF621 tickets (roles,
states, bounded attachments): every answer valid against the served OpenAPI document."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from ocs.api.auth import Role
from tests.gy.gateway import INITIAL, TERMINATE, Gateway, Mscc
from tests.support.portal import Rest, make_customer, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

CAT = "/tmf-api/productCatalogManagement/v4"
ORD = "/tmf-api/productOrderingManagement/v4"
USE = "/tmf-api/usageManagement/v4"
TT = "/tmf-api/troubleTicket/v4"


async def test_offers_orders_and_usage(rest: Rest) -> None:
    await make_customer(rest.app, "Chet Baker", "4917900001", money=2000)
    offers = await rest.get(f"{CAT}/productOffering", role=Role.SUBSCRIBER, account="A-chet")
    bundle = next(o for o in offers.body if o["id"] == "bundle_s")
    assert bundle["isSellable"] and bundle["prodSpecCharValueUse"][0]["name"] == "data allowance"
    price = await rest.get(
        f"{CAT}/productOfferingPrice/bundle_s.price", role=Role.SUBSCRIBER, account="A-chet"
    )
    assert price.body["price"] == {"unit": "EUR", "value": Decimal("4.99")}
    order = {
        "externalId": "chet-1",
        "billingAccount": {"id": "A-chet"},
        "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "bundle_s"}}],
    }
    made = await rest.post(f"{ORD}/productOrder", order, role=Role.SUBSCRIBER, account="A-chet")
    assert made.status == 201 and made.body["state"] == "completed", made.body
    again = await rest.post(f"{ORD}/productOrder", order, role=Role.SUBSCRIBER, account="A-chet")
    assert again.status == 200 and again.body["state"] == "completed"
    account = await rest.app.balance.get_account("A-chet")
    assert account is not None and account.money == 2000 - 499  # charged once
    base = {
        **order,
        "externalId": "chet-2",
        "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "payg"}}],
    }
    assert (
        await rest.post(f"{ORD}/productOrder", base, role=Role.SUBSCRIBER, account="A-chet")
    ).status == 403
    other = {**order, "externalId": "chet-3", "billingAccount": {"id": "A-someone"}}
    assert (
        await rest.post(f"{ORD}/productOrder", other, role=Role.SUBSCRIBER, account="A-chet")
    ).status == 403
    shown = await rest.get(f"{ORD}/productOrder/chet-1", role=Role.SUBSCRIBER, account="A-chet")
    assert shown.body["orderTotalPrice"][0]["price"]["taxIncludedAmount"]["value"] == Decimal(
        "4.99"
    )

    assert rest.app.diameter is not None
    gateway = await Gateway.connect(rest.app.diameter.listening[0][2])
    try:
        for n, (group, used) in enumerate(((100, 2_000_000), (300, 1))):
            session = Gateway.new_session()
            start = await gateway.ccr(
                session,
                INITIAL,
                0,
                msisdn="4917900001",
                mscc=[Mscc(rating_group=group, request=True)],
            )
            assert start.result_code == 2001, n
            unit = {"used_octets": used} if group == 100 else {"used_units": used}
            await gateway.ccr(session, TERMINATE, 1, mscc=[Mscc(rating_group=group, **unit)])
    finally:
        await gateway.close()

    async def billed() -> object:
        reply = await rest.get(f"{USE}/usage", role=Role.SUBSCRIBER, account="A-chet")
        return reply if len(reply.body) >= 2 else None  # internet and SMS (purchases are not usage)

    usage = await until(billed, what="the ledger to hold the usage")
    types = [u["usageType"] for u in usage.body]  # type: ignore[attr-defined]
    assert set(types) >= {"internet", "sms"}
    internet = await rest.get(
        f"{USE}/usage",
        role=Role.CARE,
        params={"relatedParty.id": "A-chet", "usageType": "internet"},
    )
    units = {c["name"]: c["value"] for c in internet.body[0]["usageCharacteristic"]}
    assert units["units"] == 2_000_000 and units["unitsFromAllowances"] == 2_000_000
    page = await rest.get(
        f"{USE}/usage",
        role=Role.CARE,
        params={"relatedParty.id": "A-chet", "limit": "1", "offset": "1"},
    )
    assert len(page.body) == 1 and int(page.headers["X-Total-Count"]) >= 2
    future = await rest.get(
        f"{USE}/usage",
        role=Role.CARE,
        params={"relatedParty.id": "A-chet", "usageDate.gt": "2099-01-01T00:00:00Z"},
    )
    assert future.body == []
    bad = await rest.get(
        f"{USE}/usage", role=Role.CARE, params={"relatedParty.id": "A-chet", "usageType": "fax"}
    )
    assert bad.status == 400 and bad.body["field"] == "usageType"
    theirs = await rest.get(
        f"{USE}/usage",
        role=Role.SUBSCRIBER,
        account="A-other",
        params={"relatedParty.id": "A-chet"},
    )
    assert theirs.status == 403


async def test_tickets_follow_their_states_and_bound_attachments(rest: Rest) -> None:
    await make_customer(rest.app, "Dinah Washington", "4917900002")
    ticket = {
        "ticketType": "network",
        "severity": "major",
        "name": "No data in Berlin",
        "description": "Since this morning no data connection.",
        "attachment": [
            {
                "name": "screen.txt",
                "mimeType": "text/plain",
                "content": base64.b64encode(b"no signal").decode(),
            }
        ],
    }
    made = await rest.post(f"{TT}/troubleTicket", ticket, role=Role.SUBSCRIBER, account="A-dinah")
    assert made.status == 201, made.body
    ticket_id = made.body["id"]
    assert made.body["status"] == "acknowledged" and made.body["attachment"][0]["size"] == {
        "amount": 1 * 9,
        "units": "bytes",
    }
    unknown = await rest.post(
        f"{TT}/troubleTicket",
        {**ticket, "ticketType": "weather"},
        role=Role.SUBSCRIBER,
        account="A-dinah",
    )
    assert unknown.status == 400 and unknown.body["field"] == "ticketType"
    big = base64.b64encode(b"x" * (rest.app.config.portal.max_attachment_bytes + 1)).decode()
    too_big = await rest.patch(
        f"{TT}/troubleTicket/{ticket_id}",
        {"attachment": [{"name": "big.txt", "mimeType": "text/plain", "content": big}]},
        role=Role.SUBSCRIBER,
        account="A-dinah",
    )
    assert too_big.status in (400, 413)
    exe = await rest.patch(
        f"{TT}/troubleTicket/{ticket_id}",
        {"attachment": [{"name": "x.exe", "mimeType": "application/x-exe", "content": "AAAA"}]},
        role=Role.SUBSCRIBER,
        account="A-dinah",
    )
    assert exe.status == 400 and exe.body["field"] == "attachment.mimeType"
    resolve = await rest.patch(
        f"{TT}/troubleTicket/{ticket_id}",
        {"status": "resolved"},
        role=Role.SUBSCRIBER,
        account="A-dinah",
    )
    assert resolve.status == 403  # care resolves
    assign = await rest.patch(
        f"{TT}/troubleTicket/{ticket_id}",
        {
            "status": "pending",
            "note": [{"text": "Which street?"}],
            "relatedParty": [{"id": "eve", "role": "assignee", "@referredType": "Individual"}],
        },
        role=Role.CARE,
        subject="eve",
    )
    assert assign.body["status"] == "pending"
    reply = await rest.patch(
        f"{TT}/troubleTicket/{ticket_id}",
        {"note": [{"text": "Alexanderplatz"}]},
        role=Role.SUBSCRIBER,
        account="A-dinah",
    )
    assert reply.body["status"] == "inProgress"  # the customer answered
    jump = await rest.patch(f"{TT}/troubleTicket/{ticket_id}", {"status": "closed"}, role=Role.CARE)
    assert jump.status == 409 and jump.body["field"] == "status"
    listed = await rest.get(
        f"{TT}/troubleTicket", role=Role.CARE, params={"status": "open", "assignee": "eve"}
    )
    assert [t["id"] for t in listed.body] == [ticket_id]
    mine = await rest.get(f"{TT}/troubleTicket", role=Role.SUBSCRIBER, account="A-someone")
    assert mine.body == []
    theirs = await rest.get(
        f"{TT}/troubleTicket/{ticket_id}", role=Role.SUBSCRIBER, account="A-someone"
    )
    assert theirs.status == 403
    attachment = made.body["attachment"][0]["url"]
    content = await rest.get(attachment, role=Role.SUBSCRIBER, account="A-dinah")
    assert content.status == 200 and content.body == b"no signal"
