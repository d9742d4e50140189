"""The calendar-source interface: frozen event values, the source protocol and its errors.

Every adapter (google, graph, exchange, caldav, ics) produces the same ``CalendarEvent``
(DESIGN.md §3) and maps its library's failures to the four errors below at its edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from otj.secret import Secret

EventStatus = Literal["confirmed", "tentative", "cancelled"]
ResponseStatus = Literal["accepted", "declined", "tentative", "needsAction"]
EntryPointType = Literal["video", "sip", "phone", "more"]

MAX_BODY_CHARS = 1024 * 1024
"""Bodies longer than 1 MiB are truncated by the adapters, with ``TRUNCATION_MARKER`` appended."""
TRUNCATION_MARKER = "\n[… body truncated by otj at 1 MiB …]"


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryPoint:
    """One way to join a conference (Google ``conferenceData.entryPoints[]``)."""

    type: EntryPointType
    uri: str
    pin: str = ""
    passcode: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Conference:
    """Structured conference data (Google ``conferenceData`` or Graph ``onlineMeeting``)."""

    solution: str
    id: str = ""
    entry_points: tuple[EntryPoint, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Attendee:
    """An invitee and its response (RFC 5545 PARTSTAT, Google ``responseStatus``)."""

    email: str
    name: str = ""
    response: ResponseStatus = "needsAction"
    resource: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarEvent:
    """One occurrence of a meeting in a room's calendar, as every source reports it.

    Datetimes are timezone-aware. ``body`` is plain text; when the source only has HTML it is
    left empty and ``body_html`` holds the markup (the rules convert it, keeping link targets).
    Every source's ``sync`` returns its texts clean (:func:`calendars.text.clean_event`): XML 1.0
    characters only, one-line fields on one line; later stages do not clean them again.
    """

    id: str
    room: str
    start: datetime
    end: datetime
    ical_uid: str = ""
    subject: str = ""
    location: str = ""
    body: str = ""
    body_html: str = ""
    organizer_name: str = ""
    organizer_email: str = ""
    all_day: bool = False
    private: bool = False
    status: EventStatus = "confirmed"
    room_response: ResponseStatus = "accepted"
    attendees: tuple[Attendee, ...] = ()
    conference: Conference | None = None
    recurring_id: str = ""
    updated: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "updated"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"CalendarEvent.{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncResult:
    """What one read of a room's calendar returned.

    ``full`` results hold every event of the window: events of the room that are not in it are
    gone. Incremental results hold the changed events and the ids of removed ones. ``sync_state``
    is opaque and stored by the worker for the next call (``None``: the source has no cheap
    change signal and the next call is a full read again).
    """

    full: bool
    events: tuple[CalendarEvent, ...]
    removed_ids: tuple[str, ...] = ()
    sync_state: str | None = None
    requests: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class IntegrationConfig:
    """A calendar integration from the ``integrations:`` section of the configuration."""

    name: str
    type: Literal["google", "graph", "exchange", "caldav", "ics"]
    daily_request_quota: int = 1_000_000
    options: Mapping[str, str | int | bool] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict)


class CalendarError(Exception):
    """Base of every error a calendar source may raise; nothing else escapes an adapter."""


class CalendarAuthError(CalendarError):
    """Credentials were refused or expired (401/403 for auth, bad key, consent missing)."""


class CalendarUnavailable(CalendarError):
    """The server is busy or unreachable; retry after ``retry_after`` seconds when given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SyncStateExpired(CalendarError):
    """The stored sync state is no longer valid (Google 410, Graph ``syncStateNotFound``)."""


class CalendarNotFound(CalendarError):
    """The room's calendar does not exist or is not shared with us."""


class MalformedCalendarData(CalendarError):
    """The server answered, but with data we cannot interpret (one room, clear message)."""


@runtime_checkable
class CalendarSource(Protocol):
    """A calendar system that can list and follow room calendars."""

    def sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        """Full read of [start, end) when ``state`` is None, else the changes since ``state``."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...
