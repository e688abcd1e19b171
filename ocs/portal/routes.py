"""Which REST APIs and pages the web subsystem serves (one list, also the OpenAPI document)."""

from __future__ import annotations

from aiohttp import web

from ocs.bss.context import Services
from ocs.portal.background import Background
from ocs.tmf.balance import BalanceApi
from ocs.tmf.customers import CustomerApi
from ocs.tmf.http import Route


def api_routes(services: Services, background: Background) -> list[Route]:
    routes: list[Route] = []
    for api in (BalanceApi(services), CustomerApi(services)):
        routes += api.routes()
    return routes


def page_routes(app: web.Application, services: Services, background: Background) -> None:
    return None
