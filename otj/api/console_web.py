"""What every console page shares: templates, the layout, page sign-in, CSRF of forms, assets.

Pages are rendered on the server from ``templates/console/`` (Jinja2 with autoescape); the
little JavaScript there is (the live preview) is ``static/console.js`` served from here. The
Content-Security-Policy allows nothing from elsewhere. A page without a session redirects to
the sign-in page; a form that changes something carries the session's CSRF token in ``csrf``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from otj.api.console_auth import Principal, principal

if TYPE_CHECKING:
    from otj.store import Database

HERE = Path(__file__).parent
STATIC = "/console/static"
ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NAV = (
    ("rooms", "/console/rooms", "Rooms"),
    ("meeting_processing_rules", "/console/config/meeting_processing_rules", "Meeting rules"),
    ("call_routing_rules", "/console/config/call_routing_rules", "Call routing"),
    ("route", "/console/route", "Route tester"),
    ("calls", "/console/calls", "Calls"),
    ("alarms", "/console/alarms", "Alarms"),
    ("config", "/console/config", "Configuration"),
    ("history", "/console/history", "History"),
)


@cache
def templates() -> Environment:
    """Our own templates (not user input: no sandbox), HTML autoescaped."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates" / "console"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["url"] = lambda text: quote(str(text), safe="")
    return env


def when(moment: datetime | None) -> str:
    """``2026-03-02 09:00 UTC``, or an em dash."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def render(
    template: str,
    who: Principal | None,
    *,
    active: str = "",
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page in the console layout."""
    html = (
        templates()
        .get_template(template)
        .render(who=who, nav=NAV, active=active, static=STATIC, **context)
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/sign-in?next={quote(target, safe='')}", status_code=303)


def page_user(db: Database, clock: Callable[[], datetime]) -> Callable[[Request], Principal | None]:
    """The signed-in administrator of a page request (None: redirect to the sign-in page)."""

    def find(request: Request) -> Principal | None:
        return principal(db, request, now=clock())

    return find


def form_csrf_ok(who: Principal, form: Mapping[str, Any]) -> bool:
    """Whether a posted form carries the session's CSRF token."""
    offered = form.get("csrf")
    return (
        isinstance(offered, str)
        and bool(who.csrf_token)
        and hmac.compare_digest(who.csrf_token, offered)
    )


def refused(who: Principal, reason: str) -> HTMLResponse:
    """403 page (a viewer's change, a form without its CSRF token)."""
    return render("refused.html", who, status=403, reason=reason)


def asset(name: str) -> Response:
    """A console asset (``console.js``, ``console.css``)."""
    media = ASSETS.get(name)
    if media is None:
        return Response(status_code=404)
    return Response(
        (HERE / "static" / name).read_bytes(),
        media_type=media,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
