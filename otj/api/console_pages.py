"""Console pages: sign in and out, the rooms, a room's meetings with "why no Join button".

``/console/sign-in`` checks a password (``otj admins create``; lock-out after repeated
failures) and opens a server-side session (``otj.api.console_auth``). The sign-in form carries a
token also set as a cookie scoped to the form (login CSRF). ``/console/rooms`` lists every room
(filter and search); ``/console/rooms/{room}`` shows its meetings with alias, platform, rule and
the per-rule trace, and with ``?all=1`` the meetings the endpoint does not show and why.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from otj.api.console_auth import COOKIE, LIFETIME, set_session_cookie
from otj.api.console_web import (
    asset,
    form_csrf_ok,
    page_user,
    refused,
    render,
    sign_in_redirect,
)
from otj.console.oidc import OidcSettings
from otj.console.rooms import FILTERS, room_meetings, rooms_page, why_no_join

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
SIGN_IN_COOKIE = "otj_console_sign_in"
BODY_LIMITS = {"/console/sign-in": 4096, "/console/sign-out": 4096}
"""Request body caps by route (``otj.api.limits``): a name, a password and a token."""


def _safe_next(target: str | None) -> str:
    """Only a console path (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/rooms"


class SignInAndRoomPages:
    """The console's start, sign-in and sign-out, and the rooms pages."""

    def __init__(self, db: Database, *, clock: Clock, oidc: OidcSettings | None) -> None:
        self._db = db
        self._clock = clock
        self._user = page_user(db, clock)
        self._with_oidc = (oidc or OidcSettings.from_environ(os.environ)) is not None

    def static(self, name: str) -> Response:
        return asset(name)

    def start(self) -> RedirectResponse:
        return RedirectResponse("/console/rooms", status_code=303)

    def _sign_in_form(
        self, request: Request, *, error: str = "", status: int = 200, next_: str | None = None
    ) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(
            "sign_in.html", None, status=status, csrf=token, error=error, oidc=self._with_oidc,
            next=_safe_next(next_ or request.query_params.get("next")),
        )  # fmt: skip
        response.set_cookie(
            SIGN_IN_COOKIE, token, path="/console/sign-in", httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=3600,
        )  # fmt: skip
        return response

    def sign_in_page(self, request: Request) -> Response:
        return self._sign_in_form(request)

    async def sign_in(self, request: Request) -> Response:
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        if not expected:  # no form was served to this browser: nothing is read
            return self._sign_in_form(
                request, error="Your sign-in form expired; try again.", status=400
            )
        form = await request.form()
        offered = form.get("csrf")
        if not isinstance(offered, str) or not hmac.compare_digest(expected, offered):
            return self._sign_in_form(
                request, error="Your sign-in form expired; try again.", status=400
            )
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        next_ = str(form.get("next", ""))
        now = self._clock()
        outcome = self._db.admins.sign_in(name, password, now=now)
        if outcome.admin is None:
            error = (
                "This account is locked after too many failed sign-ins; try again later."
                if outcome.locked
                else "Wrong name or password."
            )
            return self._sign_in_form(request, error=error, status=401, next_=next_)
        cookie, _ = self._db.admins.open_session(outcome.admin.name, now=now, lifetime=LIFETIME)
        response = RedirectResponse(_safe_next(next_), status_code=303)
        set_session_cookie(response, cookie, secure=request.url.scheme == "https")
        response.delete_cookie(SIGN_IN_COOKIE, path="/console/sign-in")
        return response

    async def sign_out(self, request: Request) -> Response:
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        if not form_csrf_ok(who, await request.form()):
            return refused(who, "The form carried no valid CSRF token.")
        self._db.admins.close_session(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/console/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def rooms(
        self,
        request: Request,
        q: Annotated[str, Query(max_length=200)] = "",
        show: Annotated[str, Query()] = "all",
    ) -> Response:
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        started = time.perf_counter()
        show = show if show in FILTERS else "all"
        lines = rooms_page(self._db, query=q, show=show)
        page = render(
            "rooms.html", who, active="rooms", lines=lines, q=q, show=show, filters=FILTERS
        )
        spent = (time.perf_counter() - started) * 1000
        page.headers["Server-Timing"] = f"app;dur={spent:.1f}"  # W3C Server Timing
        return page

    def room(self, request: Request, room: str, all: bool = False) -> Response:  # noqa: A002
        who = self._user(request)
        if who is None:
            return sign_in_redirect(request)
        status, meetings = room_meetings(self._db, room, now=self._clock(), include_unlisted=all)
        if status is None:
            return render("refused.html", who, status=404, reason=f"There is no room {room}.")
        hidden = sum(1 for m in meetings if not m.listed)
        return render(
            "room.html", who, active="rooms", state=status, meetings=meetings, all=all,
            hidden=hidden, why=why_no_join, name=", ".join(status.endpoints) or status.room,
        )  # fmt: skip


def router(
    db: Database, *, clock: Clock, oidc: OidcSettings | None = None, **_options: Any
) -> APIRouter:
    """The sign-in and rooms pages (``oidc``: the OpenID Connect sign-in is offered, by default
    when ``OTJ_OIDC_ISSUER`` is set)."""
    api = APIRouter(include_in_schema=False)
    routes = SignInAndRoomPages(db, clock=clock, oidc=oidc)
    api.get("/console/static/{name}")(routes.static)
    api.get("/console")(routes.start)
    api.get("/console/sign-in")(routes.sign_in_page)
    api.post("/console/sign-in")(routes.sign_in)
    api.post("/console/sign-out")(routes.sign_out)
    api.get("/console/rooms")(routes.rooms)
    api.get("/console/rooms/{room}")(routes.room)
    return api
