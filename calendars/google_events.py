"""Google Calendar API v3 ``Events`` resource → ``CalendarEvent`` (pure; no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calendars.base import (
    Attendee,
    CalendarEvent,
    Conference,
    EntryPoint,
    EntryPointType,
    EventStatus,
    MalformedCalendarData,
    ResponseStatus,
)
from calendars.normalise import midnight, truncate_body

_STATUSES: frozenset[str] = frozenset({"confirmed", "tentative", "cancelled"})
_RESPONSES: frozenset[str] = frozenset({"accepted", "declined", "tentative", "needsAction"})
_ENTRY_TYPES: frozenset[str] = frozenset({"video", "sip", "phone", "more"})
_HTML = re.compile(r"<(a|br|p|div|span|b|i|u|html|ul|ol|li)\b[^>]*>", re.IGNORECASE)


def google_event_to_event(
    item: Mapping[str, Any], *, room: str, default_tz: tzinfo
) -> CalendarEvent | None:
    """Normalise one ``events.list`` item; None for a deleted event that has no time left.

    Cancelled exceptions may carry only ``id``, ``recurringEventId``, ``originalStartTime`` and
    ``status`` (Events resource reference): they are reported at their original start.
    Raises ``MalformedCalendarData`` for anything that is not a valid Events resource.
    """
    try:
        return _convert(item, room=room, default_tz=default_tz)
    except MalformedCalendarData:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        event_id = item.get("id") if isinstance(item, Mapping) else None
        raise MalformedCalendarData(
            f"{room}: Google event {event_id!r} is malformed: {exc!r}"
        ) from exc


def _convert(item: Mapping[str, Any], *, room: str, default_tz: tzinfo) -> CalendarEvent | None:
    if not isinstance(item, Mapping):
        raise MalformedCalendarData(f"{room}: Google event is not an object")
    event_id = _str(item, "id")
    if not event_id:
        raise MalformedCalendarData(f"{room}: Google event without id")
    status = _str(item, "status") or "confirmed"
    if status not in _STATUSES:
        raise MalformedCalendarData(f"{room}: Google event {event_id} has status {status!r}")
    start_raw = item.get("start") or item.get("originalStartTime")
    if start_raw is None:
        if status == "cancelled":
            return None
        raise MalformedCalendarData(f"{room}: Google event {event_id} has no start")
    start, all_day = _moment(start_raw, default_tz)
    end_raw = item.get("end")
    end = _moment(end_raw, default_tz)[0] if end_raw is not None else start
    end = max(end, start)
    description = _str(item, "description")
    is_html = bool(_HTML.search(description))
    organizer = _mapping(item.get("organizer"))
    attendees = tuple(_attendees(item.get("attendees")))
    room_key = room.strip().lower()
    room_response: ResponseStatus = next(
        (a.response for a in attendees if a.email == room_key), "accepted"
    )
    updated_raw = _str(item, "updated")
    return CalendarEvent(
        id=event_id,
        ical_uid=_str(item, "iCalUID"),
        room=room,
        subject=_str(item, "summary"),
        location=_str(item, "location"),
        body="" if is_html else truncate_body(description),
        body_html=truncate_body(description) if is_html else "",
        organizer_name=_str(organizer, "displayName"),
        organizer_email=_str(organizer, "email").lower(),
        start=start,
        end=end,
        all_day=all_day,
        private=_str(item, "visibility") in ("private", "confidential"),
        status=cast(EventStatus, status),
        room_response=room_response,
        attendees=attendees,
        conference=_conference(item),
        recurring_id=_str(item, "recurringEventId"),
        updated=_rfc3339(updated_raw) if updated_raw else None,
    )


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedCalendarData(f"field {key!r} is not a string: {value!r}")
    return value


def _mapping(value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedCalendarData(f"expected an object, got {value!r}")
    return value


def _rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.utcoffset() is None:
        raise MalformedCalendarData(f"date-time without offset: {value!r}")
    return parsed


def _moment(value: object, default_tz: tzinfo) -> tuple[datetime, bool]:
    """An EventDateTime: ``dateTime`` (RFC 3339, ``timeZone`` for floating ones) or ``date``."""
    data = _mapping(value)
    if data.get("dateTime") is not None:
        text = _str(data, "dateTime")
        parsed = datetime.fromisoformat(text)
        if parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=_zone(_str(data, "timeZone"), default_tz))
        return parsed, False
    if data.get("date") is not None:
        return midnight(date.fromisoformat(_str(data, "date")), default_tz), True
    raise MalformedCalendarData(f"EventDateTime without dateTime or date: {data!r}")


def _zone(name: str, default_tz: tzinfo) -> tzinfo:
    if not name:
        return default_tz
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default_tz


def _attendees(value: object) -> list[Attendee]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedCalendarData(f"attendees is not a list: {value!r}")
    out = []
    for raw in value:
        data = _mapping(raw)
        email = _str(data, "email").lower()
        if not email:
            continue
        response = _str(data, "responseStatus") or "needsAction"
        resource = data.get("resource", False)
        out.append(
            Attendee(
                email=email,
                name=_str(data, "displayName"),
                response=cast(
                    ResponseStatus, response if response in _RESPONSES else "needsAction"
                ),
                resource=resource is True,
            )
        )
    return out


def _conference(item: Mapping[str, Any]) -> Conference | None:
    """``conferenceData`` (solution key type, id, entry points), else ``hangoutLink``."""
    data = _mapping(item.get("conferenceData"))
    hangout = _str(item, "hangoutLink")
    if not data:
        if not hangout:
            return None
        code = hangout.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        return Conference(
            solution="hangoutsMeet", id=code, entry_points=(EntryPoint(type="video", uri=hangout),)
        )
    solution = _mapping(_mapping(data.get("conferenceSolution")).get("key"))
    points_raw = data.get("entryPoints") or []
    if not isinstance(points_raw, list):
        raise MalformedCalendarData(f"conferenceData.entryPoints is not a list: {points_raw!r}")
    points = []
    for raw in points_raw:
        point = _mapping(raw)
        kind = _str(point, "entryPointType")
        points.append(
            EntryPoint(
                type=cast(EntryPointType, kind if kind in _ENTRY_TYPES else "more"),
                uri=_str(point, "uri"),
                pin=_str(point, "pin"),
                passcode=_str(point, "passcode")
                or _str(point, "password")
                or _str(point, "accessCode")
                or _str(point, "meetingCode"),
            )
        )
    if not points and hangout:
        points.append(EntryPoint(type="video", uri=hangout))
    return Conference(
        solution=_str(solution, "type") or "unknown",
        id=_str(data, "conferenceId"),
        entry_points=tuple(points),
    )
