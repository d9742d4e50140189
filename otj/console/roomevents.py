"""A room's events read live from its calendar, for the preview's "pick a meeting of a room".

The store keeps what the rules made of each event, not the invitation itself, so the preview
reads the room's calendar again through its integration (the worker's calendar sources, one full
read of the profile's window) and keeps the events for ``TTL`` so that editing a rule against
one of them does not read the calendar on every keystroke.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from calendars.base import CalendarError, CalendarEvent, CalendarSource, IntegrationConfig

if TYPE_CHECKING:
    from otj.store import Database

TTL = timedelta(minutes=5)
SourceFactory = Callable[[IntegrationConfig], CalendarSource]


class RoomEventsError(Exception):
    """The room's calendar cannot be read (the message says why, for the administrator)."""


def _default_factory(config: IntegrationConfig) -> CalendarSource:
    from calendars.registry import create_source

    return create_source(config, timeout=15.0)


class RoomEvents:
    """Reads and briefly keeps rooms' events."""

    def __init__(self, db: Database, *, source_factory: SourceFactory | None = None) -> None:
        self._db = db
        self._factory = source_factory or _default_factory
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[datetime, tuple[CalendarEvent, ...]]] = {}

    def events(self, room: str, *, now: datetime) -> tuple[CalendarEvent, ...]:
        """The room's events from a day ago to the end of its profile's window, by start."""
        room = room.strip().lower()
        with self._lock:
            kept = self._kept.get(room)
            if kept is not None and kept[0] > now:
                return kept[1]
        events = self._read(room, now=now)
        with self._lock:
            self._kept[room] = (now + TTL, events)
        return events

    def event(self, room: str, event_id: str, *, now: datetime) -> CalendarEvent | None:
        """One of the room's events by id."""
        return next((e for e in self.events(room, now=now) if e.id == event_id), None)

    def _read(self, room: str, *, now: datetime) -> tuple[CalendarEvent, ...]:
        from otj.worker.plans import resolve_integration

        assignment = next(
            (a for a in self._db.config.room_assignments(secrets="resolve") if a.room == room),
            None,
        )
        if assignment is None:
            raise RoomEventsError(f"there is no room {room}")
        if assignment.integration is None:
            raise RoomEventsError(
                f"the room's profile {assignment.profile.name!r} has no calendar integration"
            )
        try:
            config = resolve_integration(assignment.integration)
            source = self._factory(config)
        except (ValueError, KeyError) as exc:
            raise RoomEventsError(f"integration {assignment.integration.name!r}: {exc}") from exc
        try:
            result = source.sync(
                room,
                start=now - timedelta(days=1),
                end=now + timedelta(days=assignment.profile.display_upcoming_meetings),
                state=None,
            )
        except CalendarError as exc:
            raise RoomEventsError(f"reading the room's calendar failed: {exc}") from exc
        finally:
            source.close()
        return tuple(sorted(result.events, key=lambda e: (e.start, e.id)))
