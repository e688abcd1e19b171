"""Which REST APIs and pages the web subsystem serves (one list, also the OpenAPI document)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ocs.bss.context import Services
from ocs.payments.service import Payments
from ocs.portal.background import Background
from ocs.portal.care_pages import CarePages
from ocs.portal.money_pages import MoneyPages
from ocs.portal.pages import PAGES, Pages, security_headers
from ocs.portal.people import People, SignInGuard
from ocs.portal.signin import SignInPages
from ocs.portal.subscriber import SubscriberPages
from ocs.portal.ticket_pages import TicketPages
from ocs.tmf.balance import BalanceApi
from ocs.tmf.bills import BillApi
from ocs.tmf.catalog import CatalogApi
from ocs.tmf.customers import CustomerApi
from ocs.tmf.http import Route
from ocs.tmf.hub import HubApi
from ocs.tmf.tickets import TicketApi


def api_routes(services: Services, background: Background, secret: bytes) -> list[Route]:
    bills = BillApi(services, Payments(services))
    bills.secret = secret
    routes: list[Route] = []
    apis = (
        BalanceApi(services),
        CustomerApi(services),
        bills,
        HubApi(services),
        TicketApi(services),
        CatalogApi(services),
    )
    for api in apis:
        routes += api.routes()
    return routes


def page_routes(
    app: web.Application, services: Services, background: Background, secret: bytes
) -> None:
    people = People(services.db, services.clock, services.config.session_ttl_s)
    people.activation_ttl_ms = services.config.activation_ttl_s * 1000
    guard = SignInGuard(
        services.config.signin_failures, services.config.signin_window_s, background.monotonic_ms
    )
    app.middlewares.append(security_headers)
    groups: list[type[Pages]] = [SignInPages, SubscriberPages, MoneyPages, CarePages, TicketPages]
    pages = [group(services, people, guard) for group in groups]
    for page in pages:
        if isinstance(page, MoneyPages):
            page.secret = secret
    app[PAGES] = pages[0]
    for page in pages:
        page.register(app)
    app.router.add_static("/static", Path(__file__).with_name("static"), follow_symlinks=False)
    background.people = people
