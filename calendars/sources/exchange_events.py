"""exchangelib ``CalendarItem`` → ``CalendarEvent`` (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from exchangelib import EWSTimeZone

from calendars.base import Attendee, CalendarEvent, MalformedCalendarData, ResponseStatus
from calendars.normalise import midnight, truncate_body

#: The item fields a calendar view asks for (everything ``ews_item_to_event`` reads).
FIELDS = (
    "subject",
    "start",
    "end",
    "body",
    "uid",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "resources",
    "is_all_day",
    "sensitivity",
    "is_cancelled",
    "my_response_type",
    "type",
    "last_modified_time",
    "location",
)
_RESPONSES: dict[str, ResponseStatus] = {
    "Accept": "accepted",
    "Organizer": "accepted",
    "Decline": "declined",
    "Tentative": "tentative",
    "NoResponseReceived": "needsAction",
    "Unknown": "needsAction",
}


def ews_datetime(value: datetime) -> Any:
    from exchangelib import EWSDateTime

    return EWSDateTime.from_datetime(value.astimezone(UTC)).astimezone(EWSTimeZone("UTC"))


def ews_item_to_event(item: Any, *, room: str, default_tz: tzinfo) -> CalendarEvent:
    """Normalise one exchangelib ``CalendarItem`` of a calendar view."""
    try:
        start = _moment(item.start, default_tz)
        end_value = item.end
        if isinstance(end_value, date) and not isinstance(end_value, datetime):
            end_value = end_value + timedelta(days=1)  # exchangelib gives the last day, inclusive
        end = max(_moment(end_value, default_tz), start)
        body = item.body
        is_html = type(body).__name__ == "HTMLBody"
        attendees = tuple(
            _attendees(
                [*(item.required_attendees or ()), *(item.optional_attendees or ())],
                resource=False,
            )
        ) + tuple(_attendees(item.resources or (), resource=True))
        room_key = room.strip().lower()
        room_response = next(
            (a.response for a in attendees if a.email == room_key),
            _RESPONSES.get(str(item.my_response_type or ""), "accepted"),
        )
        organizer = item.organizer
        kind = str(item.type or "Single")
        uid = str(item.uid or "")
        modified = item.last_modified_time
        return CalendarEvent(
            id=str(item.id),
            ical_uid=uid,
            room=room,
            subject=str(item.subject or ""),
            location=str(item.location or ""),
            body="" if is_html else truncate_body(str(body or "")),
            body_html=truncate_body(str(body)) if is_html else "",
            organizer_name=str(getattr(organizer, "name", "") or ""),
            organizer_email=str(getattr(organizer, "email_address", "") or "").lower(),
            start=start,
            end=end,
            all_day=bool(item.is_all_day),
            private=str(item.sensitivity or "") in ("Private", "Confidential"),
            status="cancelled" if item.is_cancelled else "confirmed",
            room_response=room_response,
            attendees=attendees,
            recurring_id=uid if kind in ("Occurrence", "Exception") else "",
            updated=modified if isinstance(modified, datetime) else None,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedCalendarData(f"{room}: EWS item is malformed: {exc!r}") from exc


def _moment(value: object, default_tz: tzinfo) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return value.replace(tzinfo=default_tz)
        return datetime.fromtimestamp(value.timestamp(), tz=UTC)
    if isinstance(value, date):
        return midnight(date(value.year, value.month, value.day), default_tz)
    raise MalformedCalendarData(f"EWS item without a valid start/end: {value!r}")


def _attendees(values: Iterable[Any], *, resource: bool) -> Iterable[Attendee]:
    for attendee in values:
        mailbox = getattr(attendee, "mailbox", None)
        email = str(getattr(mailbox, "email_address", "") or "").lower()
        if not email:
            continue
        yield Attendee(
            email=email,
            name=str(getattr(mailbox, "name", "") or ""),
            response=_RESPONSES.get(
                str(getattr(attendee, "response_type", "") or ""), "needsAction"
            ),
            resource=resource,
        )
