"""A meeting fitted to its row (pure): the columns' lengths are the store's one concern.

Texts arrive clean: invitation text at the calendar edge (:mod:`calendars.text`), what rules
make by the rules' own checks (a dial string holds no control character, trace lines show
them escaped), names and templates by the configuration's validation. What is left is length:
PostgreSQL refuses a value longer than its column (SQLite keeps it), and one over-long organizer
address or event id would fail the transaction of the room's whole poll. So the few bounded
texts are cut to their column, and an over-long event id becomes a stable digest form (the same
event keeps the same id; two ids never share one).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from otj.model import Meeting
from otj.store.tables import EMAIL, EVENT_ID, NAME

#: Characters of an over-long event id kept in front of its digest.
ID_PREFIX = EVENT_ID - 65


def storable_event_id(event_id: str) -> str:
    """The id a meeting is stored under: itself when it fits, else its first ``ID_PREFIX``
    characters, ``#`` and the SHA-256 of the whole id."""
    if len(event_id) <= EVENT_ID:
        return event_id
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{event_id[:ID_PREFIX]}#{digest}"


def storable_meeting(meeting: Meeting) -> Meeting:
    """``meeting`` with its bounded texts cut to their columns (the same object when they fit,
    as nearly every meeting's do)."""
    rule = meeting.rule
    if (
        len(meeting.event_id) <= EVENT_ID
        and len(meeting.ical_uid) <= EVENT_ID
        and len(meeting.organizer_email) <= EMAIL
        and (rule is None or len(rule) <= NAME)
    ):
        return meeting
    return replace(
        meeting,
        event_id=storable_event_id(meeting.event_id),
        ical_uid=meeting.ical_uid[:EVENT_ID],
        organizer_email=meeting.organizer_email[:EMAIL],
        rule=None if rule is None else rule[:NAME],
    )
