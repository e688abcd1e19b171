"""The payment provider's webhook (HMAC-SHA256, timestamped, replay-protected, idempotent by
the provider's payment id) and TMF hub notifications (signed, retried until the callback
takes them)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from ocs.api.auth import Role
from ocs.payments.signature import HEADER, sign, verify
from ocs.tmf.http import dumps
from tests.support.portal import Rest, issue_bill, make_customer, until
from tests.support.ports import free_port
from tests.support.smtp import MailServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

BILLS = "/tmf-api/customerBillManagement/v4"


def notice(provider_id: str, reference: str, amount: str) -> bytes:
    return dumps(
        {
            "id": provider_id,
            "status": "succeeded",
            "reference": reference,
            "amount": {"value": Decimal(amount), "unit": "EUR"},
        }
    ).encode()


async def post_webhook(rest: Rest, body: bytes, header: str) -> Any:
    return await rest.call(
        "POST",
        "/payments/webhook",
        role=None,
        body=body,
        headers={HEADER: header, "Content-Type": "application/json"},
    )


async def test_the_webhook_credits_once_and_refuses_forgeries_stale_and_replayed_calls(
    rest: Rest, mail: MailServer
) -> None:
    assert rest.app.portal is not None
    secret = rest.app.portal.payment_secret
    await make_customer(
        rest.app, "Django Reinhardt", "4917400001", money=0, email="django@example.org"
    )
    from ocs.api.auth import Principal
    from ocs.payments.service import Payments

    assert rest.app.portal.services is not None
    checkout = await Payments(rest.app.portal.services).checkout(
        Principal("portal:4917400001", Role.SUBSCRIBER, "A-django"), "A-django", 700
    )
    body = notice("psp-1", checkout.id, "7.00")
    now = int(time.time())
    forged = await post_webhook(rest, body, sign(b"not the secret at all!", body, now))
    assert forged.status == 401 and "does not match" in forged.body["reason"]
    stale = await post_webhook(rest, body, sign(secret, body, now - 3600))
    assert stale.status == 401 and "from now" in stale.body["reason"]
    header = sign(secret, body, now)
    first = await post_webhook(rest, body, header)
    assert first.status == 200 and first.body["state"] == "credited", first.body
    replay = await post_webhook(rest, body, header)
    assert replay.status == 401 and "replay" in replay.body["reason"]
    again = await post_webhook(rest, body, sign(secret, body, now + 1))
    assert again.status == 200 and again.body["replayed"] is True
    other = notice("psp-1", checkout.id, "9.00")
    clash = await post_webhook(rest, other, sign(secret, other, now + 2))
    assert clash.status == 409 and clash.body["field"] == "id"
    account = await rest.app.balance.get_account("A-django")
    assert account is not None and account.money == 700
    unknown = notice("psp-2", "chk_nope", "1.00")
    missing = await post_webhook(rest, unknown, sign(secret, unknown, now + 3))
    assert missing.status == 404 and missing.body["field"] == "reference"
    await mail.wait_for("django@example.org", "Payment received: EUR 7.00")
    assert verify(secret, body, header, now, 300) == header.split("v1=")[1]


async def test_hub_subscribers_get_signed_bill_events_with_retries(rest: Rest) -> None:
    received: list[tuple[dict[str, Any], str]] = []
    failures = {"left": 2}

    async def callback(request: web.Request) -> web.Response:
        raw = await request.read()
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=503)
        received.append((json.loads(raw), request.headers.get(HEADER, "")))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/listener", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        denied = await rest.post(f"{BILLS}/hub", {"callback": "http://x"}, role=Role.CARE)
        assert denied.status == 403
        bad = await rest.post(f"{BILLS}/hub", {"callback": "ftp://x"})
        assert bad.status == 400 and bad.body["field"] == "callback"
        made = await rest.post(
            f"{BILLS}/hub",
            {
                "callback": f"http://127.0.0.1:{port}/listener",
                "query": "eventType=CustomerBillCreateEvent",
            },
        )
        assert made.status == 201
        secret = made.body["secret"].encode()
        await make_customer(
            rest.app, "Billie Holiday", "4917400002", credit_limit=5000, offers=("payg", "bundle_s")
        )
        number = await issue_bill(rest.app, "A-billie")
        await until(
            lambda: any(e["event"]["customerBill"]["id"] == number for e, _ in received),
            within=30,
            what="the bill event",
        )
        event, header = next(
            (e, h) for e, h in received if e["event"]["customerBill"]["id"] == number
        )
        assert event["eventType"] == "CustomerBillCreateEvent"
        assert verify(secret, json.dumps(event).encode(), header, int(time.time()), 300)
        assert failures["left"] == 0  # it was refused twice and retried
        gone = await rest.call("DELETE", f"{BILLS}/hub/{made.body['id']}")
        assert gone.status == 204
        assert (await rest.call("DELETE", f"{BILLS}/hub/{made.body['id']}")).status == 404
    finally:
        await runner.cleanup()


async def test_hub_subscribers_and_the_customer_hear_of_a_balance_threshold(
    rest: Rest, mail: MailServer
) -> None:
    from tests.gy.gateway import INITIAL, TERMINATE, Gateway, Mscc

    received: list[dict[str, Any]] = []

    async def callback(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/balance", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        made = await rest.post(
            "/tmf-api/prepayBalanceManagement/v4/hub",
            {"callback": f"http://127.0.0.1:{port}/balance"},
        )
        assert made.status == 201
        await make_customer(
            rest.app,
            "Oscar Peterson",
            "4917400003",
            email="oscar@example.org",
            offers=("payg", "bundle_s"),
        )
        assert rest.app.diameter is not None
        gateway = await Gateway.connect(rest.app.diameter.listening[0][2])
        try:
            session = Gateway.new_session()
            start = await gateway.ccr(
                session,
                INITIAL,
                0,
                msisdn="4917400003",
                mscc=[Mscc(rating_group=100, request=True)],
            )
            assert start.result_code == 2001
            await gateway.ccr(
                session, TERMINATE, 1, mscc=[Mscc(rating_group=100, used_octets=420_000_000)]
            )
        finally:
            await gateway.close()
        await until(
            lambda: any(e["eventType"] == "BucketThresholdEvent" for e in received),
            what="the threshold event",
        )
        event = next(e for e in received if e["eventType"] == "BucketThresholdEvent")
        assert event["event"]["bucket"]["partyAccount"]["id"] == "A-oscar"
        assert event["event"]["mark"] == 80
        message = await mail.wait_for("oscar@example.org", "running low")
        assert "allowance" in message.get_content()
    finally:
        await runner.cleanup()
