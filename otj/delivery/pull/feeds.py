"""Pull feeds for any device, macro or panel (pure): the meetings JSON, its ETag, iCalendar.

The JSON list and the iCalendar feed carry listed meetings only, with the subject already
replaced by the privacy settings. Entity tags are strong (a digest of the exact body) and
``If-None-Match`` uses the weak comparison RFC 9110 §13.1.2 prescribes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import icalendar

from otj.delivery.devices.bookings import booking_id
from otj.model import CallProtocol, Meeting

PRODID = "-//otj//One-Touch Join//EN"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dial_uri(alias: str, protocol: CallProtocol) -> str:
    """The alias as a URI: ``sip:alias`` (or ``h323:alias``), unless it already has a scheme."""
    if _SCHEME.match(alias) and not alias.split(":", 1)[1].isdigit():
        return alias
    scheme = "h323" if protocol is CallProtocol.H323 else "sip"
    return f"{scheme}:{alias}"


def listed(meetings: Iterable[Meeting]) -> list[Meeting]:
    """Listed meetings ordered by start, then event id."""
    return sorted((m for m in meetings if m.listed), key=lambda m: (m.start, m.event_id))


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """One entry of ``GET /api/v1/rooms/{room}/meetings``."""
    return {
        "id": booking_id(meeting.event_id),
        "subject": meeting.subject,
        "organizerName": meeting.organizer_name,
        "organizerEmail": meeting.organizer_email,
        "startTime": _iso(meeting.start),
        "endTime": _iso(meeting.end),
        "joinFrom": _iso(meeting.join_from),
        "joinUntil": _iso(meeting.join_until),
        "alias": meeting.alias,
        "protocol": meeting.protocol.value,
        "platform": meeting.platform.value,
    }


def meetings_body(meetings: Iterable[Meeting]) -> bytes:
    """The JSON body of the room's meeting list (deterministic, so its ETag is stable)."""
    return json.dumps(
        [meeting_json(m) for m in listed(meetings)], ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def strong_etag(body: bytes) -> str:
    """A strong entity tag for exactly these bytes (RFC 9110 §8.8.3)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag.removeprefix("W/")


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` matches ``etag`` (weak comparison, ``*`` matches anything)."""
    if not if_none_match:
        return False
    candidates = [c for c in (part.strip() for part in if_none_match.split(",")) if c]
    if "*" in candidates:
        return True
    return any(_opaque(c) == _opaque(etag) for c in candidates)


def ics_feed(room: str, meetings: Sequence[Meeting], *, stamp: datetime, name: str = "") -> bytes:
    """An RFC 5545 calendar of the room's listed meetings, the dial string as an RFC 7986
    ``CONFERENCE;VALUE=URI;FEATURE=VIDEO`` property and as ``LOCATION``.

    ``stamp`` is the DTSTAMP of every event (when the room's list last changed), so that the
    feed is byte-identical while nothing changes and its ETag holds.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name or room)  # RFC 7986 §5.1
    calendar.add("x-wr-calname", name or room)
    for meeting in listed(meetings):
        event = icalendar.Event()
        event.add("uid", meeting.ical_uid or f"{booking_id(meeting.event_id)}@otj")
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", meeting.start.astimezone(UTC))
        event.add("dtend", meeting.end.astimezone(UTC))
        event.add("summary", meeting.subject)
        event.add("class", "PRIVATE" if meeting.private else "PUBLIC")
        if meeting.organizer_email:
            params = {"CN": meeting.organizer_name} if meeting.organizer_name else {}
            event.add("organizer", f"mailto:{meeting.organizer_email}", parameters=params)
        if meeting.alias:
            uri = dial_uri(meeting.alias, meeting.protocol)
            event.add(
                "conference",
                uri,
                parameters={"VALUE": "URI", "FEATURE": "VIDEO", "LABEL": "Join"},
            )
            event.add("location", uri)
        event.add("x-otj-join-from", _iso(meeting.join_from))
        event.add("x-otj-join-until", _iso(meeting.join_until))
        event.add("x-otj-platform", meeting.platform.value)
        calendar.add_component(event)
    return bytes(calendar.to_ical())
