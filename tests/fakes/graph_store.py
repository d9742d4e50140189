"""The mailbox calendar model behind the Graph and EWS fakes (Exchange semantics).

Exchange stores a recurring series as a master with a recurrence and exceptions; calendar views
(Graph ``calendarView``, EWS ``CalendarView``) expand it on the server. This store keeps events
in a neutral form, expands series with dateutil in the series' time zone, and numbers every
change so that ``delta`` / ``SyncFolderItems`` can report what changed since a state.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

Response = Literal["accepted", "declined", "tentative", "none", "organizer"]


@dataclass(kw_only=True)
class FakeAttendee:
    email: str
    name: str = ""
    response: Response = "none"
    kind: Literal["required", "optional", "resource"] = "required"


@dataclass(kw_only=True)
class FakeEvent:
    """A calendar item as the fakes store it (times are aware; ``tz`` is the event's zone)."""

    subject: str = ""
    start: datetime
    end: datetime
    tz: str = "UTC"
    all_day: bool = False
    uid: str = field(default_factory=lambda: f"{uuid.uuid4()}@fake.example.com")
    location: str = ""
    body: str = ""
    body_type: Literal["text", "html"] = "text"
    organizer_name: str = ""
    organizer_email: str = ""
    private: bool = False
    cancelled: bool = False
    attendees: list[FakeAttendee] = field(default_factory=list)
    rrule: str | None = None
    exdates: list[datetime] = field(default_factory=list)
    join_url: str = ""
    conference_id: str = ""
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, kw_only=True)
class Occurrence:
    """One item of an expanded view."""

    id: str
    master_id: str
    kind: Literal["singleInstance", "occurrence", "exception"]
    event: FakeEvent
    original_start: datetime | None
    seq: int


@dataclass
class _Stored:
    event: FakeEvent
    seq: int
    deleted: bool = False
    exceptions: dict[str, tuple[FakeEvent | None, int]] = field(default_factory=dict)


@dataclass
class _Mailbox:
    items: dict[str, _Stored] = field(default_factory=dict)
    seq: int = 0
    epoch: int = 0


class MailboxStore:
    """Thread-safe set of room mailboxes (keyed by lower-cased e-mail)."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._boxes: dict[str, _Mailbox] = {}
        self._listeners: list[Callable[[str, str, str], None]] = []

    def on_change(self, listener: Callable[[str, str, str], None]) -> None:
        """Call ``listener(room, item_id, change_type)`` after every change (Graph's
        ``created``/``updated``/``deleted``), outside the store's lock."""
        self._listeners.append(listener)

    def _changed(self, room: str, item_id: str, change_type: str) -> None:
        for listener in list(self._listeners):
            listener(room, item_id, change_type)

    def add_mailbox(self, room: str) -> None:
        with self._lock:
            self._boxes.setdefault(room.lower(), _Mailbox())

    def has_mailbox(self, room: str) -> bool:
        with self._lock:
            return room.lower() in self._boxes

    def seq(self, room: str) -> int:
        with self._lock:
            return self._box(room).seq

    def epoch(self, room: str) -> int:
        with self._lock:
            return self._box(room).epoch

    def expire_states(self, room: str) -> None:
        """Invalidate every delta token / sync state issued for ``room``."""
        with self._lock:
            self._box(room).epoch += 1

    def _box(self, room: str) -> _Mailbox:
        return self._boxes[room.lower()]

    def _bump(self, box: _Mailbox) -> int:
        box.seq += 1
        return box.seq

    # changes -------------------------------------------------------------------------------
    def put(self, room: str, event: FakeEvent, *, item_id: str | None = None) -> str:
        """Create (or replace) an item; returns its id."""
        with self._lock:
            self.add_mailbox(room)
            box = self._box(room)
            item_id = item_id or _opaque("item", uuid.uuid4().hex)
            stored = copy.deepcopy(event)
            stored.modified = self._now()
            old = box.items.get(item_id)
            box.items[item_id] = _Stored(
                event=stored, seq=self._bump(box), exceptions=old.exceptions if old else {}
            )
        self._changed(room, item_id, "updated" if old else "created")
        return item_id

    def update(self, room: str, item_id: str, **changes: Any) -> None:
        with self._lock:
            box = self._box(room)
            stored = box.items[item_id]
            stored.event = replace(stored.event, **changes, modified=self._now())
            stored.seq = self._bump(box)
        self._changed(room, item_id, "updated")

    def delete(self, room: str, item_id: str) -> None:
        with self._lock:
            box = self._box(room)
            stored = box.items[item_id]
            stored.deleted = True
            stored.seq = self._bump(box)
        self._changed(room, item_id, "deleted")

    def modify_occurrence(
        self, room: str, item_id: str, original_start: datetime | date, **changes: Any
    ) -> str:
        """Turn one occurrence into an exception with ``changes``; returns the occurrence id."""
        with self._lock:
            box = self._box(room)
            stored = box.items[item_id]
            original = _as_datetime(original_start, stored.event)
            occurrence_id = _occurrence_id(item_id, original)
            base = stored.exceptions.get(occurrence_id, (None, 0))[0] or _shifted(
                stored.event, original
            )
            changed = replace(base, **changes, rrule=None, exdates=[], modified=self._now())
            stored.exceptions[occurrence_id] = (changed, self._bump(box))
        self._changed(room, item_id, "updated")
        return occurrence_id

    def cancel_occurrence(self, room: str, item_id: str, original_start: datetime | date) -> str:
        """The organizer cancelled one occurrence: it stays in the room's view as cancelled."""
        return self.modify_occurrence(room, item_id, original_start, cancelled=True)

    def delete_occurrence(self, room: str, item_id: str, original_start: datetime | date) -> str:
        """Remove one occurrence from the series."""
        with self._lock:
            box = self._box(room)
            stored = box.items[item_id]
            original = _as_datetime(original_start, stored.event)
            occurrence_id = _occurrence_id(item_id, original)
            stored.exceptions[occurrence_id] = (None, self._bump(box))
        self._changed(room, item_id, "updated")
        return occurrence_id

    # views ---------------------------------------------------------------------------------
    def item(self, room: str, item_id: str) -> tuple[FakeEvent, int, bool] | None:
        """A stored item or occurrence by id: (event, seq, deleted)."""
        with self._lock:
            box = self._box(room)
            if item_id in box.items:
                stored = box.items[item_id]
                return stored.event, stored.seq, stored.deleted
            for occ in self._all_occurrences(box, None, None, include_deleted=True):
                if occ.id == item_id:
                    return occ.event, occ.seq, False
            return None

    def view(self, room: str, start: datetime, end: datetime) -> list[Occurrence]:
        """Expanded items overlapping ``[start, end)``, ordered by start."""
        with self._lock:
            box = self._box(room)
            found = [
                o
                for o in self._all_occurrences(box, start, end)
                if o.event.start < end and (o.event.end > start or o.event.start == start)
            ]
        return sorted(found, key=lambda o: (o.event.start, o.id))

    def changes(
        self, room: str, since: int, start: datetime, end: datetime
    ) -> tuple[list[Occurrence], list[str]]:
        """Occurrences in the window changed after ``since``, and ids removed after ``since``."""
        with self._lock:
            box = self._box(room)
            changed = [o for o in self.view(room, start, end) if o.seq > since]
            removed: list[str] = []
            for item_id, stored in box.items.items():
                if stored.deleted and stored.seq > since:
                    removed.append(item_id)
                    if stored.event.rrule:
                        removed += [o.id for o in self._expand(item_id, stored, start, end)]
                for occurrence_id, (exc, seq) in stored.exceptions.items():
                    if exc is None and seq > since:
                        removed.append(occurrence_id)
            return changed, removed

    def changed_items(self, room: str, since: int) -> list[tuple[str, str]]:
        """Items (masters and single items) changed after ``since``: (id, Create|Update|Delete)."""
        with self._lock:
            box = self._box(room)
            out = []
            for item_id, stored in box.items.items():
                last = max([stored.seq, *(s for _, s in stored.exceptions.values())])
                if last > since:
                    out.append((item_id, "Delete" if stored.deleted else "Update"))
            return out

    def _all_occurrences(
        self,
        box: _Mailbox,
        start: datetime | None,
        end: datetime | None,
        *,
        include_deleted: bool = False,
    ) -> Iterator[Occurrence]:
        for item_id, stored in box.items.items():
            if stored.deleted and not include_deleted:
                continue
            if not stored.event.rrule:
                yield Occurrence(
                    id=item_id,
                    master_id=item_id,
                    kind="singleInstance",
                    event=stored.event,
                    original_start=None,
                    seq=stored.seq,
                )
                continue
            yield from self._expand(item_id, stored, start, end)

    def _expand(
        self, item_id: str, stored: _Stored, start: datetime | None, end: datetime | None
    ) -> Iterator[Occurrence]:
        master = stored.event
        tz = ZoneInfo(master.tz)
        first = master.start.astimezone(tz).replace(tzinfo=None)
        rules = rruleset()
        rules.rrule(rrulestr(f"RRULE:{master.rrule}", dtstart=first))  # type: ignore[arg-type]
        for ex in master.exdates:
            rules.exdate(ex.astimezone(tz).replace(tzinfo=None))
        lower = (start or self._now() - timedelta(days=400)) - (master.end - master.start)
        upper = end or self._now() + timedelta(days=800)
        lower_naive = lower.astimezone(tz).replace(tzinfo=None) - timedelta(days=2)
        upper_naive = upper.astimezone(tz).replace(tzinfo=None) + timedelta(days=2)
        seen: set[str] = set()
        for naive in rules.between(lower_naive, upper_naive, inc=True):
            original = naive.replace(tzinfo=tz)
            occurrence_id = _occurrence_id(item_id, original)
            seen.add(occurrence_id)
            exception = stored.exceptions.get(occurrence_id)
            if exception is not None:
                event, seq = exception
                if event is None:
                    continue
                yield Occurrence(
                    id=occurrence_id,
                    master_id=item_id,
                    kind="exception",
                    event=event,
                    original_start=original,
                    seq=max(seq, stored.seq),
                )
            else:
                yield Occurrence(
                    id=occurrence_id,
                    master_id=item_id,
                    kind="occurrence",
                    event=_shifted(master, original),
                    original_start=original,
                    seq=stored.seq,
                )


def _opaque(*parts: str) -> str:
    """An Exchange-looking opaque id (base64-ish, stable for the same parts)."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return "AAMkAD" + digest[:40]


def _occurrence_id(item_id: str, original: datetime) -> str:
    return _opaque(item_id, original.astimezone(UTC).isoformat())


def _as_datetime(value: datetime | date, master: FakeEvent) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(master.tz))
    return datetime.combine(
        value, master.start.astimezone(ZoneInfo(master.tz)).time(), ZoneInfo(master.tz)
    )


def _shifted(master: FakeEvent, original: datetime) -> FakeEvent:
    duration = master.end - master.start
    return replace(master, start=original, end=original + duration, rrule=None, exdates=[])
