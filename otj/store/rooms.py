"""Room state: poll schedule, leases, sync state, outcome, and the delivery mark.

Leases let several worker processes share one PostgreSQL database: a worker claims a room with
``SELECT … FOR UPDATE SKIP LOCKED`` (rows another transaction is claiming are skipped, not
waited for) and writes its name and an expiry; a room whose lease expired (its worker died) can
be claimed again. A poll's commit checks the lease is still its own (fencing), so a worker that
lost its lease cannot overwrite a newer sync state. SQLite serialises writers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from otj.model import Meeting
from otj.store.meetings import listing_hash, meeting_columns
from otj.store.storable import clean_text, storable_event_id, storable_meeting
from otj.store.tables.calendars import IntegrationUsageRow, MeetingRow, RoomRow
from otj.store.values import (
    CommitOutcome,
    PendingRoom,
    PollCommit,
    RoomAssignment,
    RoomClaim,
    RoomStatus,
    UsageDay,
)

if TYPE_CHECKING:
    from otj.store.db import Database

log = logging.getLogger(__name__)
_IN_CHUNK = 500
_MEETINGS = cast(Table, MeetingRow.__table__)
# statements built once (the hot path of a no-change poll runs them thousands of times)
_LOCK_ROOM = select(RoomRow).where(RoomRow.room == bindparam("room")).with_for_update()
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
_USAGE = cast(Table, IntegrationUsageRow.__table__)
_UPSERT_USAGE: dict[str, Any] = {}


def _usage_upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE requests = requests + excluded.requests``."""
    statement = _UPSERT_USAGE.get(dialect)
    if statement is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        insert = module.insert(_USAGE).values(
            integration=bindparam("integration"), day=bindparam("day"), requests=bindparam("n")
        )
        statement = insert.on_conflict_do_update(
            index_elements=["integration", "day"],
            set_={"requests": _USAGE.c.requests + insert.excluded.requests},
        )
        _UPSERT_USAGE[dialect] = statement
    return statement


class LeaseLost(RuntimeError):
    """The room's lease now belongs to another worker (ours expired): the poll is discarded."""


def _claim_of(row: RoomRow) -> RoomClaim:
    assert row.lease_owner is not None
    assert row.lease_expires_at is not None
    return RoomClaim(
        room=row.room,
        owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        sync_state=row.sync_state,
        sync_fingerprint=row.sync_fingerprint,
        window_end=row.window_end,
        last_full_sync_at=row.last_full_sync_at,
        consecutive_failures=row.consecutive_failures,
        meetings_hash=row.meetings_hash,
    )


def _claimable(owner: str, now: datetime) -> ColumnElement[bool]:
    return or_(
        RoomRow.lease_owner.is_(None),
        RoomRow.lease_owner == owner,
        RoomRow.lease_expires_at < now,
    )


def _not_deferred(now: datetime) -> ColumnElement[bool]:
    return or_(RoomRow.not_before.is_(None), RoomRow.not_before <= now)


def add_usage(session: Session, integration: str, day: date, requests: int) -> None:
    """Add requests to an integration's daily counter (atomic upsert on both backends)."""
    if requests <= 0:
        return
    dialect = session.get_bind().dialect.name
    session.execute(_usage_upsert(dialect), {"integration": integration, "day": day, "n": requests})


class RoomRepository:
    """Per-room worker state."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _locked(self, session: Session, room: str) -> RoomRow | None:
        return session.scalars(_LOCK_ROOM, {"room": room}).first()

    # --- leases -------------------------------------------------------------------------------

    def claim(
        self,
        room: str,
        *,
        owner: str,
        now: datetime,
        ttl: timedelta,
        early: timedelta = timedelta(0),
        force: bool = False,
    ) -> RoomClaim | None:
        """Lease one room for a poll if it is due (``early`` tolerance) and nobody holds it."""
        conditions = [RoomRow.room == room, _claimable(owner, now)]
        if not force:
            conditions += [
                _not_deferred(now),
                or_(RoomRow.next_poll_at.is_(None), RoomRow.next_poll_at <= now + early),
            ]
        with self._db.transaction() as session:
            row = session.scalars(
                select(RoomRow).where(and_(*conditions)).with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            row.lease_owner = owner
            row.lease_expires_at = now + ttl
            return _claim_of(row)

    def claim_due(
        self,
        *,
        owner: str,
        now: datetime,
        ttl: timedelta,
        limit: int,
        polled_before: datetime | None = None,
        force: bool = False,
        rooms: Sequence[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[RoomClaim]:
        """Lease up to ``limit`` due rooms, most overdue first, skipping rows others lock.

        ``polled_before`` excludes rooms polled since then (one poll per room per cycle);
        ``force`` ignores the schedule (but never another worker's live lease); ``exclude``
        names rooms this worker is polling right now (its own leases are otherwise claimable,
        so that a worker restarted under the same name takes its rooms back at once).
        """
        conditions = [_claimable(owner, now)]
        if not force:
            conditions += [
                _not_deferred(now),
                or_(RoomRow.next_poll_at.is_(None), RoomRow.next_poll_at <= now),
            ]
        if polled_before is not None:
            conditions.append(
                or_(RoomRow.last_poll_at.is_(None), RoomRow.last_poll_at < polled_before)
            )
        if rooms is not None:
            conditions.append(RoomRow.room.in_(list(rooms)))
        if exclude:
            conditions.append(RoomRow.room.not_in(sorted(exclude)))
        with self._db.transaction() as session:
            rows = session.scalars(
                select(RoomRow)
                .where(and_(*conditions))
                .order_by(RoomRow.next_poll_at.asc().nulls_first(), RoomRow.room)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.lease_owner = owner
                row.lease_expires_at = now + ttl
            return [_claim_of(r) for r in rows]

    def release(
        self,
        room: str,
        *,
        owner: str,
        next_poll_at: datetime | None = None,
        not_before: datetime | None = None,
    ) -> None:
        """Give a lease back without recording a poll (e.g. deferred for quota)."""
        values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
        if next_poll_at is not None:
            values["next_poll_at"] = next_poll_at
        if not_before is not None:
            values["not_before"] = not_before
        with self._db.transaction() as session:
            session.execute(
                update(RoomRow)
                .where(RoomRow.room == room, RoomRow.lease_owner == owner)
                .values(**values)
            )

    def release_all(self, *, owner: str) -> int:
        """Release every lease of a worker (clean shutdown)."""
        with self._db.transaction() as session:
            result = session.execute(
                update(RoomRow)
                .where(RoomRow.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # --- poll outcomes ------------------------------------------------------------------------

    def commit_poll(self, commit: PollCommit) -> CommitOutcome:
        """Write a successful poll: meetings, sync state and schedule, in one transaction."""
        with self._db.transaction() as session:
            row = self._locked(session, commit.room)
            if row is None:
                raise LeaseLost(f"{commit.room}: room no longer configured")
            if row.lease_owner != commit.owner:
                raise LeaseLost(f"{commit.room}: lease now held by {row.lease_owner or 'nobody'}")
            upserted, deleted = self._write_meetings(session, commit)
            deleted += self._prune(session, commit.room, commit.window_start)
            pairs = session.execute(
                _LISTED,
                {"room": commit.room, "start": commit.window_start, "end": commit.display_end},
            ).all()
            new_hash = listing_hash((str(e), str(c)) for e, c in pairs)
            changed = new_hash != row.meetings_hash
            row.sync_state = commit.sync_state
            row.sync_fingerprint = commit.sync_fingerprint
            if commit.full:
                row.window_end = commit.window_end
                row.last_full_sync_at = commit.now
            row.next_poll_at = commit.next_poll_at
            row.not_before = None
            row.lease_owner = None
            row.lease_expires_at = None
            row.last_poll_at = commit.now
            row.last_success_at = commit.now
            row.last_error = ""
            row.last_error_kind = ""
            row.consecutive_failures = 0
            row.last_requests = commit.requests
            row.last_duration_ms = commit.duration_ms
            row.polls += 1
            row.meeting_count = len(pairs)
            if changed:
                row.meetings_hash = new_hash
                row.delivery_pending = True
                row.delivery_generation += 1
            if commit.integration:
                add_usage(session, commit.integration, commit.now.date(), commit.requests)
            return CommitOutcome(
                upserted=upserted,
                deleted=deleted,
                listed=len(pairs),
                changed=changed,
                delivery_generation=row.delivery_generation,
            )

    @staticmethod
    def _write_meetings(session: Session, commit: PollCommit) -> tuple[int, int]:
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

    @staticmethod
    def _prune(session: Session, room: str, before: datetime) -> int:
        result = session.execute(_PRUNE, {"room": room, "before": before})
        return int(getattr(result, "rowcount", 0) or 0)

    def record_failure(
        self,
        room: str,
        *,
        owner: str,
        now: datetime,
        kind: str,
        message: str,
        next_poll_at: datetime,
        not_before: datetime | None = None,
        requests: int = 0,
        integration: str | None = None,
        reset_sync: bool = False,
    ) -> int:
        """Record a failed poll and release the lease; returns the consecutive failure count."""
        with self._db.transaction() as session:
            row = self._locked(session, room)
            if row is None or row.lease_owner != owner:
                return 0
            row.lease_owner = None
            row.lease_expires_at = None
            row.last_poll_at = now
            row.last_error = clean_text(message, 4000)
            row.last_error_kind = kind
            row.last_error_at = now
            row.consecutive_failures += 1
            row.polls += 1
            row.last_requests = requests
            row.next_poll_at = next_poll_at
            row.not_before = not_before
            if reset_sync:
                row.sync_state = None
            if integration:
                add_usage(session, integration, now.date(), requests)
            return row.consecutive_failures

    def request_full_sync(self, room: str | None = None) -> int:
        """Forget sync states (of one room or all): the next poll reads the whole window."""
        with self._db.transaction() as session:
            query = update(RoomRow).values(sync_state=None, next_poll_at=None, not_before=None)
            if room is not None:
                query = query.where(RoomRow.room == room.lower())
            return int(getattr(session.execute(query), "rowcount", 0) or 0)

    # --- delivery marks -----------------------------------------------------------------------

    def pending_delivery(self) -> list[PendingRoom]:
        """Rooms whose listed meetings changed since their last successful delivery."""
        with self._db.reading() as session:
            rows = session.execute(
                select(RoomRow.room, RoomRow.delivery_generation, RoomRow.meetings_hash)
                .where(RoomRow.delivery_pending.is_(True))
                .order_by(RoomRow.room)
            ).all()
            return [PendingRoom(room=r, generation=g, meetings_hash=h) for r, g, h in rows]

    def read_at_least_once(self) -> set[str]:
        """Rooms whose calendar has been read successfully at least once.

        Delivery never pushes a room before this: an empty list sent to a codec whose room was
        never read would wipe the bookings it shows.
        """
        with self._db.reading() as session:
            return set(
                session.scalars(select(RoomRow.room).where(RoomRow.last_success_at.is_not(None)))
            )

    def listing_marker(self, room: str) -> str | None:
        """The hash of the room's listed meetings (changes whenever what endpoints show
        changes; ``None`` for an unknown room): a cheap validator for cached documents."""
        with self._db.reading() as session:
            value = session.scalar(
                select(RoomRow.meetings_hash).where(RoomRow.room == room.lower())
            )
            return None if value is None else str(value)

    def listing_markers(self) -> dict[str, str]:
        """``listing_marker`` of every room in one query (by lower-case room)."""
        with self._db.reading() as session:
            return {
                str(room): str(value)
                for room, value in session.execute(select(RoomRow.room, RoomRow.meetings_hash))
            }

    def mark_delivered(self, room: str, generation: int) -> bool:
        """Clear the mark unless the room changed again meanwhile (generation moved on)."""
        with self._db.transaction() as session:
            result = session.execute(
                update(RoomRow)
                .where(RoomRow.room == room, RoomRow.delivery_generation == generation)
                .values(delivery_pending=False)
            )
            return bool(getattr(result, "rowcount", 0))

    def mark_delivered_many(self, generations: Mapping[str, int]) -> list[str]:
        """``mark_delivered`` for many rooms in one transaction; returns the rooms cleared."""
        cleared = []
        with self._db.transaction() as session:
            for room, generation in generations.items():
                result = session.execute(
                    update(RoomRow)
                    .where(RoomRow.room == room, RoomRow.delivery_generation == generation)
                    .values(delivery_pending=False)
                )
                if getattr(result, "rowcount", 0):
                    cleared.append(room)
        return cleared

    def mark_pending(self, room: str) -> None:
        """Ask for a re-delivery (device reported SyncRequired, came back after an outage)."""
        with self._db.transaction() as session:
            session.execute(
                update(RoomRow)
                .where(RoomRow.room == room.lower())
                .values(delivery_pending=True, delivery_generation=RoomRow.delivery_generation + 1)
            )

    # --- reading ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every configured room."""
        with self._db.reading() as session:
            return list(session.scalars(select(RoomRow.room).order_by(RoomRow.room)))

    def status(self, *, assignments: Sequence[RoomAssignment] | None = None) -> list[RoomStatus]:
        """Every room's status line, joined with its endpoints, profile and integration
        (``assignments``: the configuration's, when the caller has them already)."""
        if assignments is None:
            assignments = self._db.config.room_assignments(secrets="sealed")
        by_room = {a.room: a for a in assignments}
        with self._db.reading() as session:
            # plain rows, not ORM objects: a quarter of the time for thousands of rooms
            rows = session.execute(select(*RoomRow.__table__.columns).order_by(RoomRow.room))
            rows = rows.all()  # type: ignore[assignment]
        out = []
        for row in rows:
            a = by_room.get(row.room)
            out.append(
                RoomStatus(
                    room=row.room,
                    endpoints=a.endpoints if a else (),
                    profile=a.profile.name if a else "",
                    integration=a.integration.name if a and a.integration else "",
                    last_poll_at=row.last_poll_at,
                    last_success_at=row.last_success_at,
                    next_poll_at=row.next_poll_at,
                    meetings=row.meeting_count,
                    last_error=row.last_error,
                    last_error_kind=row.last_error_kind,
                    last_error_at=row.last_error_at,
                    consecutive_failures=row.consecutive_failures,
                    polls=row.polls,
                    last_requests=row.last_requests,
                    last_duration_ms=row.last_duration_ms,
                    full_sync=row.sync_state is None,
                    delivery_pending=row.delivery_pending,
                    leased_by=row.lease_owner,
                )
            )
        return out

    def sync_state(self, room: str) -> str | None:
        """The stored sync state of a room."""
        with self._db.reading() as session:
            return session.scalar(select(RoomRow.sync_state).where(RoomRow.room == room.lower()))

    # --- request quota ------------------------------------------------------------------------

    def usage(self, integration: str, day: date) -> UsageDay:
        """Requests made to an integration on a UTC day (every worker process counted)."""
        with self._db.reading() as session:
            count = session.scalar(
                select(func.coalesce(func.sum(IntegrationUsageRow.requests), 0)).where(
                    IntegrationUsageRow.integration == integration,
                    IntegrationUsageRow.day == day,
                )
            )
            return UsageDay(integration=integration, day=day, requests=int(count or 0))

    def add_usage(self, integration: str, day: date, requests: int) -> None:
        """Count requests made outside a poll commit."""
        with self._db.transaction() as session:
            add_usage(session, integration, day, requests)
