"""Pull API for any device, macro or panel: a room's meetings as JSON (ETag) and iCalendar.

``GET /api/v1/rooms/{room}/meetings`` and ``…/meetings.ics`` need a bearer token of an endpoint
that shows the room (RFC 6750: ``Authorization: Bearer …``, or ``?access_token=`` for calendar
clients that can only subscribe to a URL). ``POST /oauth/token`` exchanges an endpoint's token
for a one-hour access token (OAuth 2 client credentials, RFC 6749 §4.4). Errors are JSON:
``{"error": "...", "detail": "..."}``.

The request path answers from memory (``otj.api.pull.documents``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from otj.api.pull.documents import RoomFeeds, conditional
from otj.delivery.pull.access import issue_access_token

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
BODY_LIMITS = {"/oauth/token": 8 * 1024}
"""Request body caps by route (``otj.api.limits``): the credentials are in the form."""


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


def _optional(name: str, where: str, title: str, description: str) -> dict[str, Any]:
    return {
        "in": where,
        "name": name,
        "required": False,
        "description": description,
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": title},
    }


FEED_PARAMETERS = [
    _optional(
        "access_token",
        "query",
        "Access Token",
        "The token, for calendar clients that can only subscribe to a URL (RFC 6750 §2.3)",
    ),
    _optional(
        "authorization",
        "header",
        "Authorization",
        "`Bearer` and an endpoint token or an OAuth access token (RFC 6750 §2.1)",
    ),
    _optional(
        "if-none-match",
        "header",
        "If-None-Match",
        "The ETag of the copy the client holds (RFC 9110 §13.1.2)",
    ),
]
"""The feeds' header and query parameters, which the routes read from the request themselves:
FastAPI's per-request parameter solving cost a quarter of a warm request."""


def bearer_token(authorization: str | None, access_token: str | None) -> str:
    """The token from ``Authorization: Bearer`` or the ``access_token`` query parameter."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        return ""
    return access_token or ""


class PullRoutes:
    """A room's feeds for endpoints' tokens (``RoomFeeds``) and the OAuth token exchange."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._feeds = RoomFeeds(db, clock=clock)

    async def _feed(
        self, kind: Literal["json", "ics"], media_type: str, room: str, request: Request
    ) -> Response:
        headers = request.headers  # the parameters of FEED_PARAMETERS
        authorization = headers.get("authorization")
        token = bearer_token(
            authorization, None if authorization else request.query_params.get("access_token")
        )
        document = await self._feeds.serve(kind, room, token, now=self._clock())
        if isinstance(document, Response):
            return document
        return conditional(
            document.body, media_type, headers.get("if-none-match"), etag=document.etag
        )

    async def meetings(self, room: str, request: Request) -> Response:
        return await self._feed("json", "application/json", room, request)

    async def meetings_ics(self, room: str, request: Request) -> Response:
        return await self._feed("ics", "text/calendar; charset=utf-8", room, request)

    def oauth_token(
        self,
        grant_type: Annotated[str, Form()],
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        if grant_type != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "only client_credentials"},
                status_code=400,
            )
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
        issued = issue_access_token(
            self._db, client_id or "", client_secret or "", now=self._clock()
        )
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


def router(db: Database, *, clock: Clock) -> APIRouter:
    """The pull API routes."""
    api = APIRouter(tags=["pull"])
    routes = PullRoutes(db, clock=clock)
    api.get(
        "/api/v1/rooms/{room}/meetings",
        summary="A room's meetings (JSON, ETag)",
        response_model=list[MeetingOut],
        responses={
            200: {
                "headers": {
                    "ETag": {"description": "Strong entity tag", "schema": {"type": "string"}}
                }
            },
            304: {"description": "Not modified (If-None-Match matched)"},
            **ERRORS,
        },
        openapi_extra={"parameters": FEED_PARAMETERS},
    )(routes.meetings)
    api.get(
        "/api/v1/rooms/{room}/meetings.ics",
        summary="A room's meetings as an iCalendar feed (RFC 5545, RFC 7986 CONFERENCE)",
        response_class=Response,
        responses={
            200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
            304: {"description": "Not modified (If-None-Match matched)"},
            **ERRORS,
        },
        openapi_extra={"parameters": FEED_PARAMETERS},
    )(routes.meetings_ics)
    api.post(
        "/oauth/token",
        summary="OAuth 2 client credentials grant for endpoints (RFC 6749 §4.4)",
        response_model=TokenOut,
        responses={400: {"model": OAuthErrorOut}, 401: {"model": OAuthErrorOut}},
    )(routes.oauth_token)
    return api
