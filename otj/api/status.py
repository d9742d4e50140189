"""Status for administrators, modelled on Pexip's ``mjx_endpoint`` and ``mjx_meeting`` status.

``GET /api/v1/status/rooms``: each room with its endpoints, last poll, meetings and last error.
``GET /api/v1/status/rooms/{room}/meetings``: the room's meetings as the endpoint shows them
(subject after privacy, times, alias, matched rule), with the rule trace on request.
``GET /api/v1/status/alarms``: active alarms. ``GET /api/v1/status/calls``: gateway calls, live
and recent, with the Virtual Reception fields. All need an admin bearer token.
``GET /api/v1/health`` is open (for load balancers and the serve test).
The same models back ``otj status`` on the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from guestjoin.cdr import CallRecord
from otj.api.auth import admin_auth
from otj.model import Meeting
from otj.store.values import Alarm, RoomStatus

if TYPE_CHECKING:
    from otj.store import Database

Clock = Callable[[], datetime]


class TraceOut(BaseModel):
    """What one meeting processing rule did with the event."""

    rule: str
    meeting_type: str
    outcome: str = Field(description="matched, no_match, error or disabled")
    detail: str = ""


class RoomOut(BaseModel):
    """One room (``mjx_endpoint`` status)."""

    room: str = Field(description="Room resource email")
    endpoints: list[str]
    profile: str
    integration: str
    last_poll: datetime | None
    last_success: datetime | None
    next_poll: datetime | None
    meetings: int = Field(description="Listed meetings in the profile's window")
    consecutive_failures: int
    last_error: str
    last_error_kind: str
    last_error_at: datetime | None
    polls: int
    last_requests: int
    last_duration_ms: int
    full_sync_next: bool = Field(description="The next poll reads the whole window")
    delivery_pending: bool
    leased_by: str | None


class MeetingOut(BaseModel):
    """One meeting of a room (``mjx_meeting`` status)."""

    event_id: str
    subject: str = Field(description="As the endpoint shows it (after privacy settings)")
    organizer_name: str
    organizer_email: str
    start: datetime
    end: datetime
    join_from: datetime
    join_until: datetime
    alias: str | None
    protocol: str
    platform: str
    rule: str | None = Field(description="Matched meeting processing rule, or fallback")
    private: bool
    listed: bool
    unlisted_reason: str
    trace: list[TraceOut] | None = Field(default=None, description="With ?trace=true")


class AlarmOut(BaseModel):
    """An active alarm."""

    id: int
    kind: str
    subject: str
    severity: str
    message: str
    raised_at: datetime
    updated_at: datetime


class CallOut(BaseModel):
    """A gateway call record (``otj calls``)."""

    id: int
    call_id: str
    caller_uri: str
    caller_name: str
    endpoint_name: str
    source_address: str
    transport: str
    dialled_alias: str
    routed_alias: str
    rule: str
    target: str
    conference: str = Field(description="The external conference (the Meet code)")
    invite_at: datetime
    answer_at: datetime | None
    end_at: datetime | None
    final_code: int | None
    cause: str = Field(description="Disconnect cause; blank while live")
    detail: str
    attempts: int = Field(description="Above 1: a summary of refused calls")
    reception: str = Field(description="The Virtual Reception that answered it, if any")
    digits_outcome: str = Field(description="calendar_join, id, invalid or timeout")
    transfer_method: str = Field(description="refer or 3pcc")


def call_out(call: CallRecord) -> CallOut:
    """The API form of a call record."""
    return CallOut(**{name: getattr(call, name) for name in CallOut.model_fields})


class HealthOut(BaseModel):
    """Liveness."""

    status: str
    version: str


def room_out(status: RoomStatus) -> RoomOut:
    """The API form of a room status."""
    return RoomOut(
        room=status.room,
        endpoints=list(status.endpoints),
        profile=status.profile,
        integration=status.integration,
        last_poll=status.last_poll_at,
        last_success=status.last_success_at,
        next_poll=status.next_poll_at,
        meetings=status.meetings,
        consecutive_failures=status.consecutive_failures,
        last_error=status.last_error,
        last_error_kind=status.last_error_kind,
        last_error_at=status.last_error_at,
        polls=status.polls,
        last_requests=status.last_requests,
        last_duration_ms=status.last_duration_ms,
        full_sync_next=status.full_sync,
        delivery_pending=status.delivery_pending,
        leased_by=status.leased_by,
    )


def meeting_out(meeting: Meeting, *, trace: bool) -> MeetingOut:
    """The API form of a meeting."""
    return MeetingOut(
        event_id=meeting.event_id,
        subject=meeting.subject,
        organizer_name=meeting.organizer_name,
        organizer_email=meeting.organizer_email,
        start=meeting.start,
        end=meeting.end,
        join_from=meeting.join_from,
        join_until=meeting.join_until,
        alias=meeting.alias,
        protocol=meeting.protocol.value,
        platform=meeting.platform.value,
        rule=meeting.rule,
        private=meeting.private,
        listed=meeting.listed,
        unlisted_reason=meeting.unlisted_reason,
        trace=[
            TraceOut(rule=t.rule, meeting_type=t.meeting_type, outcome=t.outcome, detail=t.detail)
            for t in meeting.trace
        ]
        if trace
        else None,
    )


def alarm_out(alarm: Alarm) -> AlarmOut:
    """The API form of an alarm."""
    return AlarmOut(
        id=alarm.id,
        kind=alarm.kind,
        subject=alarm.subject,
        severity=alarm.severity,
        message=alarm.message,
        raised_at=alarm.raised_at,
        updated_at=alarm.updated_at,
    )


def room_meetings(
    db: Database, room: str, *, now: datetime, include_unlisted: bool, trace: bool
) -> list[MeetingOut] | None:
    """A room's meetings from a day ago to the end of its profile's window; None if unknown."""
    room = room.strip().lower()
    if room not in db.rooms.names():
        return None
    assignment = next(
        (a for a in db.config.room_assignments(secrets="sealed") if a.room == room), None
    )
    days = assignment.profile.display_upcoming_meetings if assignment else 7
    meetings = db.meetings.list(
        room,
        start=now - timedelta(days=1),
        end=now + timedelta(days=days),
        listed_only=not include_unlisted,
        with_trace=trace,
    )
    return [meeting_out(m, trace=trace) for m in meetings]


def router(db: Database, *, clock: Clock, **_options: Any) -> APIRouter:
    """The status routes."""
    api = APIRouter(tags=["status"])
    require_admin = Depends(admin_auth(db, clock))
    unauthorized: dict[int | str, dict[str, Any]] = {
        401: {"description": "Missing or invalid admin token"}
    }

    @api.get("/api/v1/health", response_model=HealthOut, summary="Liveness")
    def health() -> HealthOut:
        import otj

        return HealthOut(status="ok", version=otj.__version__)

    @api.get(
        "/api/v1/status/rooms",
        response_model=list[RoomOut],
        summary="Every room: endpoints, last poll, meetings, last error",
        dependencies=[require_admin],
        responses=unauthorized,
    )
    def rooms() -> list[RoomOut]:
        return [room_out(s) for s in db.rooms.status()]

    @api.get(
        "/api/v1/status/rooms/{room}/meetings",
        response_model=list[MeetingOut],
        summary="A room's meetings as shown, with the matched rule (and trace)",
        dependencies=[require_admin],
        responses={**unauthorized, 404: {"description": "No such room"}},
    )
    def meetings(
        room: str,
        trace: Annotated[bool, Query(description="Include each rule's outcome")] = False,
        include_unlisted: Annotated[
            bool, Query(alias="all", description="Also meetings the endpoint does not show")
        ] = False,
    ) -> Any:
        found = room_meetings(db, room, now=clock(), include_unlisted=include_unlisted, trace=trace)
        if found is None:
            return JSONResponse(
                {"error": "not_found", "detail": f"no room {room}"}, status_code=404
            )
        return found

    @api.get(
        "/api/v1/status/alarms",
        response_model=list[AlarmOut],
        summary="Active alarms",
        dependencies=[require_admin],
        responses=unauthorized,
    )
    def alarms() -> list[AlarmOut]:
        from otj.store.identity import check_certificate_alarms

        check_certificate_alarms(db, now=clock())  # expiry is a matter of time: never stale
        return [alarm_out(a) for a in db.alarms.active()]

    @api.get(
        "/api/v1/status/calls",
        response_model=list[CallOut],
        summary="Gateway calls: live ones first, then the most recent",
        dependencies=[require_admin],
        responses=unauthorized,
    )
    def calls(
        limit: Annotated[int, Query(ge=1, le=1000, description="Recent calls to list")] = 50,
        live: Annotated[bool, Query(description="Live calls only")] = False,
    ) -> list[CallOut]:
        found = db.calls.live()
        if not live:
            seen = {c.id for c in found}
            found += [c for c in db.calls.recent(limit=limit) if c.id not in seen]
        return [call_out(c) for c in found]

    return api
