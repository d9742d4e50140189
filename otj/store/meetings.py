"""Processed meetings per room: conversion to and from rows, content hashes, queries."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, select
from sqlalchemy.orm import Session

from otj.model import CallProtocol, Meeting, Platform, TraceStep
from otj.store.storable import storable_event_id, storable_meeting
from otj.store.tables.calendars import MeetingRow
from otj.store.values import PollCommit

if TYPE_CHECKING:
    from otj.store.db import Database


log = logging.getLogger(__name__)
_IN_CHUNK = 500
_MEETINGS = cast(Table, MeetingRow.__table__)
# statements built once (the hot path of a no-change poll runs them thousands of times)
_PRUNE = _MEETINGS.delete().where(
    _MEETINGS.c.room == bindparam("room"), _MEETINGS.c.end <= bindparam("before")
)
_LISTED = (
    select(_MEETINGS.c.event_id, _MEETINGS.c.content_hash)
    .where(
        _MEETINGS.c.room == bindparam("room"),
        _MEETINGS.c.listed.is_(True),
        _MEETINGS.c.end > bindparam("start"),
        _MEETINGS.c.start < bindparam("end"),
    )
    .order_by(_MEETINGS.c.start, _MEETINGS.c.event_id)
)


def _iso(value: datetime) -> str:
    return value.isoformat()


def meeting_content_hash(meeting: Meeting) -> str:
    """SHA-256 of what an endpoint would show for the meeting (the trace is not part of it)."""
    data = [
        meeting.event_id,
        meeting.ical_uid,
        meeting.subject,
        meeting.organizer_name,
        meeting.organizer_email,
        _iso(meeting.start),
        _iso(meeting.end),
        _iso(meeting.join_from),
        _iso(meeting.join_until),
        meeting.alias,
        meeting.protocol.value,
        meeting.platform.value,
        meeting.rule,
        meeting.private,
        meeting.listed,
        meeting.unlisted_reason,
    ]
    if meeting.join_url:  # only then: the hashes of meetings without one stay as they were
        data.append(meeting.join_url)
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


def listing_hash(items: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over a room's listed meetings as ``(event_id, content_hash)`` pairs, in order."""
    digest = hashlib.sha256()
    for event_id, content in items:
        digest.update(event_id.encode())
        digest.update(b"\0")
        digest.update(content.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def trace_to_json(trace: Sequence[TraceStep]) -> list[dict[str, Any]]:
    """The trace as JSON-serialisable dicts."""
    return [
        {"rule": t.rule, "meeting_type": t.meeting_type, "outcome": t.outcome, "detail": t.detail}
        for t in trace
    ]


def meeting_columns(meeting: Meeting) -> dict[str, Any]:
    """Column values of a meeting row (without room, timestamps and id)."""
    return {
        "event_id": meeting.event_id,
        "ical_uid": meeting.ical_uid,
        "subject": meeting.subject,
        "organizer_name": meeting.organizer_name,
        "organizer_email": meeting.organizer_email,
        "start": meeting.start,
        "end": meeting.end,
        "join_from": meeting.join_from,
        "join_until": meeting.join_until,
        "alias": meeting.alias,
        "protocol": meeting.protocol.value,
        "platform": meeting.platform.value,
        "rule": meeting.rule,
        "private": meeting.private,
        "listed": meeting.listed,
        "unlisted_reason": meeting.unlisted_reason,
        "trace": trace_to_json(meeting.trace),
        "content_hash": meeting_content_hash(meeting),
        "join_url": meeting.join_url,
    }


def row_to_meeting(row: MeetingRow, *, with_trace: bool = True) -> Meeting:
    """The frozen ``Meeting`` of a row."""
    trace = (
        tuple(
            TraceStep(
                rule=str(t.get("rule", "")),
                meeting_type=str(t.get("meeting_type", "")),
                outcome=cast(Any, t.get("outcome", "no_match")),
                detail=str(t.get("detail", "")),
            )
            for t in row.trace
        )
        if with_trace
        else ()
    )
    return Meeting(
        room=row.room,
        event_id=row.event_id,
        ical_uid=row.ical_uid,
        subject=row.subject,
        organizer_name=row.organizer_name,
        organizer_email=row.organizer_email,
        start=row.start,
        end=row.end,
        join_from=row.join_from,
        join_until=row.join_until,
        alias=row.alias,
        protocol=CallProtocol(row.protocol),
        platform=Platform(row.platform),
        rule=row.rule,
        private=row.private,
        listed=row.listed,
        unlisted_reason=row.unlisted_reason,
        trace=trace,
        join_url=row.join_url or "",
    )


def write_poll_meetings(session: Session, commit: PollCommit) -> tuple[int, int]:
    """Write a poll's meetings (all of them for a full sync, else the changes); returns how
    many rows were upserted and deleted."""
    if not commit.full and not commit.meetings and not commit.removed_event_ids:
        return 0, 0
    wanted: dict[str, Meeting] = {}
    for meeting in commit.meetings:
        stored = storable_meeting(meeting)
        if stored is not meeting:
            log.warning(
                "%s: event %r has text no database column takes: stored cleaned",
                commit.room,
                meeting.event_id[:200],
            )
        wanted[stored.event_id] = stored
    removed = [storable_event_id(e) for e in commit.removed_event_ids]
    query = select(MeetingRow).where(MeetingRow.room == commit.room)
    existing: dict[str, MeetingRow] = {}
    if commit.full:
        existing = {r.event_id: r for r in session.scalars(query)}
    else:
        ids = sorted(set(wanted) | set(removed))
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            existing.update(
                (r.event_id, r)
                for r in session.scalars(query.where(MeetingRow.event_id.in_(chunk)))
            )
    upserted = 0
    for event_id, meeting in wanted.items():
        columns = meeting_columns(meeting)
        row = existing.get(event_id)
        if row is None:
            session.add(MeetingRow(room=commit.room, updated_at=commit.now, **columns))
            upserted += 1
        elif row.content_hash != columns["content_hash"] or row.trace != columns["trace"]:
            for key, value in columns.items():
                setattr(row, key, value)
            row.updated_at = commit.now
            upserted += 1
    if commit.full:
        doomed = [r for e, r in existing.items() if e not in wanted]
    else:
        doomed = [existing[e] for e in removed if e in existing and e not in wanted]
    for row in doomed:
        session.delete(row)
    session.flush()
    return upserted, len(doomed)


def prune_ended(session: Session, room: str, before: datetime) -> int:
    """Delete the room's meetings that ended by ``before``; returns how many."""
    result = session.execute(_PRUNE, {"room": room, "before": before})
    return int(getattr(result, "rowcount", 0) or 0)


def listed_in_window(
    session: Session, room: str, *, start: datetime, end: datetime
) -> list[tuple[str, str]]:
    """``(event_id, content_hash)`` of the room's listed meetings overlapping the window."""
    rows = session.execute(_LISTED, {"room": room, "start": start, "end": end})
    return [(str(event_id), str(content_hash)) for event_id, content_hash in rows]


class MeetingRepository:
    """Reads a room's meetings (writes happen in ``RoomRepository.commit_poll``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list(
        self,
        room: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        listed_only: bool = False,
        with_trace: bool = True,
    ) -> list[Meeting]:
        """Meetings of a room overlapping ``[start, end)`` (either bound optional), by start."""
        conditions: list[ColumnElement[bool]] = [MeetingRow.room == room.lower()]
        if start is not None:
            conditions.append(MeetingRow.end > start)
        if end is not None:
            conditions.append(MeetingRow.start < end)
        if listed_only:
            conditions.append(MeetingRow.listed.is_(True))
        with self._db.reading() as session:
            rows = session.scalars(
                select(MeetingRow)
                .where(and_(*conditions))
                .order_by(MeetingRow.start, MeetingRow.event_id)
            )
            return [row_to_meeting(r, with_trace=with_trace) for r in rows]

    def get(self, room: str, event_id: str) -> Meeting | None:
        """One meeting by its event id."""
        with self._db.reading() as session:
            row = session.scalars(
                select(MeetingRow).where(
                    MeetingRow.room == room.lower(), MeetingRow.event_id == event_id
                )
            ).first()
            return row_to_meeting(row) if row else None

    def last_updated(self, room: str) -> datetime | None:
        """When the room's stored meetings last changed (the newest row's ``updated_at``)."""
        with self._db.reading() as session:
            value = session.scalar(
                select(func.max(MeetingRow.updated_at)).where(MeetingRow.room == room.lower())
            )
            return value if isinstance(value, datetime) else None

    def count(self, room: str | None = None) -> int:
        """Number of stored meetings (of one room when given)."""
        query = select(func.count()).select_from(MeetingRow)
        if room is not None:
            query = query.where(MeetingRow.room == room.lower())
        with self._db.reading() as session:
            return int(session.scalar(query) or 0)
