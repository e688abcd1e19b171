"""TMF event subscriptions (``POST /hub``, ``DELETE /hub/{id}``) of the APIs that notify:

* prepayBalanceManagement: ``BucketThresholdEvent`` (an allowance crossed a percent-used
  mark, or the wallet fell below the account's low-balance floor);
* customerBillManagement: ``CustomerBillCreateEvent`` (a bill issued),
  ``CustomerBillStateChangeEvent`` (paid, partly paid, credited);
* troubleTicket: ``TroubleTicketStatusChangeEvent``.

A notification is a POST of ``{eventId, eventTime, eventType, event}`` to the callback, signed
with the subscription's own secret (returned once, at creation) like the payment webhook
(:mod:`ocs.payments.signature`), delivered at least once with retries (:mod:`ocs.notify.outbox`).
``query`` may name the event types wanted (``eventType=BucketThresholdEvent``)."""

from __future__ import annotations

import secrets
import uuid
from urllib.parse import urlsplit

from aiohttp import web

from ocs.api.auth import Principal
from ocs.api.errors import invalid, not_found
from ocs.bss.access import ADMIN, require
from ocs.bss.context import Services
from ocs.tmf.http import Route, json_response, read_json, text_field

APIS = {
    "prepayBalanceManagement": ("/tmf-api/prepayBalanceManagement/v4", "TMF654"),
    "customerBillManagement": ("/tmf-api/customerBillManagement/v4", "TMF678"),
    "troubleTicket": ("/tmf-api/troubleTicket/v4", "TMF621"),
}


class HubApi:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[Route]:
        routes = []
        for api, (base, tmf) in APIS.items():
            tag = {
                "TMF654": "TMF654 Prepay Balance Management",
                "TMF678": "TMF678 Customer Bill Management",
                "TMF621": "TMF621 Trouble Ticket",
            }[tmf]
            routes += [
                Route(
                    "POST",
                    f"{base}/hub",
                    f"registerListener_{api}",
                    tag,
                    "Subscribe a callback to this API's events",
                    self._register(api),
                    {201: "Ocs.EventSubscription"},
                    body=f"{tmf}.EventSubscriptionInput",
                    roles="admin",
                ),
                Route(
                    "DELETE",
                    f"{base}/hub/{{id}}",
                    f"unregisterListener_{api}",
                    tag,
                    "Unsubscribe",
                    self._unregister(api),
                    {204: None},
                    roles="admin",
                ),
            ]
        return routes

    def _register(self, api: str):  # type: ignore[no-untyped-def]
        async def register(request: web.Request, principal: Principal) -> web.StreamResponse:
            require(principal, ADMIN)
            body = await read_json(request)
            callback = text_field(body, "callback", required=True, limit=2000)
            parts = urlsplit(callback)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise invalid("callback", "an http:// or https:// URL")
            query = text_field(body, "query", limit=500)
            sub_id = uuid.uuid4().hex
            secret = secrets.token_urlsafe(32)
            await self.s.db.run(
                self.s.db.write,
                "INSERT INTO hub_subscriptions (id, api, callback, query, secret, owner, "
                "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sub_id, api, callback, query, secret, principal.subject, self.s.clock()),
            )
            return json_response(
                {"id": sub_id, "callback": callback, "query": query, "secret": secret}, 201
            )

        return register

    def _unregister(self, api: str):  # type: ignore[no-untyped-def]
        async def unregister(request: web.Request, principal: Principal) -> web.StreamResponse:
            require(principal, ADMIN)
            sub_id = request.match_info["id"]
            removed = await self.s.db.run(
                self.s.db.write,
                "DELETE FROM hub_subscriptions WHERE id = ? AND api = ?",
                (sub_id, api),
            )
            if not removed:
                raise not_found("subscription", sub_id, "id")
            return web.Response(status=204)

        return unregister
