"""The rooms page and a room's meetings, as rows for the templates (pure but for ``db`` reads).

A room is shown by its name (its endpoints' names, as people know them) and address; its line
joins the poll status, each endpoint's delivery state and the room's and its endpoints' active
alarms. ``why_no_join`` turns a meeting's rule trace into the sentence an administrator wants
when a room shows no Join button.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from otj.delivery.engine.plan import DeliveryState
from otj.model import Meeting
from otj.store.values import Alarm, RoomStatus

if TYPE_CHECKING:
    from otj.store import Database

FILTERS = ("all", "problems", "alarms", "pending")


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomLine:
    """One row of the rooms page."""

    room: str
    name: str
    status: RoomStatus
    deliveries: tuple[DeliveryState, ...]
    alarms: tuple[Alarm, ...]

    @property
    def sync(self) -> str:
        """``never polled`` / ``failing`` / ``full sync next`` / ``in sync``."""
        if self.status.last_poll_at is None:
            return "never polled"
        if self.status.consecutive_failures:
            return f"failing ({self.status.consecutive_failures}×)"
        return "full sync next" if self.status.full_sync else "in sync"

    @property
    def problem(self) -> bool:
        """Something an administrator should look at."""
        failing = any(d.failures for d in self.deliveries)
        return bool(self.alarms or self.status.consecutive_failures or failing)


def room_lines(
    statuses: Iterable[RoomStatus],
    deliveries: Iterable[DeliveryState],
    alarms: Iterable[Alarm],
    *,
    query: str = "",
    show: str = "all",
) -> list[RoomLine]:
    """The rooms page's rows, filtered by ``query`` (address or name) and ``show``."""
    by_endpoint = {d.endpoint: d for d in deliveries}
    by_subject: dict[str, list[Alarm]] = {}
    for alarm in alarms:
        by_subject.setdefault(alarm.subject.lower(), []).append(alarm)
    needle = query.strip().lower()
    lines = []
    for status in statuses:
        name = ", ".join(status.endpoints) or status.room
        if needle and needle not in status.room and needle not in name.lower():
            continue
        subjects = [status.room, *(e.lower() for e in status.endpoints)]
        line = RoomLine(
            room=status.room,
            name=name,
            status=status,
            deliveries=tuple(
                by_endpoint.get(e, DeliveryState(endpoint=e)) for e in status.endpoints
            ),
            alarms=tuple(a for s in subjects for a in by_subject.get(s, ())),
        )
        if show == "problems" and not line.problem:
            continue
        if show == "alarms" and not line.alarms:
            continue
        if show == "pending" and not line.status.delivery_pending:
            continue
        lines.append(line)
    return lines


def rooms_page(db: Database, *, query: str, show: str) -> list[RoomLine]:
    """Read and join everything the rooms page shows."""
    from otj.console.cache import config_cache

    statuses = db.rooms.status(assignments=config_cache(db).assignments())
    return room_lines(statuses, db.delivery.all(), db.alarms.active(), query=query, show=show)


def why_no_join(meeting: Meeting) -> str:
    """Why this meeting has no Join button (blank when it has one)."""
    if not meeting.listed:
        return f"not shown on the endpoint: {meeting.unlisted_reason or 'not listed'}"
    if meeting.alias:
        return ""
    if meeting.join_url:
        return "no SIP alias; the endpoint joins natively (WebRTC) with the meeting's URL"
    failed = [t for t in meeting.trace if t.outcome == "error"]
    if failed:
        return "a rule failed: " + "; ".join(f"{t.rule}: {t.detail}" for t in failed)
    tried = [t for t in meeting.trace if t.outcome == "no_match"]
    if not tried:
        return "no enabled meeting processing rule applies to this room's profile"
    return "no rule found a video address in the invitation: " + "; ".join(
        f"{t.rule}: {t.detail}" for t in tried
    )


def room_meetings(
    db: Database, room: str, *, now: datetime, include_unlisted: bool
) -> tuple[RoomStatus | None, Sequence[Meeting]]:
    """A room's status and its meetings from a day ago to the end of its profile's window."""
    from otj.console.cache import config_cache

    room = room.strip().lower()
    assignments = config_cache(db).assignments()
    status = next((s for s in db.rooms.status(assignments=assignments) if s.room == room), None)
    if status is None:
        return None, ()
    assignment = next((a for a in assignments if a.room == room), None)
    days = assignment.profile.display_upcoming_meetings if assignment else 7
    meetings = db.meetings.list(
        room,
        start=now - timedelta(days=1),
        end=now + timedelta(days=days),
        listed_only=not include_unlisted,
        with_trace=True,
    )
    return status, meetings
