"""The calling room's meeting that ``#`` joins: current or next within its join window.

``offer_for`` is pure (meetings and ``now`` in); ``StoreCalendar`` reads the room's stored
meetings (``otj.store`` ``MeetingRepository``). The room comes from the gateway's attribution
of the caller (registered room, digest user or From URI mapped to an endpoint: DESIGN.md §8),
through the endpoint's ``room_resource_email``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from guestjoin.reception.machine import CalendarOffer
from otj.model import Meeting

if TYPE_CHECKING:
    from otj.store import Database

#: How far around ``now`` the store is asked (join windows are at most a few hours wide).
LOOK_AROUND = timedelta(hours=12)


def offer_for(meetings: Iterable[Meeting], now: datetime) -> CalendarOffer | None:
    """The listed meeting with an alias whose join window holds ``now``.

    When several do, the one that started last (the meeting in progress), else the one that
    starts first (the next one, inside its start buffer).
    """
    open_ = [m for m in meetings if m.listed and m.alias and m.join_from <= now < m.join_until]
    started = [m for m in open_ if m.start <= now]
    if started:
        chosen = max(started, key=lambda m: (m.start, m.event_id))
    elif open_:
        chosen = min(open_, key=lambda m: (m.start, m.event_id))
    else:
        return None
    assert chosen.alias is not None
    return CalendarOffer(
        alias=chosen.alias, subject=chosen.subject, platform=chosen.platform, start=chosen.start
    )


class Calendar(Protocol):
    """Where the reception finds a room's meeting (blocking: called from a worker thread)."""

    def offer(self, room: str, now: datetime) -> CalendarOffer | None:
        """The room's meeting to offer at ``now``, or None."""


class StoreCalendar:
    """Reads a room's meetings from the store (blocking: call from a worker thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def offer(self, room: str, now: datetime) -> CalendarOffer | None:
        """The room's meeting to offer at ``now``, or None."""
        meetings = self.db.meetings.list(
            room,
            start=now - LOOK_AROUND,
            end=now + LOOK_AROUND,
            listed_only=True,
            with_trace=False,
        )
        return offer_for(meetings, now)
