"""The rooms' delivery mark: set when a poll changes what a room's endpoints show, cleared by
the delivery that sent it unless the room changed again meanwhile (its generation moved on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from otj.store.tables.calendars import RoomRow
from otj.store.values import PendingRoom

if TYPE_CHECKING:
    from otj.store.db import Database


class RoomDeliveryMarks:
    """Which rooms are due for delivery, and the listing markers cached documents check."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
