"""What every portal page shares: templates (Jinja2, autoescaped), the session cookie, CSRF
tokens on every form, security headers, and errors shown on the page that caused them."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from ocs.api.errors import ApiError
from ocs.bss.context import Services
from ocs.portal.people import People, Session, SignInGuard

COOKIE = "ocs_session"
PRE_COOKIE = "ocs_presession"
"""Double-submit CSRF cookie of the signed-out forms (sign-in, activation)."""
PAGES: web.AppKey[Pages] = web.AppKey("pages")
SESSION = web.RequestKey("session", Session)
PRE_CSRF = web.RequestKey("pre_csrf", str)
SET_PRE_CSRF = web.RequestKey("set_pre_csrf", str)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageError(Exception):
    """An error to show on a page (status 400 unless said)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def money(minor: int, currency: str = "EUR", digits: int = 2) -> str:
    value = Decimal(minor).scaleb(-digits)
    return f"{currency} {value:,.{digits}f}"


def quantity(amount: int, unit: str) -> str:
    if unit == "octets":
        if amount >= 1_000_000_000:
            return f"{Decimal(amount).scaleb(-9):,.2f} GB"
        return f"{Decimal(amount).scaleb(-6):,.1f} MB"
    if unit == "seconds":
        return f"{amount // 60}:{amount % 60:02d} min"
    if unit == "units":
        return f"{amount:,}"
    return f"{amount:,} {unit}"


def when(ms: int, zone: str = "UTC", with_time: bool = True) -> str:
    if not ms:
        return "-"
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


class Pages:
    """Base of the page groups: rendering, sessions, CSRF."""

    def __init__(self, services: Services, people: People, guard: SignInGuard) -> None:
        self.s = services
        self.people = people
        self.guard = guard
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("ocs.portal", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        digits = services.digits
        currency = services.currency
        self.env.filters["money"] = lambda minor: money(int(minor), currency, digits)
        self.env.filters["quantity"] = quantity
        self.env.filters["when"] = when
        self.env.filters["day"] = lambda ms: when(int(ms), with_time=False)

    def register(self, app: web.Application) -> None:
        raise NotImplementedError

    def render(
        self, request: web.Request, template: str, status: int = 200, **context: Any
    ) -> web.Response:
        session = request.get(SESSION)
        body = self.env.get_template(template).render(
            session=session,
            user=session.user if session else None,
            csrf=session.csrf if session else request.get(PRE_CSRF, ""),
            path=request.path,
            notice=request.query.get("notice", "")[:200],
            sandbox=self.s.config.sandbox_payments,
            **context,
        )
        response = web.Response(text=body, status=status, content_type="text/html")
        pre = request.get(SET_PRE_CSRF)
        if pre:
            response.set_cookie(
                PRE_COOKIE,
                pre,
                httponly=True,
                secure=self.s.config.cookie_secure,
                samesite="Strict",
                path="/",
            )
        return response

    async def session_of(self, request: web.Request) -> Session | None:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        return await self.s.db.run(self.people.session, token)

    def pre_csrf(self, request: web.Request) -> str:
        """The signed-out forms' token (double submit: cookie and field must match)."""
        value = request.cookies.get(PRE_COOKIE, "")
        if len(value) < 20:
            value = secrets.token_urlsafe(24)
            request[SET_PRE_CSRF] = value
        request[PRE_CSRF] = value
        return value

    def check_pre_csrf(self, request: web.Request, form: Mapping[str, Any]) -> None:
        cookie = request.cookies.get(PRE_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, str(form.get("csrf", ""))):
            raise PageError("Your form expired: please try again.", 403)

    async def form(self, request: web.Request) -> Mapping[str, Any]:
        """The posted form, its CSRF token checked against the session's."""
        form = await request.post()
        session = request.get(SESSION)
        token = str(form.get("csrf", ""))
        if session is None or not hmac.compare_digest(session.csrf, token):
            raise PageError("Your form expired: please reload the page and try again.", 403)
        return form

    def session_cookie(self, response: web.StreamResponse, token: str, max_age: int) -> None:
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            secure=self.s.config.cookie_secure,
            samesite="Strict",
            path="/",
            max_age=max_age,
        )


def notice(text: str) -> str:
    """``?notice=...`` for a redirect after a form."""
    return "notice=" + quote_plus(text[:200])


def api_message(error: ApiError) -> str:
    """An API error for a person: the field and the problem."""
    return error.message


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if not request.path.startswith("/tmf-api"):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
