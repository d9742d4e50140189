"""``/console/sign-in/oidc``: sign in to the console through an OpenID Connect provider.

Off unless ``otj serve`` has ``OTJ_OIDC_ISSUER`` (see ``otj.console.oidc``). The state of a
sign-in in progress is bound to the browser by a cookie scoped to these routes (SameSite=Lax:
the provider's answer is a cross-site navigation). Once the provider's ID token checks out, the
account (created on first sign-in, its role taken from the provider each time) gets an ordinary
console session. The session cookie is SameSite=Strict, which a browser does not send on the
rest of a cross-site redirect chain, so the answer is a page that moves on by itself (a
same-site navigation) instead of a redirect.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from otj.api.console_auth import LIFETIME, set_session_cookie
from otj.api.console_web import render
from otj.console.oidc import OidcClient, OidcError, OidcSettings

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
STATE_COOKIE = "otj_console_oidc"
PATH = "/console/sign-in/oidc"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/rooms"


def router(
    db: Database, *, clock: Clock, oidc: OidcSettings | None = None, **_options: Any
) -> APIRouter:
    """The OpenID Connect sign-in routes (answering 404 when it is not configured)."""
    api = APIRouter(include_in_schema=False)
    settings = oidc or OidcSettings.from_environ(os.environ)
    client = OidcClient(settings) if settings else None

    def failed(message: str, status: int = 400) -> Response:
        return render("oidc_failed.html", None, reason=message, status=status)

    @api.get(PATH)
    def start(request: Request, next: str = "") -> Response:  # noqa: A002 (query name)
        if client is None:
            return Response(status_code=404)
        redirect_uri = str(request.url_for("oidc_callback"))
        try:
            url, state = client.start(
                redirect_uri=redirect_uri, next_=_safe_next(next), now=clock()
            )
        except OidcError as exc:
            return failed(str(exc), 502)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            STATE_COOKIE, state, path=PATH, httponly=True, samesite="lax",
            secure=request.url.scheme == "https", max_age=600,
        )  # fmt: skip
        return response

    @api.get(PATH + "/callback", name="oidc_callback")
    def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
        if client is None:
            return Response(status_code=404)
        if error:
            return failed(f"the provider did not sign you in: {error[:200]}", 401)
        now = clock()
        try:
            user, next_ = client.finish(
                state=state, bound=request.cookies.get(STATE_COOKIE, ""), code=code, now=now
            )
            admin = db.admins.external(user.name, role=user.role, now=now)
        except OidcError as exc:
            return failed(str(exc), 401)
        except PermissionError as exc:
            return failed(f"{exc}: it signs in with its password", 403)
        cookie, _ = db.admins.open_session(admin.name, now=now, lifetime=LIFETIME)
        response = render("oidc_done.html", None, next=next_, name=admin.name, role=admin.role)
        set_session_cookie(response, cookie, secure=request.url.scheme == "https")
        response.delete_cookie(STATE_COOKIE, path=PATH)
        return response

    return api
