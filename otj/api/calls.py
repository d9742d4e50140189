"""Gateway call status for administrators (admin bearer token, like every status route).

``GET /api/v1/calls/live``: calls in progress grouped by external conference (the Meet code),
each with its room, start and state. ``GET /api/v1/calls``: call detail records, newest first,
with their disconnect cause and duration; ``since``/``until`` bound the start time, ``room``
takes a room resource email (its endpoints' calls) or an endpoint name, ``limit`` is at most
``MAX_LIMIT`` and ``cursor`` (the ``next_cursor`` of the previous page, also in the ``Link``
header, RFC 8288) continues the listing. Both answer CSV instead of JSON with
``?format=csv`` or ``Accept: text/csv``. ``otj calls`` prints the same records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from guestjoin.cdr import CallRecord
from otj.api.auth import admin_auth
from otj.callview import call_json, group_live, to_csv

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_ID = 2**31 - 1  # calls.id is an INTEGER column: 32 bits on PostgreSQL
CSV_MEDIA = "text/csv; charset=utf-8"
FormatQuery = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="csv: the same records as CSV (or Accept: text/csv)"),
]


class CallOut(BaseModel):
    """One call detail record."""

    id: int = Field(description="Record id (pages continue below the last one)")
    call_id: str
    state: str = Field(description="setting up, ringing, in call or ended")
    room: str = Field(description="The calling room's endpoint ('' when not attributed)")
    caller_uri: str
    caller_name: str
    source_address: str
    transport: str
    dialled_alias: str
    routed_alias: str
    conference: str = Field(description="The external conference (the Meet code)")
    rule: str = Field(description="The call routing rule that matched")
    target: str
    invite_at: datetime = Field(description="When the call started (INVITE)")
    ringing_at: datetime | None
    answer_at: datetime | None
    end_at: datetime | None
    duration_seconds: int | None = Field(description="From answer to end (or now); null if never")
    final_code: int | None
    cause: str = Field(
        description="completed, not_admitted (lobby), call_rejected (480), declined, busy, …"
    )
    detail: str
    attempts: int = Field(description="Above 1: a summary of refused calls from one source")
    attribution: str = Field(
        description="How the room was recognised: registration, from_uri, address ('' = not)"
    )
    reception: str = Field(description="The Virtual Reception that answered ('' = none)")
    digits_outcome: str = Field(description="Reception: calendar_join, id, invalid or timeout")
    transfer_method: str = Field(description="Reception: refer or 3pcc")
    media_engine: str = Field(description="The rtpengine of a relayed call ('' = direct media)")
    media_room_packets: int = Field(description="Relayed: RTP packets received from the room")
    media_room_bytes: int
    media_room_lost: int
    media_far_packets: int = Field(description="Relayed: RTP packets received from the far end")
    media_far_bytes: int
    media_far_lost: int


class CallPage(BaseModel):
    """A page of call records, newest first."""

    calls: list[CallOut]
    next_cursor: int | None = Field(description="Pass as ?cursor= for the next page; null at end")


class ConferenceOut(BaseModel):
    """The live calls into one external conference."""

    conference: str = Field(description="The Meet code ('' for calls without one)")
    calls: list[CallOut]


class LiveOut(BaseModel):
    """Calls in progress."""

    total: int
    conferences: list[ConferenceOut]


def wants_csv(format_: str | None, accept: str | None) -> bool:
    """``?format=`` wins; otherwise ``Accept: text/csv`` asks for CSV."""
    if format_:
        return format_ == "csv"
    return "text/csv" in (accept or "").lower()


def _utc(value: datetime | None, name: str) -> datetime | None:
    """``value`` in UTC (read as UTC without an offset); 422 when UTC cannot hold it."""
    if value is None:
        return None
    try:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        error = {
            "type": "value_error",
            "loc": ("query", name),
            "msg": "Value error, the time is out of range in UTC",
            "input": value.isoformat(),
        }
        raise RequestValidationError([error]) from None


def endpoints_of(db: Database, room: str) -> list[str]:
    """The endpoint names a ``room`` filter stands for: a room's endpoints, else itself."""
    names = [e.name for e in db.config.endpoints(room=room)] if "@" in room else []
    return names or [room]


class CallRoutes:
    """The calls in progress and the call detail records, as JSON or CSV."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _answer(
        self, csv: bool, records: Sequence[CallRecord], document: BaseModel, headers: dict[str, str]
    ) -> Response:
        if csv:
            return Response(to_csv(records, self._clock()), media_type=CSV_MEDIA, headers=headers)
        return JSONResponse(document.model_dump(mode="json"), headers=headers)

    def live(
        self,
        format_: FormatQuery = None,
        accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Response:
        now = self._clock()
        records = self._db.calls.live()
        conferences = [
            ConferenceOut(
                conference=conference,
                calls=[CallOut.model_validate(call_json(c, now)) for c in calls],
            )
            for conference, calls in sorted(group_live(records).items())
        ]
        document = LiveOut(total=len(records), conferences=conferences)
        return self._answer(wants_csv(format_, accept), records, document, {})

    def calls(
        self,
        *,
        request: Request,
        since: Annotated[
            datetime | None, Query(description="Calls started at or after (ISO 8601; UTC if bare)")
        ] = None,
        until: Annotated[datetime | None, Query(description="Calls started before")] = None,
        room: Annotated[
            str | None,
            Query(max_length=320, description="A room resource email or an endpoint name"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the previous page")
        ] = None,
        format_: FormatQuery = None,
        accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Response:
        now = self._clock()
        records = self._db.calls.search(
            limit=limit + 1,
            since=_utc(since, "since"),
            until=_utc(until, "until"),
            endpoints=endpoints_of(self._db, room) if room else None,
            before_id=cursor,
        )
        page, more = records[:limit], len(records) > limit
        next_cursor = page[-1].id if more else None
        headers: dict[str, str] = {}
        if next_cursor is not None:
            query = {k: v for k, v in request.query_params.items() if k != "cursor"}
            link = f"{request.url.path}?{urlencode({**query, 'cursor': next_cursor})}"
            headers["Link"] = f'<{link}>; rel="next"'
        document = CallPage(
            calls=[CallOut.model_validate(call_json(c, now)) for c in page],
            next_cursor=next_cursor,
        )
        return self._answer(wants_csv(format_, accept), page, document, headers)


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """The call status routes."""
    api = APIRouter(tags=["calls"])
    require_admin = Depends(admin_auth(db, clock))
    documented: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        401: {"description": "Missing or invalid admin token"},
    }
    routes = CallRoutes(db, clock=clock)
    api.get(
        "/api/v1/calls/live",
        response_model=LiveOut,
        summary="Calls in progress, grouped by external conference (the Meet code)",
        dependencies=[require_admin],
        responses=documented,
    )(routes.live)
    api.get(
        "/api/v1/calls",
        response_model=CallPage,
        summary="Call detail records (cause, duration), newest first",
        dependencies=[require_admin],
        responses=documented,
    )(routes.calls)
    return api
