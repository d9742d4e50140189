"""Make text from calendars storable on every backend (pure): one hostile event, one room.

Calendar data is not ours: a subject may hold a NUL (PostgreSQL text cannot), a lone UTF-16
surrogate from a JSON ``\\ud800`` escape (UTF-8 cannot encode it), or an organizer address or
event id longer than its column (PostgreSQL refuses, SQLite keeps it). Any of these would fail
the transaction of the room's whole poll, so every meeting is made storable before it is
written: NULs dropped, lone surrogates replaced by U+FFFD, texts cut to their column, and an
over-long event id shortened to a stable digest form (the same event keeps the same id).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from otj.model import Meeting, TraceStep
from otj.store.tables import EMAIL, EVENT_ID, NAME

REPLACEMENT = "\ufffd"
#: Characters of an over-long event id kept in front of its digest.
ID_PREFIX = EVENT_ID - 65


def clean_text(value: str, limit: int | None = None) -> str:
    """``value`` without NULs and lone surrogates, at most ``limit`` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in value)
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def storable_event_id(event_id: str) -> str:
    """The id a meeting is stored under: itself when storable, else a cleaned prefix and the
    SHA-256 of the original (stable across polls; two different ids never share one)."""
    if len(event_id) <= EVENT_ID and clean_text(event_id) == event_id:
        return event_id
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{clean_text(event_id)[:ID_PREFIX]}#{digest}"


def _step(step: TraceStep) -> TraceStep:
    fields = (step.rule, step.meeting_type, step.detail)
    cleaned = (clean_text(step.rule), clean_text(step.meeting_type), clean_text(step.detail))
    if cleaned == fields:
        return step
    return replace(step, rule=cleaned[0], meeting_type=cleaned[1], detail=cleaned[2])


def _storable_as_is(meeting: Meeting) -> bool:
    """The fast path (nearly every meeting): lengths fit and no text needs cleaning."""
    if (
        len(meeting.event_id) > EVENT_ID
        or len(meeting.ical_uid) > EVENT_ID
        or len(meeting.organizer_email) > EMAIL
        or (meeting.rule is not None and len(meeting.rule) > NAME)
    ):
        return False
    texts = [
        meeting.event_id,
        meeting.ical_uid,
        meeting.subject,
        meeting.organizer_name,
        meeting.organizer_email,
        meeting.alias or "",
        meeting.rule or "",
        meeting.unlisted_reason,
    ]
    for step in meeting.trace:
        texts += (step.rule, step.meeting_type, step.detail)
    joined = "".join(texts)
    return "\x00" not in joined and (joined.isascii() or clean_text(joined) == joined)


def storable_meeting(meeting: Meeting) -> Meeting:
    """``meeting`` with every text storable (the same object when nothing needed changing)."""
    if _storable_as_is(meeting):
        return meeting
    values: dict[str, Any] = {
        "event_id": storable_event_id(meeting.event_id),
        "ical_uid": clean_text(meeting.ical_uid, EVENT_ID),
        "subject": clean_text(meeting.subject),
        "organizer_name": clean_text(meeting.organizer_name),
        "organizer_email": clean_text(meeting.organizer_email, EMAIL),
        "alias": None if meeting.alias is None else clean_text(meeting.alias),
        "rule": None if meeting.rule is None else clean_text(meeting.rule, NAME),
        "unlisted_reason": clean_text(meeting.unlisted_reason),
    }
    trace = tuple(_step(step) for step in meeting.trace)
    changed: dict[str, Any] = {k: v for k, v in values.items() if v != getattr(meeting, k)}
    if any(new is not old for new, old in zip(trace, meeting.trace, strict=True)):
        changed["trace"] = trace
    return replace(meeting, **changed) if changed else meeting
