"""RFC 5545 VEVENT → ``CalendarEvent``: shared by the CalDAV and ICS sources and ``otj rules test``.

Time zones: icalendar resolves ``TZID`` against the calendar's VTIMEZONE components, the IANA
database and the CLDR Windows zone names (``W. Europe Standard Time`` → ``Europe/Berlin``);
floating times and unknown TZIDs are read in ``default_tz``. All-day (DATE) values start at
midnight in ``default_tz``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from calendars.base import (
    Attendee,
    CalendarEvent,
    Conference,
    EntryPoint,
    EventStatus,
    MalformedCalendarData,
    ResponseStatus,
)
from calendars.normalise import (
    instance_suffix,
    midnight,
    partstat_to_response,
    strip_mailto,
    truncate_body,
)

_STATUS: dict[str, EventStatus] = {
    "CONFIRMED": "confirmed",
    "TENTATIVE": "tentative",
    "CANCELLED": "cancelled",
}
_PRIVATE_CLASSES = frozenset({"PRIVATE", "CONFIDENTIAL"})
_RESOURCE_CUTYPES = frozenset({"RESOURCE", "ROOM"})


def vevent_to_event(
    vevent: icalendar.cal.Component,
    *,
    room: str,
    event_id: str | None = None,
    default_tz: tzinfo = UTC,
    default_room_response: ResponseStatus = "accepted",
    series: bool | None = None,
) -> CalendarEvent:
    """Normalise one VEVENT (an occurrence when it carries RECURRENCE-ID) of ``room``'s calendar.

    ``event_id`` defaults to the UID, suffixed with ``_<RECURRENCE-ID in UTC>`` for occurrences
    of a series (as Google names instances). The room's own ATTENDEE PARTSTAT gives
    ``room_response``; when the room is not an attendee, ``default_room_response`` applies (the
    event is in the room's calendar, so it is accepted by default). ``series=False`` ignores a
    RECURRENCE-ID that an expander put on a single event (None: trust RECURRENCE-ID). Raises
    ``MalformedCalendarData`` when DTSTART is missing or not a date/date-time.
    """
    uid = _text(vevent.get("UID"))
    start_value = _dt_value(vevent, "DTSTART")
    if start_value is None:
        raise MalformedCalendarData(f"{room}: VEVENT {uid or '(no UID)'} has no valid DTSTART")
    all_day = not isinstance(start_value, datetime)
    start = _aware(start_value, default_tz)
    end = _end(vevent, start_value, start, default_tz)

    recurrence_value = _dt_value(vevent, "RECURRENCE-ID") if series is not False else None
    recurring_id = uid if recurrence_value is not None else ""
    if event_id is None:
        event_id = (
            uid if recurrence_value is None else f"{uid}_{_suffix(recurrence_value, default_tz)}"
        )
    if not event_id:
        raise MalformedCalendarData(f"{room}: VEVENT at {start.isoformat()} has no UID")

    attendees = tuple(_attendees(vevent.get("ATTENDEE")))
    room_email = room.strip().lower()
    room_response = next(
        (a.response for a in attendees if a.email == room_email), default_room_response
    )
    organizer_name, organizer_email = _organizer(vevent.get("ORGANIZER"))
    updated_value = _dt_value(vevent, "LAST-MODIFIED")
    return CalendarEvent(
        id=event_id,
        ical_uid=uid,
        room=room,
        subject=_text(vevent.get("SUMMARY")),
        location=_text(vevent.get("LOCATION")),
        body=truncate_body(_text(vevent.get("DESCRIPTION"))),
        body_html=truncate_body(_html_description(vevent)),
        organizer_name=organizer_name,
        organizer_email=organizer_email,
        start=start,
        end=end,
        all_day=all_day,
        private=_text(vevent.get("CLASS")).upper() in _PRIVATE_CLASSES,
        status=_STATUS.get(_text(vevent.get("STATUS")).upper(), "confirmed"),
        room_response=room_response,
        attendees=attendees,
        conference=_conference(vevent),
        recurring_id=recurring_id,
        updated=_aware(updated_value, UTC) if isinstance(updated_value, datetime) else None,
    )


def _text(value: Any) -> str:
    """Text of a property (first one when repeated), '' when absent."""
    if value is None:
        return ""
    if isinstance(value, list):
        return _text(value[0]) if value else ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _dt_value(vevent: icalendar.cal.Component, name: str) -> date | datetime | None:
    """The date or date-time of a DATE/DATE-TIME property, None when absent or unparsable."""
    prop = vevent.get(name)
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    try:
        value = getattr(prop, "dt", None)
    except ValueError:  # icalendar's BrokenCalendarProperty for unparsable values
        return None
    return value if isinstance(value, date) else None


def _aware(value: date | datetime, default_tz: tzinfo) -> datetime:
    """A timezone-aware datetime: DATE → midnight, floating/unknown TZID → ``default_tz``."""
    if not isinstance(value, datetime):
        return midnight(value, default_tz)
    if value.utcoffset() is None:
        return value.replace(tzinfo=default_tz)
    return value


def _suffix(value: date | datetime, default_tz: tzinfo) -> str:
    return instance_suffix(_aware(value, default_tz) if isinstance(value, datetime) else value)


def _end(
    vevent: icalendar.cal.Component,
    start_value: date | datetime,
    start: datetime,
    default_tz: tzinfo,
) -> datetime:
    """DTEND, else DTSTART + DURATION, else RFC 5545 §3.6.1 (one day for DATE, zero otherwise)."""
    end_value = _dt_value(vevent, "DTEND")
    if end_value is not None:
        end = _aware(end_value, default_tz)
        return max(end, start)
    try:
        duration = getattr(vevent.get("DURATION"), "dt", None)
    except ValueError:
        duration = None
    if isinstance(duration, timedelta):
        return start + duration
    if not isinstance(start_value, datetime):
        return midnight(start_value + timedelta(days=1), default_tz)
    return start


def _organizer(value: Any) -> tuple[str, str]:
    if value is None:
        return "", ""
    if isinstance(value, list):
        value = value[0] if value else ""
    params = getattr(value, "params", {})
    return str(params.get("CN", "")), strip_mailto(str(value))


def _attendees(values: Any) -> Iterable[Attendee]:
    if values is None:
        return
    for value in values if isinstance(values, list) else [values]:
        params = getattr(value, "params", {})
        email = strip_mailto(str(value))
        if not email:
            continue
        yield Attendee(
            email=email,
            name=str(params.get("CN", "")),
            response=partstat_to_response(params.get("PARTSTAT")),
            resource=str(params.get("CUTYPE", "")).upper() in _RESOURCE_CUTYPES,
        )


def _html_description(vevent: icalendar.cal.Component) -> str:
    """X-ALT-DESC;FMTTYPE=text/html (Outlook), else an RFC 9073 STYLED-DESCRIPTION in HTML."""
    for name in ("X-ALT-DESC", "STYLED-DESCRIPTION"):
        values = vevent.get(name)
        for value in values if isinstance(values, list) else [values]:
            params = getattr(value, "params", {})
            if value is not None and str(params.get("FMTTYPE", "")).lower() == "text/html":
                return _text(value)
    return ""


def _conference(vevent: icalendar.cal.Component) -> Conference | None:
    """Google's X-GOOGLE-CONFERENCE or Microsoft's Teams URL, else the RFC 7986 CONFERENCE."""
    meet = _text(vevent.get("X-GOOGLE-CONFERENCE"))
    if meet:
        code = meet.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        return Conference(
            solution="hangoutsMeet",
            id=code,
            entry_points=(EntryPoint(type="video", uri=meet),),
        )
    teams = _text(vevent.get("X-MICROSOFT-SKYPETEAMSMEETINGURL"))
    if teams:
        return Conference(
            solution="teamsForBusiness", entry_points=(EntryPoint(type="video", uri=teams),)
        )
    values = vevent.get("CONFERENCE")
    if values is None:
        return None
    points = []
    for value in values if isinstance(values, list) else [values]:
        uri = _text(value)
        features = str(getattr(value, "params", {}).get("FEATURE", "")).upper()
        kind: Any = "phone" if uri.lower().startswith("tel:") else "video"
        if uri.lower().startswith(("sip:", "sips:")):
            kind = "sip"
        elif "VIDEO" not in features and kind == "video" and features:
            kind = "more"
        points.append(EntryPoint(type=kind, uri=uri))
    return Conference(solution="rfc7986", entry_points=tuple(points)) if points else None


def expand_calendar(
    data: str | bytes, *, room: str, start: datetime, end: datetime, default_tz: tzinfo
) -> list[CalendarEvent]:
    """Expand every VEVENT of an iCalendar text over ``[start, end)`` and normalise it."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise MalformedCalendarData(f"{room}: unreadable iCalendar data: {exc}") from exc
    series_uids = {
        str(component.get("UID", ""))
        for component in calendar.walk("VEVENT")
        if any(name in component for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    return [
        vevent_to_event(
            vevent,
            room=room,
            default_tz=default_tz,
            series=str(vevent.get("UID", "")) in series_uids,
        )
        for vevent in occurrences
        if vevent.name == "VEVENT"
    ]
