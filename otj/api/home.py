"""The landing page at ``/``: what this service is and where its parts are.

With the bundled demo running it also lists the demo rooms (only those: the rooms of
``otj.demo``, whose addresses are under the reserved ``.example`` domain), their meetings and
Join aliases and the simulated codecs, so a new user sees the product work. Real rooms' meetings
are shown only to an administrator (``Authorization: Bearer`` with an admin token); without one,
outside the demo, the page shows no data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse

import otj
from otj.api.auth import admin_from_header
from otj.demo import demo_rooms

if TYPE_CHECKING:
    from otj.model import Meeting
    from otj.store import Database

_STYLE = (
    "body{font:16px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
    "td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}"
    "code{background:#f3f3f3;padding:0 .25rem}.none{color:#888}"
)


def _meeting_row(meeting: Meeting) -> str:
    none = '<span class="none">none</span>'
    alias = f"<code>{escape(meeting.alias)}</code>" if meeting.alias else none
    return (
        f"<tr><td>{meeting.start:%a %d %b %H:%M} UTC</td><td>{escape(meeting.subject)}</td>"
        f"<td>{alias}</td><td>{escape(str(meeting.platform))}</td>"
        f"<td>{escape(meeting.rule or '')}</td></tr>"
    )


def render_home(
    *,
    rooms: Sequence[tuple[str, Sequence[Meeting]]],
    codecs: Sequence[tuple[str, str]],
    demo: bool,
    panels: Sequence[tuple[str, str]] = (),
    admin: bool = False,
) -> str:
    """The page as HTML (pure); ``rooms`` are shown in the demo or to an administrator."""
    parts = [
        (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>otj</title>"
            f"<style>{_STYLE}</style><h1>otj {escape(otj.__version__)}</h1>"
            "<p>One-Touch Join: room calendars → meeting processing rules → Join buttons on "
            "endpoints, and a SIP Guest Join gateway.</p><ul>"
            '<li><a href="/console">Admin console</a> (accounts: '
            "<code>otj admins create NAME</code>)</li>"
            '<li><a href="/docs">API documentation</a> (<a href="/openapi.json">OpenAPI</a>)</li>'
            "<li>Administrators: <code>otj tokens create --admin NAME</code>, then "
            "<code>/api/v1/status/rooms</code> with <code>Authorization: Bearer …</code></li>"
            "<li>Endpoints: <code>/api/v1/rooms/{room}/meetings</code> (JSON) and "
            "<code>/api/v1/rooms/{room}/meetings.ics</code> with a token from "
            "<code>otj endpoints token NAME</code>; room panel at <code>/panel/{room}</code></li>"
            "</ul>"
        )
    ]
    codec_of = dict(codecs)
    panel_of = dict(panels)
    if admin:
        parts.append("<h2>Rooms</h2><p>Every room's meetings (administrator view).</p>")
    elif demo:
        parts.append(
            "<h2>Demo rooms</h2><p>Calendars generated around today, polled every "
            "minute; each room's simulated Cisco codec shows the bookings it received and "
            "the calls its room panel's Join button asked for.</p>"
        )
    if admin or demo:
        for room, meetings in rooms:
            codec = codec_of.get(room)
            link = f' — <a href="{escape(codec)}/">simulated codec</a>' if codec else ""
            if room in panel_of:
                link += f' — <a href="{escape(panel_of[room])}">room panel</a>'
            parts.append(f"<h3>{escape(room)}{link}</h3>")
            if not meetings:
                parts.append('<p class="none">no meetings read yet</p>')
                continue
            parts.append(
                "<table><tr><th>Start</th><th>Subject (as shown)</th>"
                "<th>Join alias</th><th>Platform</th><th>Rule</th></tr>"
            )
            parts.extend(_meeting_row(m) for m in meetings)
            parts.append("</table>")
    return "".join(parts)


def router(
    db: Database,
    *,
    clock: Callable[[], datetime],
    demo: bool = False,
    codecs: Sequence[tuple[str, str]] = (),
    panels: Sequence[tuple[str, str]] = (),
) -> APIRouter:
    """``GET /``; with ``demo`` the demo rooms' meetings (never real rooms), every room's
    meetings for an administrator."""
    api = APIRouter()

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(authorization: Annotated[str | None, Header()] = None) -> HTMLResponse:
        rooms: list[tuple[str, Sequence[Meeting]]] = []
        now = clock()
        admin = admin_from_header(db, authorization, now=now)
        shown = db.rooms.names() if admin else []
        if demo and not admin:
            own = {room.email.lower() for room in demo_rooms(now)}
            shown = [room for room in db.rooms.names() if room in own]
        for room in shown:
            meetings = db.meetings.list(
                room,
                start=now - timedelta(hours=1),
                end=now + timedelta(days=7),
                listed_only=True,
                with_trace=False,
            )
            rooms.append((room, meetings))
        page = render_home(
            rooms=rooms, codecs=codecs, demo=demo, panels=panels, admin=admin is not None
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return api
