"""Push subscription leases and the notification queue (several worker processes).

A worker process holds a room's push subscription while its lease in ``push_leases`` is live;
it renews every lease it holds on each tick, and a process that died loses them when they
expire: the next process to claim them takes the rooms over. The row also carries the
subscription's id, state and token hash, so any API process can authenticate a notification
and queue it in ``push_notifications`` for the holder, which takes its rows (PostgreSQL wakes it
with ``NOTIFY``; SQLite is polled).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, text, update

from otj.store.tables.calendars import PushLeaseRow, PushNotificationRow

if TYPE_CHECKING:
    from otj.store.db import Database

NOTIFY_CHANNEL = "otj_push"
"""PostgreSQL ``LISTEN`` channel; the payload is the owner whose queue grew."""
QUEUE_KEEP = timedelta(minutes=10)
"""Queued notifications nobody took within this time (no live holder) are dropped."""
_CHUNK = 500


def token_hash(token: str) -> str:
    """The SHA-256 (hex) stored for a subscription token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class PushLease:
    """One room's row: who holds the subscription, until when, and the subscription."""

    room: str
    kind: str
    owner: str | None
    lease_expires_at: datetime | None
    state: str
    channel_id: str
    resource_id: str
    channel_expires_at: datetime | None
    token_sha256: str = field(repr=False)
    reason: str

    def live(self, now: datetime) -> bool:
        """Held by a process whose lease has not expired."""
        return self.owner is not None and (
            self.lease_expires_at is not None and now < self.lease_expires_at
        )

    def healthy(self, now: datetime) -> bool:
        """Held, subscribed and the subscription not expired."""
        return (
            self.live(now)
            and self.state == "healthy"
            and self.channel_expires_at is not None
            and now < self.channel_expires_at
        )


def _lease(row: PushLeaseRow) -> PushLease:
    return PushLease(
        room=row.room,
        kind=row.kind,
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
        state=row.state,
        channel_id=row.channel_id,
        resource_id=row.resource_id,
        channel_expires_at=row.channel_expires_at,
        token_sha256=row.token_sha256,
        reason=row.reason,
    )


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class PushRepository:
    """Claim, renew and release push leases; publish subscription state; queue notifications."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- leases -------------------------------------------------------------------------------

    def claim(
        self, kinds: dict[str, str], *, owner: str, ttl: timedelta, now: datetime
    ) -> dict[str, PushLease]:
        """Take or renew the lease of each room in ``kinds`` (room → push kind) that nobody
        else holds live; returns the rooms ``owner`` holds afterwards (of those asked for)."""
        rooms = sorted(kinds)
        if not rooms:
            return {}
        held: dict[str, PushLease] = {}
        with self._db.transaction() as session:
            for chunk in _chunks(rooms):
                present = set(
                    session.scalars(select(PushLeaseRow.room).where(PushLeaseRow.room.in_(chunk)))
                )
                missing = [{"room": r, "kind": kinds[r]} for r in chunk if r not in present]
                if missing:
                    session.execute(_insert_ignore(session), missing)
                session.execute(
                    update(PushLeaseRow)
                    .where(
                        PushLeaseRow.room.in_(chunk),
                        or_(
                            PushLeaseRow.owner.is_(None),
                            PushLeaseRow.owner == owner,
                            PushLeaseRow.lease_expires_at < now,
                        ),
                    )
                    .values(owner=owner, lease_expires_at=now + ttl)
                    .execution_options(synchronize_session=False)
                )
                for row in session.scalars(
                    select(PushLeaseRow).where(
                        PushLeaseRow.room.in_(chunk), PushLeaseRow.owner == owner
                    )
                ):
                    held[row.room] = _lease(row)
        return held

    def publish(
        self,
        room: str,
        *,
        owner: str,
        kind: str,
        state: str,
        channel_id: str = "",
        resource_id: str = "",
        channel_expires_at: datetime | None = None,
        token: str | None = None,
        reason: str = "",
    ) -> bool:
        """Record the subscription of a room ``owner`` holds (False: the lease is gone).
        ``token`` None keeps the stored hash (a renewal)."""
        values: dict[str, Any] = {
            "kind": kind,
            "state": state,
            "channel_id": channel_id,
            "resource_id": resource_id,
            "channel_expires_at": channel_expires_at,
            "reason": reason,
        }
        if token is not None:
            values["token_sha256"] = token_hash(token) if token else ""
        with self._db.transaction() as session:
            result = session.execute(
                update(PushLeaseRow)
                .where(PushLeaseRow.room == room, PushLeaseRow.owner == owner)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(result, "rowcount", 0))

    def validating(self, room: str, *, owner: str, until: datetime | None) -> None:
        """Mark (or unmark) the room's subscription as being opened: any API process then
        answers the service's validation request (Graph ``validationToken``)."""
        with self._db.transaction() as session:
            session.execute(
                update(PushLeaseRow)
                .where(PushLeaseRow.room == room, PushLeaseRow.owner == owner)
                .values(validating_until=until)
                .execution_options(synchronize_session=False)
            )

    def expects_validation(self, kind: str, *, now: datetime) -> bool:
        """True while some process is opening a subscription of ``kind``."""
        with self._db.reading() as session:
            found = session.scalar(
                select(PushLeaseRow.room)
                .where(PushLeaseRow.kind == kind, PushLeaseRow.validating_until > now)
                .limit(1)
            )
        return found is not None

    def release(self, rooms: Collection[str] | None = None, *, owner: str) -> int:
        """Give back ``owner``'s leases (all without ``rooms``) after unsubscribing them."""
        cleared = {
            "owner": None,
            "lease_expires_at": None,
            "state": "unsubscribed",
            "channel_id": "",
            "resource_id": "",
            "channel_expires_at": None,
            "token_sha256": "",
            "validating_until": None,
        }
        count = 0
        with self._db.transaction() as session:
            groups = [None] if rooms is None else _chunks(sorted(rooms))
            for chunk in groups:
                statement = update(PushLeaseRow).where(PushLeaseRow.owner == owner)
                if chunk is not None:
                    statement = statement.where(PushLeaseRow.room.in_(chunk))
                result = session.execute(
                    statement.values(**cleared).execution_options(synchronize_session=False)
                )
                count += int(getattr(result, "rowcount", 0) or 0)
        return count

    def find(self, kind: str, channel_id: str) -> PushLease | None:
        """The room whose current subscription of ``kind`` has this id."""
        if not channel_id:
            return None
        with self._db.reading() as session:
            row = session.scalars(
                select(PushLeaseRow).where(
                    PushLeaseRow.kind == kind, PushLeaseRow.channel_id == channel_id
                )
            ).first()
            return _lease(row) if row is not None else None

    def leases(self) -> dict[str, PushLease]:
        """Every room's row (for ``otj status rooms`` and the poll intervals)."""
        with self._db.reading() as session:
            return {row.room: _lease(row) for row in session.scalars(select(PushLeaseRow))}

    # --- the notification queue ---------------------------------------------------------------

    def enqueue(self, room: str, event: str, *, now: datetime) -> None:
        """Queue a notification for whoever holds ``room`` (and wake it on PostgreSQL)."""
        with self._db.transaction() as session:
            session.add(PushNotificationRow(room=room, event=event, received_at=now))
            if session.get_bind().dialect.name == "postgresql":
                owner = session.scalar(select(PushLeaseRow.owner).where(PushLeaseRow.room == room))
                session.execute(
                    text("SELECT pg_notify(:channel, :owner)"),
                    {"channel": NOTIFY_CHANNEL, "owner": owner or ""},
                )

    def take(self, *, owner: str, now: datetime) -> list[tuple[str, str]]:
        """Remove and return ``(room, event)`` queued for the rooms ``owner`` holds live (oldest
        first); drop what waited longer than ``QUEUE_KEEP``."""
        with self._db.transaction() as session:
            rows = session.execute(
                select(PushNotificationRow.id, PushNotificationRow.room, PushNotificationRow.event)
                .join(PushLeaseRow, PushLeaseRow.room == PushNotificationRow.room)
                .where(PushLeaseRow.owner == owner, PushLeaseRow.lease_expires_at > now)
                .order_by(PushNotificationRow.id)
                .limit(5000)
            ).all()
            ids = [row[0] for row in rows]
            for i in range(0, len(ids), _CHUNK):
                session.execute(
                    delete(PushNotificationRow).where(
                        PushNotificationRow.id.in_(ids[i : i + _CHUNK])
                    )
                )
            session.execute(
                delete(PushNotificationRow).where(
                    PushNotificationRow.received_at < now - QUEUE_KEEP
                )
            )
        return [(row[1], row[2]) for row in rows]


def _insert_ignore(session: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on the dialect in use (two processes may race)."""
    from sqlalchemy.dialects import postgresql, sqlite

    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(PushLeaseRow.__table__).on_conflict_do_nothing(index_elements=["room"])
