"""Calendar state: rooms (sync state, schedule, lease), their meetings, integration usage
and push subscriptions with the notifications waiting for them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from otj.store.tables.base import EMAIL, EVENT_ID, NAME, Base, Json


class RoomRow(Base):
    """A room calendar the worker polls: sync state, schedule, lease and last outcome."""

    __tablename__ = "rooms"

    room: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    sync_state: Mapped[str | None] = mapped_column(Text, nullable=True)
    sync_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    window_end: Mapped[datetime | None] = mapped_column(nullable=True)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    not_before: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_kind: Mapped[str] = mapped_column(String(32), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_requests: Mapped[int] = mapped_column(Integer, default=0)
    last_duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    meeting_count: Mapped[int] = mapped_column(Integer, default=0)
    meetings_hash: Mapped[str] = mapped_column(String(64), default="")
    delivery_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_generation: Mapped[int] = mapped_column(Integer, default=0)


class MeetingRow(Base):
    """One processed calendar event of a room (listed or not), with its rule trace."""

    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("room", "event_id", name="uq_meetings_room_event"),
        Index("ix_meetings_room_start", "room", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(EMAIL), ForeignKey("rooms.room", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(EVENT_ID))
    ical_uid: Mapped[str] = mapped_column(String(EVENT_ID), default="")
    subject: Mapped[str] = mapped_column(Text)
    organizer_name: Mapped[str] = mapped_column(Text)
    organizer_email: Mapped[str] = mapped_column(String(EMAIL))
    start: Mapped[datetime]
    end: Mapped[datetime]
    join_from: Mapped[datetime]
    join_until: Mapped[datetime]
    alias: Mapped[str | None] = mapped_column(Text, nullable=True)
    protocol: Mapped[str] = mapped_column(String(8))
    platform: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    private: Mapped[bool] = mapped_column(Boolean)
    listed: Mapped[bool] = mapped_column(Boolean)
    unlisted_reason: Mapped[str] = mapped_column(Text, default="")
    trace: Mapped[list[Json]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    # the native (WebRTC) join URL, blank without one (revision 0007)
    join_url: Mapped[str] = mapped_column(Text, default="", server_default="")


class IntegrationUsageRow(Base):
    """Requests made to one integration on one UTC day (shared by every worker process)."""

    __tablename__ = "integration_usage"

    integration: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class PushLeaseRow(Base):
    """Which worker process holds a room's push subscription (lease) and its state.

    ``token_sha256`` is the SHA-256 of the subscription's secret (Graph ``clientState``, Google
    channel token): any API process can check a notification, none can forge one from the row.
    """

    __tablename__ = "push_leases"

    room: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="")
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="unsubscribed")
    channel_id: Mapped[str] = mapped_column(String(EVENT_ID), default="", index=True)
    resource_id: Mapped[str] = mapped_column(String(EVENT_ID), default="")
    channel_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    token_sha256: Mapped[str] = mapped_column(String(64), default="")
    validating_until: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class PushNotificationRow(Base):
    """An authenticated notification waiting for the worker that holds the room's lease."""

    __tablename__ = "push_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(EMAIL), index=True)
    event: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(index=True)
