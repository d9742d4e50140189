"""Microsoft Graph v1.0 ``event`` resource → ``CalendarEvent`` (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from calendars.base import (
    Attendee,
    CalendarEvent,
    Conference,
    EntryPoint,
    MalformedCalendarData,
    ResponseStatus,
)
from calendars.normalise import json_object, json_str, midnight, timestamp, truncate_body, zone

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
    event_id = json_str(item, "id")
    if not event_id:
        raise MalformedCalendarData(f"{room}: Graph event without id")
    if json_str(item, "type") == "seriesMaster":
        return None
    all_day = item.get("isAllDay") is True
    start = _date_time(item.get("start"), default_tz, all_day=all_day)
    end = max(_date_time(item.get("end"), default_tz, all_day=all_day), start)
    body = json_object(item.get("body"))
    content = json_str(body, "content")
    is_html = json_str(body, "contentType").lower() == "html"
    organizer = json_object(json_object(item.get("organizer")).get("emailAddress"))
    attendees = tuple(_attendees(item.get("attendees")))
    room_key = room.strip().lower()
    own = json_object(item.get("responseStatus"))
    room_response = next(
        (a.response for a in attendees if a.email == room_key),
        _RESPONSES.get(json_str(own, "response"), "accepted") if own else "accepted",
    )
    location = json_str(json_object(item.get("location")), "displayName")
    modified = json_str(item, "lastModifiedDateTime")
    return CalendarEvent(
        id=event_id,
        ical_uid=json_str(item, "iCalUId"),
        room=room,
        subject=json_str(item, "subject"),
        location=location,
        body="" if is_html else truncate_body(content),
        body_html=truncate_body(content) if is_html else "",
        organizer_name=json_str(organizer, "name"),
        organizer_email=json_str(organizer, "address").lower(),
        start=start,
        end=end,
        all_day=all_day,
        private=json_str(item, "sensitivity") in ("private", "confidential"),
        status="cancelled" if item.get("isCancelled") is True else "confirmed",
        room_response=room_response,
        attendees=attendees,
        conference=_conference(item),
        recurring_id=json_str(item, "seriesMasterId"),
        updated=timestamp(modified) if modified else None,
    )


def _date_time(value: object, default_tz: tzinfo, *, all_day: bool) -> datetime:
    """A ``dateTimeTimeZone``; all-day events become midnight of their date in ``default_tz``."""
    data = json_object(value)
    text = json_str(data, "dateTime")
    if not text:
        raise MalformedCalendarData(f"dateTimeTimeZone without dateTime: {data!r}")
    parsed = datetime.fromisoformat(text)
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone(json_str(data, "timeZone"), default_tz))
    if all_day:
        return midnight(parsed.date(), default_tz)
    return parsed


def _attendees(value: object) -> list[Attendee]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedCalendarData(f"attendees is not a list: {value!r}")
    out = []
    for raw in value:
        data = json_object(raw)
        address = json_object(data.get("emailAddress"))
        email = json_str(address, "address").lower()
        if not email:
            continue
        status = json_str(json_object(data.get("status")), "response")
        out.append(
            Attendee(
                email=email,
                name=json_str(address, "name"),
                response=_RESPONSES.get(status, "needsAction"),
                resource=json_str(data, "type") == "resource",
            )
        )
    return out


def _conference(item: Mapping[str, Any]) -> Conference | None:
    """``onlineMeeting`` (joinUrl, conferenceId, tollNumber) with ``onlineMeetingProvider``."""
    meeting = json_object(item.get("onlineMeeting"))
    join_url = json_str(meeting, "joinUrl") or json_str(item, "onlineMeetingUrl")
    if not join_url:
        return None
    conference_id = json_str(meeting, "conferenceId")
    points = [EntryPoint(type="video", uri=join_url)]
    toll = json_str(meeting, "tollNumber")
    if toll:
        points.append(EntryPoint(type="phone", uri=f"tel:{toll}", pin=conference_id))
    provider = json_str(item, "onlineMeetingProvider")
    return Conference(
        solution=provider if provider and provider != "unknown" else "onlineMeeting",
        id=conference_id,
        entry_points=tuple(points),
    )
