"""The text that rules see for one event, normalised once and lazily (DESIGN.md §4.1).

One ``EventText`` is made per processed event and shared by every rule: the HTML body is
converted at most once, link wrappers are decoded at most once, and lower-cased copies (used for
cheap substring pre-checks before any regular expression runs) are made on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, Generic, Self, TypeVar, overload

import re2

from calendars.base import CalendarEvent, Conference
from otj.rules.html import html_to_texts, looks_like_html
from otj.rules.links import decode_wrapped_links_lower

CONFERENCE, LOCATION, BODY = "conference data", "location", "body"
ALL_SOURCES = (CONFERENCE, LOCATION, BODY)
FREE_TEXT = (LOCATION, BODY)

NEEDLES = (
    "pexip://", "teams@", "@m.webex.com", "@t.plcm.vc", "dialin.plcm.vc",
    "teams.microsoft.com/", "teams.cloud.microsoft/", "zoom.us/", "zoomgov.com/", "zoomcrc.com",
    "webex.com", "inroomlink.goto.com", "meet.google.com/", "tel.meet/", "sip:", "sips:",
    "h323:", "pexip.me/", "//meet.", "/teams/",
)  # fmt: skip
"""Substrings the built-in types look for, found in one RE2 pass per text (case-insensitive)."""

_STATIC_NEEDLES = frozenset(NEEDLES)
_NEEDLE_SET: list[re2.Set] = []


def _needle_set() -> re2.Set:
    if not _NEEDLE_SET:
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False
        needle_set = re2.Set.SearchSet(options)
        for needle in NEEDLES:
            needle_set.Add(re2.escape(needle))
        needle_set.Compile()
        _NEEDLE_SET.append(needle_set)
    return _NEEDLE_SET[0]


def find_needles(text: str) -> frozenset[str]:
    """Which of ``NEEDLES`` occur in ``text`` (ignoring case)."""
    if not text:
        return frozenset()
    found = _needle_set().Match(text)
    return frozenset(NEEDLES[index] for index in found) if found else frozenset()


_T = TypeVar("_T")


class _Lazy(Generic[_T]):
    """``functools.cached_property`` without its lock (Python 3.11 takes an ``RLock`` per call).

    The first access computes the value and stores it in the instance ``__dict__``, which then
    shadows this non-data descriptor. Two threads may both compute it: the values are equal.
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type[Any]) -> _T: ...

    def __get__(self, instance: object, owner: type[Any]) -> _T | Self:
        if instance is None:
            return self
        value = instance.__dict__[self._name] = self._compute(instance)
        return value


class EventText:
    """Lazily normalised views of one ``CalendarEvent``'s location, body and conference data."""

    def __init__(self, event: CalendarEvent) -> None:
        self.event = event

    @_Lazy
    def _body_texts(self) -> tuple[str, str]:
        """``body_raw``, and the same with link targets decoded where the conversion could."""
        event = self.event
        if event.body_html.strip():
            return html_to_texts(event.body_html)
        body = event.body
        if "\r" in body:
            body = body.replace("\r\n", "\n").replace("\r", "\n")
        if looks_like_html(body):
            return html_to_texts(body)
        return body, body

    @_Lazy
    def body_raw(self) -> str:
        """Plain text of the body: the HTML body converted when present, else ``body``."""
        return self._body_texts[0]

    @_Lazy
    def _body_decoded(self) -> tuple[str, str]:
        # the same as decoding body_raw (html_to_texts), with less left to decode
        return decode_wrapped_links_lower(self._body_texts[1])

    @_Lazy
    def body(self) -> str:
        """``body_raw`` with Safe Links / URL Defense wrappers decoded."""
        return self._body_decoded[0]

    @_Lazy
    def body_lower(self) -> str:
        return self._body_decoded[1]

    @_Lazy
    def _location_decoded(self) -> tuple[str, str]:
        return decode_wrapped_links_lower(self.event.location)

    @_Lazy
    def location(self) -> str:
        return self._location_decoded[0]

    @_Lazy
    def location_lower(self) -> str:
        return self._location_decoded[1]

    @_Lazy
    def conference_text(self) -> str:
        """Entry point URIs of the conference data, one per line (searched before location)."""
        conference = self.event.conference
        if conference is None:
            return ""
        return "\n".join(point.uri for point in conference.entry_points if point.uri)

    @_Lazy
    def conference_lower(self) -> str:
        return self.conference_text.lower()

    @_Lazy
    def _hits(self) -> dict[str, frozenset[str]]:
        return {
            CONFERENCE: find_needles(self.conference_text),
            LOCATION: find_needles(self.location),
            BODY: find_needles(self.body),
        }

    def text(self, source: str) -> str:
        """The (decoded) text of a source: ``conference data``, ``location`` or ``body``."""
        if source == BODY:
            return self.body
        if source == LOCATION:
            return self.location
        return self.conference_text

    def lower(self, source: str) -> str:
        """The lower-cased text of a source."""
        if source == BODY:
            return self.body_lower
        if source == LOCATION:
            return self.location_lower
        return self.conference_lower

    def hits(self, source: str) -> frozenset[str]:
        """Which ``NEEDLES`` occur in a source."""
        return self._hits[source]

    @_Lazy
    def hits_anywhere(self) -> frozenset[str]:
        """Which ``NEEDLES`` occur in conference data, location or body."""
        hits = self._hits
        return hits[CONFERENCE] | hits[LOCATION] | hits[BODY]

    @_Lazy
    def hits_free_text(self) -> frozenset[str]:
        """Which ``NEEDLES`` occur in location or body."""
        return self._hits[LOCATION] | self._hits[BODY]

    def candidates(
        self, sources: tuple[str, ...], needles: tuple[str, ...]
    ) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
        """``(source, text, lower-cased text, needles found)`` of the sources with any needle.

        The needles found keep their order. Needles from ``NEEDLES`` are looked up in the
        one-pass result; others (a rule's domain) are searched in the lower-cased text.
        """
        all_hits = self._hits
        static = _STATIC_NEEDLES.issuperset(needles)
        for source in sources:
            hits = all_hits[source]
            if static:
                if hits.isdisjoint(needles):
                    continue
                found = needles if len(needles) == 1 else tuple(filter(hits.__contains__, needles))
            else:
                lower = self.lower(source)
                found = tuple(
                    n for n in needles if (n in hits if n in _STATIC_NEEDLES else n in lower)
                )
                if not found:
                    continue
            yield source, self.text(source), self.lower(source), found

    def has(self, source: str, needles: tuple[str, ...]) -> bool:
        """Whether any of ``needles`` (each in ``NEEDLES``) occurs in a source."""
        hits = self._hits[source]
        return bool(hits) and any(needle in hits for needle in needles)

    @_Lazy
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
