"""Read one invitation, as a user exports it, into a ``CalendarEvent`` (for ``otj rules test``),
its text made clean as a calendar source's is (:mod:`calendars.text`).

- ``.ics``: the first VEVENT, through ``calendars.ical.vevent_to_event`` (RFC 5545: DESCRIPTION,
  X-ALT-DESC;FMTTYPE=text/html, LOCATION, SUMMARY, ORGANIZER, DTSTART/DTEND with TZID, CLASS,
  STATUS, UID).
- ``.eml`` (RFC 5322/2045, as saved from Outlook or Gmail): the ``text/calendar`` part when there
  is one (Outlook and Gmail invitations carry it), with the ``text/html`` / ``text/plain`` parts
  as the body when the VEVENT has none; without a calendar part the message itself is the event.
- ``.json``: a ``CalendarEvent``-shaped object or a golden-case ``event:`` mapping.
"""

from __future__ import annotations

import email
import email.policy
import json
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

import icalendar

from calendars.base import CalendarEvent
from calendars.ical import vevent_to_event
from calendars.text import clean_event
from otj.rules.loading import event_from_mapping

DEFAULT_ROOM = "room@example.com"


class InvitationError(Exception):
    """The file cannot be read as an invitation (the message says why)."""


def read_event_json(path: Path, *, room: str = DEFAULT_ROOM) -> CalendarEvent:
    """A JSON event file → ``CalendarEvent``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, json.JSONDecodeError) as exc:
        raise InvitationError(f"{path}: {exc}") from exc
    if isinstance(data, dict) and "room" not in data:
        data = {**data, "room": room}
    try:
        return clean_event(event_from_mapping(data, str(path), default_id=path.stem))
    except ValueError as exc:
        raise InvitationError(str(exc)) from exc


def _event_from_calendar(raw: bytes | str, *, room: str, where: str) -> CalendarEvent:
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except ValueError as exc:
        raise InvitationError(f"{where}: not an iCalendar object: {exc}") from exc
    vevent = next(iter(calendar.walk("VEVENT")), None)
    if vevent is None:
        raise InvitationError(f"{where}: no VEVENT in the calendar")
    try:
        return clean_event(vevent_to_event(vevent, room=room))
    except Exception as exc:  # calendars raises MalformedCalendarData and friends
        raise InvitationError(f"{where}: {exc}") from exc


def read_ics(path: Path, *, room: str = DEFAULT_ROOM) -> CalendarEvent:
    """The first VEVENT of an .ics file → ``CalendarEvent``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvitationError(f"{path}: {exc}") from exc
    return _event_from_calendar(raw, room=room, where=str(path))


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        return content.decode("utf-8", "replace")
    return content if isinstance(content, str) else ""


def read_eml(path: Path, *, room: str = DEFAULT_ROOM, now: datetime | None = None) -> CalendarEvent:
    """An e-mail invitation (.eml) → ``CalendarEvent``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvitationError(f"{path}: {exc}") from exc
    return event_from_eml(raw, where=str(path), default_id=path.stem, room=room, now=now)


def event_from_ics(raw: bytes | str, *, where: str, room: str = DEFAULT_ROOM) -> CalendarEvent:
    """The first VEVENT of an iCalendar text → ``CalendarEvent``."""
    return _event_from_calendar(raw, room=room, where=where)


def event_from_eml(
    raw: bytes,
    *,
    where: str,
    default_id: str = "invitation",
    room: str = DEFAULT_ROOM,
    now: datetime | None = None,
) -> CalendarEvent:
    """An e-mail invitation's bytes (RFC 5322) → ``CalendarEvent``."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise InvitationError(f"{where}: not an e-mail message")
    plain = html = calendar = ""
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind in ("text/calendar", "application/ics") and not calendar:
            calendar = _part_text(part)
        elif kind == "text/html" and not html and part.get_content_disposition() != "attachment":
            html = _part_text(part)
        elif kind == "text/plain" and not plain and part.get_content_disposition() != "attachment":
            plain = _part_text(part)
    if calendar:
        event = _event_from_calendar(calendar, room=room, where=f"{where} (text/calendar part)")
        return clean_event(
            replace(
                event,
                body_html=event.body_html or html,
                body=event.body or plain,
                subject=event.subject or str(message.get("subject", "")),
            )
        )
    if not plain and not html:
        raise InvitationError(f"{where}: no text/calendar, text/html or text/plain part")
    name, address = parseaddr(str(message.get("from", "")))
    start = now or datetime.now(UTC)
    date_header = message.get("date")
    if date_header:
        with suppress(TypeError, ValueError):
            start = parsedate_to_datetime(str(date_header))
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    event = CalendarEvent(
        id=str(message.get("message-id", "") or default_id).strip("<>"),
        room=room,
        subject=str(message.get("subject", "")),
        body=plain,
        body_html=html,
        organizer_name=name,
        organizer_email=address,
        start=start,
        end=start + timedelta(hours=1),
    )
    return clean_event(event)


def read_invitation(path: Path, *, room: str = DEFAULT_ROOM) -> CalendarEvent:
    """Dispatch on the file extension: .ics, .eml, .json."""
    suffix = path.suffix.lower()
    if suffix in (".ics", ".ical", ".ifb", ".icalendar"):
        return read_ics(path, room=room)
    if suffix in (".eml", ".msg.eml", ".mht"):
        return read_eml(path, room=room)
    if suffix == ".json":
        return read_event_json(path, room=room)
    raise InvitationError(f"{path}: unknown invitation type {suffix!r} (.ics, .eml or .json)")
