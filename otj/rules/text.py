"""The text that rules see for one event, normalised once and lazily (DESIGN.md §4.1).

One ``EventText`` is made per processed event and shared by every rule: the HTML body is
converted at most once, link wrappers are decoded at most once, and lower-cased copies (used for
cheap substring pre-checks before any regular expression runs) are made on first use.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cached_property
from typing import Any

from calendars.base import CalendarEvent, Conference
from otj.rules.html import html_to_text, looks_like_html
from otj.rules.links import decode_wrapped_links

SOURCES = ("conference data", "location", "body")


class EventText:
    """Lazily normalised views of one ``CalendarEvent``'s location, body and conference data."""

    def __init__(self, event: CalendarEvent) -> None:
        self.event = event

    @cached_property
    def body_raw(self) -> str:
        """Plain text of the body: the HTML body converted when present, else ``body``."""
        event = self.event
        if event.body_html.strip():
            return html_to_text(event.body_html)
        body = event.body
        if "\r" in body:
            body = body.replace("\r\n", "\n").replace("\r", "\n")
        if looks_like_html(body):
            return html_to_text(body)
        return body

    @cached_property
    def body(self) -> str:
        """``body_raw`` with Safe Links / URL Defense wrappers decoded."""
        return decode_wrapped_links(self.body_raw)

    @cached_property
    def body_lower(self) -> str:
        return self.body.lower()

    @cached_property
    def location(self) -> str:
        return decode_wrapped_links(self.event.location)

    @cached_property
    def location_lower(self) -> str:
        return self.location.lower()

    @cached_property
    def conference_text(self) -> str:
        """Entry point URIs of the conference data, one per line (searched before location)."""
        conference = self.event.conference
        if conference is None:
            return ""
        return "\n".join(point.uri for point in conference.entry_points if point.uri)

    @cached_property
    def conference_lower(self) -> str:
        return self.conference_text.lower()

    def texts(self) -> tuple[tuple[str, str, str], ...]:
        """``(source, text, lower-cased text)`` in search order: conference, location, body."""
        return (
            ("conference data", self.conference_text, self.conference_lower),
            ("location", self.location, self.location_lower),
            ("body", self.body, self.body_lower),
        )

    def free_texts(self) -> tuple[tuple[str, str, str], ...]:
        """``(source, text, lower-cased text)`` for location then body (no conference data)."""
        return (
            ("location", self.location, self.location_lower),
            ("body", self.body, self.body_lower),
        )

    @cached_property
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


def _conference_dict(conference: Conference | None) -> dict[str, Any] | None:
    if conference is None:
        return None
    return {
        "solution": conference.solution,
        "id": conference.id,
        "entry_points": [asdict(point) for point in conference.entry_points],
    }
