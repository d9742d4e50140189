"""Pull API for any device, macro or panel: a room's meetings as JSON (ETag) and iCalendar.

``GET /api/v1/rooms/{room}/meetings`` and ``…/meetings.ics`` need a bearer token of an endpoint
that shows the room (RFC 6750: ``Authorization: Bearer …``, or ``?access_token=`` for calendar
clients that can only subscribe to a URL). ``POST /oauth/token`` exchanges an endpoint's token
for a one-hour access token (OAuth 2 client credentials, RFC 6749 §4.4). Errors are JSON:
``{"error": "...", "detail": "..."}``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from otj.delivery.access import (
    Caller,
    DirectoryCache,
    RoomDirectory,
    authenticate,
    issue_access_token,
    may_read_room,
)
from otj.delivery.feeds import ics_feed, meetings_body, not_modified, strong_etag
from otj.model import Endpoint

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PAST_WINDOW = timedelta(hours=12)


class MeetingOut(BaseModel):
    """One meeting as a device sees it (subject after the privacy settings)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(description="Stable booking id (used as Cisco BookingId)")
    subject: str
    organizerName: str  # noqa: N815 (wire name)
    organizerEmail: str  # noqa: N815
    startTime: str = Field(description="UTC, RFC 3339 (…Z)")  # noqa: N815
    endTime: str  # noqa: N815
    joinFrom: str = Field(description="The Join button is enabled from this time")  # noqa: N815
    joinUntil: str  # noqa: N815
    alias: str | None = Field(description="What to dial; null when there is no Join button")
    protocol: str = Field(description="SIP or H323")
    platform: str = Field(description="GoogleMeet, MicrosoftTeams, Zoom, Webex or Other")


class ErrorOut(BaseModel):
    """An error answer."""

    error: str
    detail: str = ""


class TokenOut(BaseModel):
    """OAuth 2 access token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the token type name, not a secret)
    expires_in: int


class OAuthErrorOut(BaseModel):
    """OAuth 2 error response (RFC 6749 §5.2)."""

    error: str
    error_description: str = ""


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid endpoint token"},
    403: {"model": ErrorOut, "description": "The token's endpoint does not show this room"},
    404: {"model": ErrorOut, "description": "No endpoint shows this room"},
}


def error(status: int, code: str, detail: str, *, bearer: bool = False) -> JSONResponse:
    """A JSON error answer (with the RFC 6750 challenge on 401)."""
    headers = {}
    if status == 401 and bearer:
        headers["WWW-Authenticate"] = 'Bearer realm="otj", error="invalid_token"'
    elif status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="otj"'
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def bearer_token(authorization: str | None, access_token: str | None) -> str:
    """The token from ``Authorization: Bearer`` or the ``access_token`` query parameter."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        return ""
    return access_token or ""


def room_access(
    db: Database, directory: DirectoryCache, room: str, token: str, *, now: datetime
) -> tuple[Endpoint, RoomDirectory] | JSONResponse:
    """The caller's endpoint and the configuration directory, or the error answer."""
    if not token:
        return error(401, "unauthorized", "send an endpoint token: Authorization: Bearer …")
    caller: Caller | None = authenticate(db, token, now=now)
    view = directory.get()
    endpoint = view.endpoint(caller.endpoint) if caller else None
    if endpoint is None:
        return error(401, "unauthorized", "the token is not valid", bearer=True)
    if not view.room_endpoints(room):
        return error(404, "not_found", "no endpoint shows this room")
    if not may_read_room(endpoint, room):
        return error(403, "forbidden", "this token belongs to an endpoint of another room")
    return endpoint, view


@dataclass(frozen=True, slots=True)
class _Rendered:
    marker: str
    computed_at: datetime
    valid_until: datetime
    body: bytes


class RoomDocuments:
    """Rendered feeds per room, re-rendered only when the room's listing changes (the store's
    listing hash), when a meeting leaves the window, or after ``MAX_AGE`` (new meetings
    entering the window's far end). A hit costs one primary-key read instead of a meeting
    query, a JSON or iCalendar rendering and a digest."""

    MAX_AGE = timedelta(seconds=60)

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, int, str], _Rendered] = {}

    def get(self, kind: str, room: str, *, days: int, name: str, now: datetime) -> bytes:
        """The ``json`` or ``ics`` document of a room as it is at ``now``."""
        marker = self._db.rooms.listing_marker(room) or ""
        key = (kind, room.lower(), days, name)
        entry = self._entries.get(key)
        if (entry is not None and entry.marker == marker
                and entry.computed_at <= now < entry.valid_until):
            return entry.body
        meetings = self._db.meetings.list(
            room,
            start=now - PAST_WINDOW,
            end=now + timedelta(days=max(1, days)),
            listed_only=True,
            with_trace=False,
        )
        if kind == "ics":
            stamp = self._db.meetings.last_updated(room) or datetime(2000, 1, 1, tzinfo=UTC)
            body = ics_feed(room, meetings, stamp=stamp, name=name)
        else:
            body = meetings_body(meetings)
        valid_until = min([now + self.MAX_AGE] + [m.end + PAST_WINDOW for m in meetings])
        with self._lock:
            self._entries[key] = _Rendered(marker=marker, computed_at=now,
                                           valid_until=valid_until, body=body)
        return body


def conditional(
    body: bytes, media_type: str, if_none_match: str | None, extra: dict[str, str] | None = None
) -> Response:
    """200 with a strong ETag, or 304 when ``If-None-Match`` matches (RFC 9110 §13.1.2)."""
    etag = strong_etag(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    headers.update(extra or {})
    if not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def router(db: Database, *, clock: Clock) -> APIRouter:
    """The pull API routes."""
    api = APIRouter(tags=["pull"])
    directory = DirectoryCache(db)
    documents = RoomDocuments(db)

    @api.get(
        "/api/v1/rooms/{room}/meetings",
        summary="A room's meetings (JSON, ETag)",
        response_model=list[MeetingOut],
        responses={
            200: {"headers": {"ETag": {"description": "Strong entity tag",
                                       "schema": {"type": "string"}}}},
            304: {"description": "Not modified (If-None-Match matched)"},
            **ERRORS,
        },
    )
    def meetings(
        room: str,
        authorization: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
        access_token: Annotated[str | None, Query()] = None,
    ) -> Response:
        now = clock()
        access = room_access(db, directory, room, bearer_token(authorization, access_token),
                             now=now)
        if isinstance(access, Response):
            return access
        endpoint, view = access
        body = documents.get("json", room, days=view.profile(endpoint.name)
                             .display_upcoming_meetings, name="", now=now)
        return conditional(body, "application/json", if_none_match)

    @api.get(
        "/api/v1/rooms/{room}/meetings.ics",
        summary="A room's meetings as an iCalendar feed (RFC 5545, RFC 7986 CONFERENCE)",
        response_class=Response,
        responses={
            200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
            304: {"description": "Not modified (If-None-Match matched)"},
            **ERRORS,
        },
    )
    def meetings_ics(
        room: str,
        authorization: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
        access_token: Annotated[str | None, Query()] = None,
    ) -> Response:
        now = clock()
        access = room_access(db, directory, room, bearer_token(authorization, access_token),
                             now=now)
        if isinstance(access, Response):
            return access
        endpoint, view = access
        body = documents.get("ics", room, days=view.profile(endpoint.name)
                             .display_upcoming_meetings, name=endpoint.name, now=now)
        return conditional(body, "text/calendar; charset=utf-8", if_none_match)

    @api.post(
        "/oauth/token",
        summary="OAuth 2 client credentials grant for endpoints (RFC 6749 §4.4)",
        response_model=TokenOut,
        responses={400: {"model": OAuthErrorOut}, 401: {"model": OAuthErrorOut}},
    )
    def oauth_token(
        grant_type: Annotated[str, Form()],
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        if grant_type != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type",
                                 "error_description": "only client_credentials"},
                                status_code=400)
        if authorization and authorization.lower().startswith("basic "):
            import base64
            import binascii
            from urllib.parse import unquote

            try:
                raw = base64.b64decode(authorization[6:].strip()).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raw = ""
            user, _, password = raw.partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        issued = issue_access_token(db, client_id or "", client_secret or "", now=clock())
        if issued is None:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "unknown client or secret"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="otj"'},
            )
        token, lifetime = issued
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": lifetime},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    return api
