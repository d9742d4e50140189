"""Calendar text made clean once, at the adapter edge (pure): every later stage trusts it.

Calendar data is not ours. A subject may hold a NUL (PostgreSQL text refuses it), other C0
control characters (XML 1.0 §2.2 cannot carry them: a codec's booking document would be
malformed), or a lone UTF-16 surrogate from a JSON ``\\ud800`` escape (UTF-8 cannot encode it).
Every text of a ``CalendarEvent`` leaves ``calendars`` as XML 1.0 characters, lone surrogates
replaced by U+FFFD and the rest dropped; one-line fields (subject, names, addresses, entry
points) also have runs of whitespace folded to one space. The body keeps its lines: rules read
them. Ids keep their identity: one that needs cleaning becomes a clean prefix and the SHA-256
of the original, stable across polls and never shared by two ids.

Lengths are not cut here: the body has its own cap (``MAX_BODY_CHARS``), columns are the
store's concern and a codec's field length the device adapter's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from calendars.base import Attendee, CalendarEvent, Conference, EntryPoint, SyncResult

REPLACEMENT = "\ufffd"
# What XML 1.0 cannot carry (§2.2 Char): C0 controls but tab and line breaks, U+FFFE, U+FFFF,
# and the surrogates (which only a lone one from a JSON escape can put in a Python string).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Anything that makes one line more than single spaces between words.
_NOT_ONE_LINE = re.compile(r"[^\S ]|  |^ | $")
_WHITESPACE = re.compile(r"\s+")
#: Characters of an id that needed cleaning kept in front of its digest.
ID_PREFIX = 64
T = TypeVar("T")


def _replacement(match: re.Match[str]) -> str:
    return REPLACEMENT if "\ud800" <= match.group() <= "\udfff" else ""


def clean_text(value: str) -> str:
    """``value`` with XML 1.0 characters only: lone surrogates → U+FFFD, others dropped."""
    if _NOT_XML_CHAR.search(value) is None:  # nearly every text: one scan, no copy
        return value
    return _NOT_XML_CHAR.sub(_replacement, value)


def one_line(value: str) -> str:
    """``clean_text(value)`` on one line: runs of whitespace (CR, LF, tab, NBSP …) → one space,
    none at either end."""
    text = clean_text(value)
    if _NOT_ONE_LINE.search(text) is None:
        return text
    return _WHITESPACE.sub(" ", text).strip()


def clean_id(value: str) -> str:
    """An id as it is when it is clean one-line text, else a clean prefix, ``#`` and the
    SHA-256 of the original (the same id maps to the same value; two ids never to one)."""
    if one_line(value) == value:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{one_line(value)[:ID_PREFIX]}#{digest}"


def _cleaned(value: object, fields: dict[str, Callable[[str], str]]) -> dict[str, Any]:
    """The fields of ``value`` whose cleaning changed them (the cleaners return the very same
    string when it is clean, so an unchanged field costs one scan and no copy)."""
    changes: dict[str, Any] = {}
    for name, clean in fields.items():
        text = getattr(value, name)
        cleaned = clean(text)
        if cleaned is not text:
            changes[name] = cleaned
    return changes


def _clean_all(values: tuple[T, ...], clean: Callable[[T], T]) -> tuple[T, ...]:
    cleaned = tuple(clean(value) for value in values)
    return values if all(a is b for a, b in zip(cleaned, values, strict=True)) else cleaned


def _entry_point(point: EntryPoint) -> EntryPoint:
    changes = _cleaned(point, {"uri": one_line, "pin": one_line, "passcode": one_line})
    return replace(point, **changes) if changes else point


def _attendee(attendee: Attendee) -> Attendee:
    changes = _cleaned(attendee, {"email": one_line, "name": one_line})
    return replace(attendee, **changes) if changes else attendee


def _conference(conference: Conference) -> Conference:
    changes = _cleaned(conference, {"solution": one_line, "id": one_line})
    points = _clean_all(conference.entry_points, _entry_point)
    if points is not conference.entry_points:
        changes["entry_points"] = points
    return replace(conference, **changes) if changes else conference


_EVENT_TEXT: dict[str, Callable[[str], str]] = {
    "id": clean_id,
    "ical_uid": clean_id,
    "recurring_id": clean_id,
    "subject": one_line,
    "location": one_line,
    "organizer_name": one_line,
    "organizer_email": one_line,
    "body": clean_text,
    "body_html": clean_text,
}


def clean_event(event: CalendarEvent) -> CalendarEvent:
    """``event`` with every text clean (the same object when nothing needed it)."""
    changes = _cleaned(event, _EVENT_TEXT)
    attendees = _clean_all(event.attendees, _attendee)
    if attendees is not event.attendees:
        changes["attendees"] = attendees
    if event.conference is not None:
        conference = _conference(event.conference)
        if conference is not event.conference:
            changes["conference"] = conference
    return replace(event, **changes) if changes else event


def clean_result(result: SyncResult) -> SyncResult:
    """A sync result whose events and removed ids are clean (ids map as ``clean_id``)."""
    return replace(
        result,
        events=tuple(clean_event(event) for event in result.events),
        removed_ids=tuple(clean_id(event_id) for event_id in result.removed_ids),
    )
