"""Signing in and out, and activating a subscriber's login with care's code."""

from __future__ import annotations

from aiohttp import web

from ocs.api.errors import ApiError
from ocs.portal.pages import COOKIE, SESSION, PageError, Pages


class SignInPages(Pages):
    def register(self, app: web.Application) -> None:
        app.router.add_get("/", self.home)
        app.router.add_get("/signin", self.signin_page)
        app.router.add_post("/signin", self.signin)
        app.router.add_post("/signout", self.signout)
        app.router.add_get("/activate", self.activate_page)
        app.router.add_post("/activate", self.activate)

    async def home(self, request: web.Request) -> web.StreamResponse:
        session = await self.session_of(request)
        if session is None:
            raise web.HTTPSeeOther("/signin")
        raise web.HTTPSeeOther("/care" if session.user.is_staff else "/me")

    async def signin_page(self, request: web.Request) -> web.StreamResponse:
        self.pre_csrf(request)
        return self.render(request, "signin.html", error="", login="")

    def _address(self, request: web.Request) -> str:
        return request.remote or "-"

    async def signin(self, request: web.Request) -> web.StreamResponse:
        self.pre_csrf(request)
        form = await request.post()
        login = str(form.get("login", "")).strip().lstrip("+")[:128]
        password = str(form.get("password", ""))[:512]
        try:
            self.check_pre_csrf(request, form)
        except PageError as exc:
            return self.render(request, "signin.html", exc.status, error=str(exc), login=login)
        address = self._address(request)
        wait = self.guard.retry_after_s(login, address)
        if wait:
            response = self.render(
                request,
                "signin.html",
                429,
                login=login,
                error=f"Too many failed attempts. Try again in {wait} seconds.",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        user = await self.s.db.run(self.people.verify, login, password)
        if user is None:
            self.guard.failed(login, address)
            return self.render(
                request,
                "signin.html",
                401,
                login=login,
                error="That login and password do not match.",
            )
        self.guard.succeeded(login)
        token, _ = await self.s.db.run(self.people.open_session, user)
        response = web.HTTPSeeOther("/care" if user.is_staff else "/me")
        self.session_cookie(response, token, self.s.config.session_ttl_s)
        raise response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(COOKIE, "")
        session = await self.session_of(request)
        if session is not None:
            request[SESSION] = session
            await self.form(request)
            await self.s.db.run(self.people.close_session, token)
        response = web.HTTPSeeOther("/signin?notice=Signed+out")
        response.del_cookie(COOKIE, path="/")
        raise response

    async def activate_page(self, request: web.Request) -> web.StreamResponse:
        self.pre_csrf(request)
        return self.render(request, "activate.html", error="", login="")

    async def activate(self, request: web.Request) -> web.StreamResponse:
        self.pre_csrf(request)
        form = await request.post()
        login = str(form.get("login", "")).strip().lstrip("+")[:128]
        code = str(form.get("code", ""))[:64]
        password = str(form.get("password", ""))[:512]
        try:
            self.check_pre_csrf(request, form)
            if password != str(form.get("confirm", "")):
                raise PageError("The two passwords differ.")
            address = self._address(request)
            wait = self.guard.retry_after_s(login, address)
            if wait:
                raise PageError(f"Too many failed attempts. Try again in {wait} seconds.", 429)
            try:
                user = await self.s.db.run(self.people.activate, login, code, password)
            except ApiError as exc:
                raise PageError(f"Password: {exc.message.partition(': ')[2]}") from None
            if user is None:
                self.guard.failed(login, address)
                raise PageError("That number and activation code do not match (or expired).")
        except PageError as exc:
            return self.render(request, "activate.html", exc.status, error=str(exc), login=login)
        token, _ = await self.s.db.run(self.people.open_session, user)
        response = web.HTTPSeeOther("/me?notice=Your+password+is+set")
        self.session_cookie(response, token, self.s.config.session_ttl_s)
        raise response
