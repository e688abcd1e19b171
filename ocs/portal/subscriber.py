"""The subscriber's pages: balances and buckets with their expiry, usage of the last 30 days,
live balance (server-sent events from the WatchBalance watcher), bundles to buy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ocs.api.errors import ApiError
from ocs.api.v1 import balance_pb2
from ocs.bss.access import call_of
from ocs.bss.orders import purchase
from ocs.portal.charts import svg, usage_by_day
from ocs.portal.pages import PAGES, SESSION, PageError, Pages, money, notice

KEEPALIVE_S = 15.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def subscriber_only(handler: Handler) -> Handler:
    """The page needs a signed-in subscriber (an agent is sent to the care pages)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        pages = request.app[PAGES]
        session = await pages.session_of(request)
        if session is None:
            raise web.HTTPSeeOther("/signin?notice=Please+sign+in")
        if session.user.is_staff:
            raise web.HTTPSeeOther("/care")
        request[SESSION] = session
        return await handler(request)

    return guarded


class SubscriberPages(Pages):
    def register(self, app: web.Application) -> None:
        app.router.add_get("/me", subscriber_only(self.overview))
        app.router.add_get("/me/live", subscriber_only(self.live))
        app.router.add_get("/me/bundles", subscriber_only(self.bundles))
        app.router.add_post("/me/bundles", subscriber_only(self.buy))

    def principal(self, request: web.Request) -> Any:
        return request[SESSION].user.principal

    async def balance(self, request: web.Request) -> balance_pb2.BalanceView:
        account = request[SESSION].user.account
        return await self.s.balance.get_balance(
            balance_pb2.AccountSelector(account_id=account), call_of(self.principal(request))
        )

    async def overview(self, request: web.Request) -> web.StreamResponse:
        user = request[SESSION].user
        view = await self.balance(request)
        account = await self.s.store.get_account(user.account)
        timezone = account.timezone if account else "UTC"
        days, series = await self.s.db.run(
            usage_by_day, self.s.db, self.s.catalog, user.account, self.s.clock(), timezone
        )
        customer = await self.s.store.get_customer(user.customer)
        return self.render(
            request,
            "me.html",
            view=view,
            buckets=[b for b in view.buckets if b.id != "money"],
            wallet=next((b for b in view.buckets if b.id == "money"), None),
            chart=svg(days, series),
            series=series,
            days=days,
            name=(customer.name if customer else "") or user.name,
            offer_names={k: o.name for k, o in self.s.catalog.data.offers.items()},
            now=self.s.clock(),
        )

    async def live(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``balance`` event per change of the account's balances,
        fed by the same watcher as gRPC WatchBalance; a comment line every 15 s keeps the
        connection (and lets a closed one be noticed)."""
        user = request[SESSION].user
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[Any] = asyncio.Queue(100)
        stream = self.s.balance.watch_balance(
            balance_pb2.AccountSelector(account_id=user.account), call_of(user.principal)
        )

        async def pump() -> None:
            try:
                async for note in stream:
                    await queue.put(note)
            finally:
                await queue.put(None)

        task = asyncio.create_task(pump())
        try:
            while True:
                try:
                    note = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if note is None:
                    break
                await response.write(self._event(note))
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await stream.aclose()  # type: ignore[attr-defined]
        return response

    def _event(self, note: Any) -> bytes:
        digits, currency = self.s.digits, self.s.currency
        data = {
            "type": note.type,
            "money": money(note.money_balance, currency, digits),
            "buckets": {b.id: {"available": b.available, "unit": b.unit} for b in note.buckets},
            "threshold": note.threshold.kind if note.HasField("threshold") else "",
        }
        return f"event: balance\ndata: {json.dumps(data)}\n\n".encode()

    async def bundles(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "bundles.html", offers=self.offers(), error="", done=None)

    def offers(self) -> list[dict[str, Any]]:
        result = []
        for offer_id, offer in sorted(self.s.catalog.data.offers.items()):
            if offer.kind == "base":
                continue
            zones = sorted({r.zone for r in offer.rates}) or ["home"]
            result.append(
                {
                    "id": offer_id,
                    "name": offer.name,
                    "price": offer.price,
                    "recurring": offer.recurring_fee,
                    "zones": zones,
                    "allowances": [
                        (a.unit, a.amount, a.services, a.validity_days) for a in offer.allowances
                    ],
                }
            )
        return result

    async def buy(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await self.form(request)
            offer_id = str(form.get("offer", ""))
            user = request[SESSION].user
            order = await purchase(
                self.s, user.principal, user.account, offer_id, f"portal:{uuid.uuid4().hex}"
            )
            if order.state.value != "completed":
                raise PageError(f"The purchase failed: {order.failure}.", 409)
        except PageError as exc:
            return self.render(
                request, "bundles.html", exc.status, offers=self.offers(), error=str(exc), done=None
            )
        except ApiError as exc:
            return self.render(
                request, "bundles.html", 400, offers=self.offers(), error=exc.message, done=None
            )
        offer = self.s.catalog.offer(offer_id)
        raise web.HTTPSeeOther("/me?" + notice(f"Bought {offer.name if offer else offer_id}"))
