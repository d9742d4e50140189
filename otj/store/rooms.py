"""Room state: poll schedule, leases, sync state and outcome (the delivery mark: ``room_marks``).

Leases let several worker processes share one PostgreSQL database: a worker claims a room with
``SELECT … FOR UPDATE SKIP LOCKED`` (rows another transaction is claiming are skipped, not
waited for) and writes its name and an expiry; a room whose lease expired (its worker died) can
be claimed again. A poll's commit checks the lease is still its own (fencing), so a worker that
lost its lease cannot overwrite a newer sync state. SQLite serialises writers instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from otj.store.meetings import listed_in_window, listing_hash, prune_ended, write_poll_meetings
from otj.store.room_marks import RoomDeliveryMarks
from otj.store.tables.calendars import RoomRow
from otj.store.usage import add_usage, requests_on
from otj.store.values import (
    CommitOutcome,
    PollCommit,
    RoomAssignment,
    RoomClaim,
    RoomStatus,
    UsageDay,
)

# built once (the hot path of a no-change poll runs it thousands of times)
_LOCK_ROOM = select(RoomRow).where(RoomRow.room == bindparam("room")).with_for_update()

#: Characters of a poll error kept (messages quote servers; the rest of a page helps nobody).
LAST_ERROR = 4000


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


class RoomRepository(RoomDeliveryMarks):
    """Per-room worker state (the delivery marks: ``otj.store.room_marks``)."""

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
            upserted, deleted = write_poll_meetings(session, commit)
            deleted += prune_ended(session, commit.room, commit.window_start)
            pairs = listed_in_window(
                session, commit.room, start=commit.window_start, end=commit.display_end
            )
            new_hash = listing_hash(pairs)
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
            row.last_error = message[:LAST_ERROR]
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
            requests = requests_on(session, integration, day)
            return UsageDay(integration=integration, day=day, requests=requests)

    def add_usage(self, integration: str, day: date, requests: int) -> None:
        """Count requests made outside a poll commit."""
        with self._db.transaction() as session:
            add_usage(session, integration, day, requests)
