"""The text that rules see for one event, normalised once (DESIGN.md §4.1).

``EventText.of(event)`` converts the HTML body to text (``otj.rules.html``), decodes Safe Links
and URL Defense wrappers (``otj.rules.links``) in body and location, and lists the conference
data's entry point URIs. Every rule of a rule set reads the same ``EventText``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from calendars.base import CalendarEvent, Conference
from otj.rules.html import convert, looks_like_html
from otj.rules.links import decode_wrapped_links

MAX_TEXT_CHARS = 512 * 1024
"""A plain-text body or location beyond this many characters is cut (the trace says so)."""

CONFERENCE, LOCATION, BODY = "conference data", "location", "body"
ALL_SOURCES = (CONFERENCE, LOCATION, BODY)
FREE_TEXT = (LOCATION, BODY)


@dataclass(frozen=True, kw_only=True, slots=True)
class EventText:
    """One event's texts: ``body_raw`` (plain), ``body`` and ``location`` (links decoded)."""

    event: CalendarEvent
    body_raw: str
    body: str
    location: str
    conference_text: str
    """Entry point URIs of the conference data, one per line."""
    cut: str = ""
    """What the HTML conversion left out of a huge body ("" when nothing)."""
    lowered: Mapping[str, str] = field(default_factory=dict)
    """Each source's text lower-cased (for the finders' substring checks)."""

    @classmethod
    def of(cls, event: CalendarEvent) -> EventText:
        """Normalise one event's texts."""
        cuts: list[str] = []
        body = event.body
        html = event.body_html if event.body_html.strip() else ""
        if not html and looks_like_html(body):
            html = body
        if html:
            converted = convert(html)
            body = converted.text
            cuts += [converted.cut] if converted.cut else []
        else:
            body = _cut("body", body, cuts)
        body = body.replace("\r\n", "\n").replace("\r", "\n")
        location = _cut("location", event.location, cuts)
        conference = event.conference
        points = () if conference is None else conference.entry_points
        decoded, location = decode_wrapped_links(body), decode_wrapped_links(location)
        conference_text = "\n".join(point.uri for point in points if point.uri)
        return cls(
            event=event,
            body_raw=body,
            body=decoded,
            location=location,
            conference_text=conference_text,
            cut="; ".join(cuts),
            lowered={
                CONFERENCE: conference_text.lower(),
                LOCATION: location.lower(),
                BODY: decoded.lower(),
            },
        )

    def text(self, source: str) -> str:
        """The (decoded) text of a source: ``conference data``, ``location`` or ``body``."""
        if source == BODY:
            return self.body
        if source == LOCATION:
            return self.location
        return self.conference_text

    def lower(self, source: str) -> str:
        """The lower-cased text of a source."""
        return self.lowered[source]

    def having(self, sources: tuple[str, ...], *needles: str) -> list[str]:
        """The sources whose text contains any of ``needles`` (lower case), in order."""
        lowered = self.lowered
        return [s for s in sources if any(needle in lowered[s] for needle in needles)]

    def template_event(self) -> dict[str, Any]:
        """The ``calendar_event`` value of templates: every event field, ``body`` as plain text."""
        event = self.event
        return {
            "id": event.id,
            "ical_uid": event.ical_uid,
            "room": event.room,
            "subject": event.subject,
            "location": event.location,
            "location_decoded": self.location,
            "body": self.body_raw,
            "body_decoded": self.body,
            "body_html": event.body_html,
            "organizer_name": event.organizer_name,
            "organizer_email": event.organizer_email,
            "start": event.start,
            "end": event.end,
            "all_day": event.all_day,
            "private": event.private,
            "status": event.status,
            "room_response": event.room_response,
            "attendees": [asdict(attendee) for attendee in event.attendees],
            "conference": _conference_dict(event.conference),
            "recurring_id": event.recurring_id,
            "updated": event.updated,
        }


def _cut(what: str, text: str, cuts: list[str]) -> str:
    """``text`` up to ``MAX_TEXT_CHARS``; what was left out is said in ``cuts``."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cuts.append(
        f"the {what} has {len(text):,} characters: only the first {MAX_TEXT_CHARS:,} were read"
    )
    return text[:MAX_TEXT_CHARS]


def _conference_dict(conference: Conference | None) -> dict[str, Any] | None:
    if conference is None:
        return None
    return {
        "solution": conference.solution,
        "id": conference.id,
        "entry_points": [asdict(point) for point in conference.entry_points],
    }
