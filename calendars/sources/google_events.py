"""Google Calendar API v3 ``Events`` resource → ``CalendarEvent`` (pure; no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any, cast

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
from calendars.normalise import json_object, json_str, midnight, timestamp, truncate_body, zone

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
    event_id = json_str(item, "id")
    if not event_id:
        raise MalformedCalendarData(f"{room}: Google event without id")
    status = json_str(item, "status") or "confirmed"
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
    description = json_str(item, "description")
    is_html = bool(_HTML.search(description))
    organizer = json_object(item.get("organizer"))
    attendees = tuple(_attendees(item.get("attendees")))
    room_key = room.strip().lower()
    room_response: ResponseStatus = next(
        (a.response for a in attendees if a.email == room_key), "accepted"
    )
    updated_raw = json_str(item, "updated")
    return CalendarEvent(
        id=event_id,
        ical_uid=json_str(item, "iCalUID"),
        room=room,
        subject=json_str(item, "summary"),
        location=json_str(item, "location"),
        body="" if is_html else truncate_body(description),
        body_html=truncate_body(description) if is_html else "",
        organizer_name=json_str(organizer, "displayName"),
        organizer_email=json_str(organizer, "email").lower(),
        start=start,
        end=end,
        all_day=all_day,
        private=json_str(item, "visibility") in ("private", "confidential"),
        status=cast(EventStatus, status),
        room_response=room_response,
        attendees=attendees,
        conference=_conference(item),
        recurring_id=json_str(item, "recurringEventId"),
        updated=timestamp(updated_raw) if updated_raw else None,
    )


def _moment(value: object, default_tz: tzinfo) -> tuple[datetime, bool]:
    """An EventDateTime: ``dateTime`` (RFC 3339, ``timeZone`` for floating ones) or ``date``."""
    data = json_object(value)
    if data.get("dateTime") is not None:
        text = json_str(data, "dateTime")
        parsed = datetime.fromisoformat(text)
        if parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=zone(json_str(data, "timeZone"), default_tz))
        return parsed, False
    if data.get("date") is not None:
        return midnight(date.fromisoformat(json_str(data, "date")), default_tz), True
    raise MalformedCalendarData(f"EventDateTime without dateTime or date: {data!r}")


def _attendees(value: object) -> list[Attendee]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedCalendarData(f"attendees is not a list: {value!r}")
    out = []
    for raw in value:
        data = json_object(raw)
        email = json_str(data, "email").lower()
        if not email:
            continue
        response = json_str(data, "responseStatus") or "needsAction"
        resource = data.get("resource", False)
        out.append(
            Attendee(
                email=email,
                name=json_str(data, "displayName"),
                response=cast(
                    ResponseStatus, response if response in _RESPONSES else "needsAction"
                ),
                resource=resource is True,
            )
        )
    return out


def _conference(item: Mapping[str, Any]) -> Conference | None:
    """``conferenceData`` (solution key type, id, entry points), else ``hangoutLink``."""
    data = json_object(item.get("conferenceData"))
    hangout = json_str(item, "hangoutLink")
    if not data:
        if not hangout:
            return None
        code = hangout.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        return Conference(
            solution="hangoutsMeet", id=code, entry_points=(EntryPoint(type="video", uri=hangout),)
        )
    solution = json_object(json_object(data.get("conferenceSolution")).get("key"))
    points_raw = data.get("entryPoints") or []
    if not isinstance(points_raw, list):
        raise MalformedCalendarData(f"conferenceData.entryPoints is not a list: {points_raw!r}")
    points = []
    for raw in points_raw:
        point = json_object(raw)
        kind = json_str(point, "entryPointType")
        points.append(
            EntryPoint(
                type=cast(EntryPointType, kind if kind in _ENTRY_TYPES else "more"),
                uri=json_str(point, "uri"),
                pin=json_str(point, "pin"),
                passcode=json_str(point, "passcode")
                or json_str(point, "password")
                or json_str(point, "accessCode")
                or json_str(point, "meetingCode"),
            )
        )
    if not points and hangout:
        points.append(EntryPoint(type="video", uri=hangout))
    return Conference(
        solution=json_str(solution, "type") or "unknown",
        id=json_str(data, "conferenceId"),
        entry_points=tuple(points),
    )
