"""Microsoft Graph v1.0 ``event`` resource → ``CalendarEvent`` (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calendars.base import (
    Attendee,
    CalendarEvent,
    Conference,
    EntryPoint,
    MalformedCalendarData,
    ResponseStatus,
)
from calendars.normalise import midnight, truncate_body

_RESPONSES: dict[str, ResponseStatus] = {
    "accepted": "accepted",
    "organizer": "accepted",
    "declined": "declined",
    "tentativelyAccepted": "tentative",
    "notResponded": "needsAction",
    "none": "needsAction",
}


def graph_event_to_event(
    item: Mapping[str, Any], *, room: str, default_tz: tzinfo
) -> CalendarEvent | None:
    """Normalise one ``calendarView`` item; None for series masters (never in a view).

    Raises ``MalformedCalendarData`` for anything that is not a valid event resource.
    """
    try:
        return _convert(item, room=room, default_tz=default_tz)
    except MalformedCalendarData:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        event_id = item.get("id") if isinstance(item, Mapping) else None
        raise MalformedCalendarData(
            f"{room}: Graph event {event_id!r} is malformed: {exc!r}"
        ) from exc


def _convert(item: Mapping[str, Any], *, room: str, default_tz: tzinfo) -> CalendarEvent | None:
    if not isinstance(item, Mapping):
        raise MalformedCalendarData(f"{room}: Graph event is not an object")
    event_id = _str(item, "id")
    if not event_id:
        raise MalformedCalendarData(f"{room}: Graph event without id")
    if _str(item, "type") == "seriesMaster":
        return None
    all_day = item.get("isAllDay") is True
    start = _date_time(item.get("start"), default_tz, all_day=all_day)
    end = max(_date_time(item.get("end"), default_tz, all_day=all_day), start)
    body = _mapping(item.get("body"))
    content = _str(body, "content")
    is_html = _str(body, "contentType").lower() == "html"
    organizer = _mapping(_mapping(item.get("organizer")).get("emailAddress"))
    attendees = tuple(_attendees(item.get("attendees")))
    room_key = room.strip().lower()
    own = _mapping(item.get("responseStatus"))
    room_response = next(
        (a.response for a in attendees if a.email == room_key),
        _RESPONSES.get(_str(own, "response"), "accepted") if own else "accepted",
    )
    location = _str(_mapping(item.get("location")), "displayName")
    modified = _str(item, "lastModifiedDateTime")
    return CalendarEvent(
        id=event_id,
        ical_uid=_str(item, "iCalUId"),
        room=room,
        subject=_str(item, "subject"),
        location=location,
        body="" if is_html else truncate_body(content),
        body_html=truncate_body(content) if is_html else "",
        organizer_name=_str(organizer, "name"),
        organizer_email=_str(organizer, "address").lower(),
        start=start,
        end=end,
        all_day=all_day,
        private=_str(item, "sensitivity") in ("private", "confidential"),
        status="cancelled" if item.get("isCancelled") is True else "confirmed",
        room_response=room_response,
        attendees=attendees,
        conference=_conference(item),
        recurring_id=_str(item, "seriesMasterId"),
        updated=_timestamp(modified) if modified else None,
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


def zone(name: str, default_tz: tzinfo) -> tzinfo:
    """An IANA or Windows zone name (``W. Europe Standard Time``) as tzinfo."""
    if not name:
        return default_tz
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return default_tz


def _date_time(value: object, default_tz: tzinfo, *, all_day: bool) -> datetime:
    """A ``dateTimeTimeZone``; all-day events become midnight of their date in ``default_tz``."""
    data = _mapping(value)
    text = _str(data, "dateTime")
    if not text:
        raise MalformedCalendarData(f"dateTimeTimeZone without dateTime: {data!r}")
    parsed = datetime.fromisoformat(text)
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone(_str(data, "timeZone"), default_tz))
    if all_day:
        return midnight(parsed.date(), default_tz)
    return parsed


def _timestamp(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.utcoffset() is None:
        raise MalformedCalendarData(f"timestamp without offset: {text!r}")
    return parsed


def _attendees(value: object) -> list[Attendee]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedCalendarData(f"attendees is not a list: {value!r}")
    out = []
    for raw in value:
        data = _mapping(raw)
        address = _mapping(data.get("emailAddress"))
        email = _str(address, "address").lower()
        if not email:
            continue
        status = _str(_mapping(data.get("status")), "response")
        out.append(
            Attendee(
                email=email,
                name=_str(address, "name"),
                response=_RESPONSES.get(status, "needsAction"),
                resource=_str(data, "type") == "resource",
            )
        )
    return out


def _conference(item: Mapping[str, Any]) -> Conference | None:
    """``onlineMeeting`` (joinUrl, conferenceId, tollNumber) with ``onlineMeetingProvider``."""
    meeting = _mapping(item.get("onlineMeeting"))
    join_url = _str(meeting, "joinUrl") or _str(item, "onlineMeetingUrl")
    if not join_url:
        return None
    conference_id = _str(meeting, "conferenceId")
    points = [EntryPoint(type="video", uri=join_url)]
    toll = _str(meeting, "tollNumber")
    if toll:
        points.append(EntryPoint(type="phone", uri=f"tel:{toll}", pin=conference_id))
    provider = _str(item, "onlineMeetingProvider")
    return Conference(
        solution=provider if provider and provider != "unknown" else "onlineMeeting",
        id=conference_id,
        entry_points=tuple(points),
    )
