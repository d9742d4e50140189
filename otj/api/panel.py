"""Room panel: ``/panel/{room}`` shows today's meetings and a Join button that makes the room's
Cisco codec dial (``xCommand Dial Number: … BookingId: …``).

A panel is paired once by opening ``/panel/{room}?token=<endpoint token>``: the token moves into
an HttpOnly, SameSite=Strict cookie scoped to the panel's path and the page reloads without it.
The page polls ``/panel/{room}/state`` (ETag, 304) and reads the server's clock from the
``X-OTJ-Server-Time`` header, so the Join button follows the server's time; the server checks
the join window again before it dials. When the room's latest call ended in the meeting's lobby
or was refused by the host (within ``PANEL_NOTICE_FOR``), the state carries a ``notice`` that
says so, and "Try again" (``/panel/{room}/retry``) dials that meeting again
(:mod:`otj.delivery.notices.lobby`). The title is the room's name (the paired endpoint's
name, as the gateway shows it to meeting hosts); times are shown in the room's time zone (its
profile's ``time_zone``, else the server's) in the viewer's locale (``Intl.DateTimeFormat``).
Every asset is served from here (no external requests; the Content-Security-Policy forbids them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Cookie, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import FileSystemLoader, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from otj.api.panel_dial import codec_for_room, dial_meeting, failed, redial_call
from otj.api.pull import bearer_token
from otj.api.pull.documents import conditional
from otj.delivery.devices.bookings import booking_id
from otj.delivery.devices.cisco import CiscoDefaults
from otj.delivery.notices.room_notices import panel_notice
from otj.delivery.pull.access import DirectoryCache, authenticate, may_read_room
from otj.delivery.pull.feeds import listed, meeting_json
from otj.model import Endpoint, Meeting

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
HERE = Path(__file__).parent
COOKIE = "otj_panel"
ASSETS = {"panel.js": "text/javascript; charset=utf-8", "panel.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: What the panel receives around "now": enough to cover today in any time zone.
BEFORE = timedelta(hours=14)
AFTER = timedelta(hours=38)
BODY_LIMITS = {"/panel/{room}/dial": 1024, "/panel/{room}/retry": 1024}
"""Request body caps by route (``otj.api.limits``): a dial names one meeting id, a retry one
call record."""


class DialIn(BaseModel):
    """Which meeting to join (its ``id`` from the state document)."""

    id: str


class RetryIn(BaseModel):
    """Which call to try again (the ``call`` of the state's ``notice``)."""

    call: int


@cache
def _templates() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def server_time_zone() -> str:
    """The server's IANA time zone name (``$TZ``, ``/etc/localtime``, … read by tzlocal), or
    ``UTC`` when it has none."""
    import tzlocal

    try:
        name = tzlocal.get_localzone_name()
        if name:
            ZoneInfo(name)  # tzlocal may name what zoneinfo cannot load (a POSIX TZ string)
    except (LookupError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        log.warning("the server's time zone is unknown (%s); the panel uses UTC", exc)
        return "UTC"
    return name or "UTC"


class PanelRoutes:
    """The panel's routes over one store: the page (and its pairing), its state, the Join
    button's dial and "Try again"; ``time_zone`` is the rooms' default (else the server's)."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        defaults: CiscoDefaults | None = None,
        poll_ms: int = 5000,
        time_zone: str | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._cisco_defaults = defaults or CiscoDefaults()
        self._directory = DirectoryCache(db)
        self._default_zone = time_zone or server_time_zone()
        self._poll_ms = poll_ms

    # --- helpers ------------------------------------------------------------------------------

    def room_zone(self, endpoint: Endpoint) -> str:
        """The IANA time zone the room's times are shown in."""
        return self._directory.get().profile(endpoint.name).time_zone or self._default_zone

    def caller_endpoint(self, room: str, token: str, now: datetime) -> Endpoint | None:
        """The endpoint whose token this is, when it shows ``room``."""
        caller = authenticate(self._db, token, now=now)
        if caller is None:
            return None
        endpoint = self._directory.get().endpoint(caller.endpoint)
        return endpoint if may_read_room(endpoint, room) else None

    def panel_meetings(self, endpoint: Endpoint, room: str, now: datetime) -> list[Meeting]:
        """The room's listed meetings around ``now`` (``BEFORE``, ``AFTER``)."""
        return listed(
            self._db.meetings.list(
                room, start=now - BEFORE, end=now + AFTER, listed_only=True, with_trace=False
            )
        )

    # --- routes -------------------------------------------------------------------------------

    def page(
        self,
        room: str,
        request: Request,
        token: Annotated[str | None, Query()] = None,
        otj_panel: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        """The panel page; with ``?token=`` pairs the panel (cookie) and reloads without it."""
        now = self._clock()
        path = f"/panel/{quote(room, safe='@')}"
        if token:
            if self.caller_endpoint(room, token, now) is None:
                return _not_paired(room, status=403)
            response = RedirectResponse(path, status_code=303)
            response.set_cookie(
                COOKIE,
                token,
                path=path,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                max_age=400 * 24 * 3600,
            )
            return response
        endpoint = self.caller_endpoint(room, otj_panel or "", now)
        if endpoint is None:
            return _not_paired(room, status=401)
        html = (
            _templates()
            .get_template("panel.html")
            .render(
                room_name=endpoint.name,
                time_zone=self.room_zone(endpoint),
                static_url="/panel/static",
                state_url=f"{path}/state",
                dial_url=f"{path}/dial",
                retry_url=f"{path}/retry",
                poll_ms=self._poll_ms,
            )
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store", **SECURITY_HEADERS})

    def state(
        self,
        room: str,
        otj_panel: Annotated[str | None, Cookie()] = None,
        authorization: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """The page's state document (ETag), with the server's clock in a header."""
        now = self._clock()
        token = bearer_token(authorization, None) or (otj_panel or "")
        endpoint = self.caller_endpoint(room, token, now)
        clock_header = {"X-OTJ-Server-Time": _iso(now)}
        if endpoint is None:
            return JSONResponse(
                {"error": "unauthorized", "detail": "panel not paired"},
                status_code=401,
                headers=clock_header,
            )
        items = self.panel_meetings(endpoint, room, now)
        body = json.dumps(
            {
                "room": room,
                "roomName": endpoint.name,
                "timeZone": self.room_zone(endpoint),
                "meetings": [meeting_json(m) for m in items],
                "notice": panel_notice(
                    self._db, self._directory.get().room_endpoints(room), now=now
                ),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return conditional(body, "application/json", if_none_match, clock_header)

    async def dial(
        self,
        room: str,
        request: Request,
        otj_panel: Annotated[str | None, Cookie()] = None,
        x_otj_panel: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """The Join button: the room's codec dials the meeting, if it is time to join it."""
        now = self._clock()
        if x_otj_panel != "1":
            return failed(403, "missing panel header")  # blocks cross-site form posts
        endpoint = await run_in_threadpool(self.caller_endpoint, room, otj_panel or "", now)
        if endpoint is None:
            return failed(401, "this panel is not paired with the room")
        try:  # read only now: an unpaired caller's body is never read (otj.api.limits)
            wanted = DialIn.model_validate_json(await request.body())
        except ValidationError:
            return failed(422, "the request names no meeting")
        items = await run_in_threadpool(self.panel_meetings, endpoint, room, now)
        meeting = next((m for m in items if booking_id(m.event_id) == wanted.id), None)
        if meeting is None:
            return failed(404, "this meeting is no longer in the room's calendar")
        if not meeting.alias:
            return failed(409, "this meeting has no video address")
        if not meeting.join_from <= now < meeting.join_until:
            return failed(409, "it is not time to join this meeting")
        found = await run_in_threadpool(codec_for_room, self._db, endpoint, room)
        if found is None:
            return failed(409, "no room system here can be asked to dial")
        codec, profile = found
        return await dial_meeting(codec, profile, self._cisco_defaults, meeting, meeting.alias)

    async def retry(
        self,
        room: str,
        request: Request,
        otj_panel: Annotated[str | None, Cookie()] = None,
        x_otj_panel: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """The Try again button: the room's codec dials the notice's call again."""
        now = self._clock()
        if x_otj_panel != "1":
            return failed(403, "missing panel header")
        endpoint = await run_in_threadpool(self.caller_endpoint, room, otj_panel or "", now)
        if endpoint is None:
            return failed(401, "this panel is not paired with the room")
        try:
            wanted = RetryIn.model_validate_json(await request.body())
        except ValidationError:
            return failed(422, "the request names no call")
        record = await run_in_threadpool(self._db.calls.get, wanted.call)
        names = [e.name for e in self._directory.get().room_endpoints(room)]
        found = await run_in_threadpool(codec_for_room, self._db, endpoint, room)
        if found is None:
            return failed(409, "no room system here can be asked to dial")
        codec, profile = found
        return await redial_call(
            codec, profile, self._cisco_defaults, record, call=wanted.call, endpoints=names, now=now
        )


def asset(name: str) -> Response:
    """A static file of the panel (no CDN: the Content-Security-Policy allows only ours)."""
    media = ASSETS.get(name)
    if media is None:
        return Response(status_code=404)
    content = (HERE / "static" / name).read_bytes()
    return Response(
        content, media_type=media, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS}
    )


def router(
    db: Database,
    *,
    clock: Clock,
    defaults: CiscoDefaults | None = None,
    poll_ms: int = 5000,
    time_zone: str | None = None,
) -> APIRouter:
    """The panel routes; ``time_zone`` is the rooms' default (else the server's)."""
    routes = PanelRoutes(db, clock=clock, defaults=defaults, poll_ms=poll_ms, time_zone=time_zone)
    api = APIRouter(tags=["panel"])
    api.get("/panel/static/{name}", include_in_schema=False)(asset)
    api.get("/panel/{room}", response_class=HTMLResponse, include_in_schema=False)(routes.page)
    api.get("/panel/{room}/state", include_in_schema=False)(routes.state)
    api.post("/panel/{room}/dial", include_in_schema=False)(routes.dial)
    api.post("/panel/{room}/retry", include_in_schema=False)(routes.retry)
    return api


def _not_paired(room: str, *, status: int) -> HTMLResponse:
    from html import escape

    text = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Panel not paired</title>"
        f"<h1>This panel is not paired with {escape(room)}</h1>"
        "<p>Open <code>/panel/ROOM?token=TOKEN</code> once with the token printed by "
        "<code>otj endpoints token ENDPOINT</code>.</p></html>"
    )
    return HTMLResponse(text, status_code=status, headers=SECURITY_HEADERS)
