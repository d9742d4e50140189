"""Who is calling the console and the configuration API, and may they change things?

Two ways in: ``Authorization: Bearer`` with an admin token (``otj tokens create --admin``;
role admin, audited as ``api``), or the console's session cookie (``otj admins create``; role
admin or viewer, audited as ``console``). A request through the cookie that changes anything
must also carry the session's CSRF token (``X-CSRF-Token`` header, or the ``csrf`` field of a
form, compared by the page routes), so another site cannot make a signed-in browser change the
configuration; the cookie itself is HttpOnly and SameSite=Strict. Viewers get 403 on changes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fastapi import HTTPException, Request, Response

from otj.api.auth import admin_from_header

if TYPE_CHECKING:
    from otj.store import Database

COOKIE = "otj_console"
CSRF_HEADER = "X-CSRF-Token"
IDLE = timedelta(minutes=30)
"""A session ends this long after its last use."""
LIFETIME = timedelta(hours=12)
"""A session ends this long after sign-in, used or not."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """The caller: an administrator's name and role, how it came in, its CSRF token."""

    name: str
    role: Literal["admin", "viewer"]
    source: Literal["console", "api"]
    csrf_token: str = ""

    @property
    def may_change(self) -> bool:
        """Admins change; viewers look."""
        return self.role == "admin"


def principal(db: Database, request: Request, *, now: datetime) -> Principal | None:
    """The caller of ``request`` (bearer token first, then the session cookie), or None."""
    header = request.headers.get("authorization")
    if header:
        token = admin_from_header(db, header, now=now)
        if token is None:
            return None
        return Principal(name=f"token:{token.name}", role="admin", source="api")
    session = db.admins.session(request.cookies.get(COOKIE, ""), now=now, idle=IDLE)
    if session is None:
        return None
    return Principal(
        name=session.admin.name,
        role=session.admin.role,
        source="console",
        csrf_token=session.csrf_token,
    )


def csrf_ok(who: Principal, offered: str | None) -> bool:
    """True for a bearer caller, or a session caller offering its session's CSRF token."""
    if who.source == "api":
        return True
    return bool(offered) and hmac.compare_digest(who.csrf_token, offered or "")


def unauthorized() -> HTTPException:
    """401 with the bearer challenge (RFC 6750 §3)."""
    return HTTPException(
        status_code=401,
        detail="sign in to the console, or send an admin bearer token",
        headers={"WWW-Authenticate": 'Bearer realm="otj admin"'},
    )


def reader(db: Database, clock: Callable[[], datetime]) -> Callable[[Request], Principal]:
    """A dependency: any administrator (viewer or admin), else 401."""

    def require_reader(request: Request) -> Principal:
        who = principal(db, request, now=clock())
        if who is None:
            raise unauthorized()
        return who

    return require_reader


def changer(db: Database, clock: Callable[[], datetime]) -> Callable[[Request], Principal]:
    """A dependency: an admin (403 for a viewer) whose session request carries its CSRF token."""

    def require_changer(request: Request) -> Principal:
        who = principal(db, request, now=clock())
        if who is None:
            raise unauthorized()
        if not who.may_change:
            raise HTTPException(403, f"{who.name} is a viewer: viewers cannot change anything")
        if not csrf_ok(who, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
        return who

    return require_changer


def set_session_cookie(response: Response, value: str, *, secure: bool) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, for the whole site."""
    response.set_cookie(
        COOKIE,
        value,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
        max_age=int(LIFETIME.total_seconds()),
    )
