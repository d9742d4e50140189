"""The worker's delivery plug-in point.

After polls change a room's listed meetings, the room is marked pending in the store and the
worker calls ``Deliverer.deliver_pending(now=…)``. The delivery engine
(``otj.delivery.engine.runner.DeliveryRunner``) implements it: it reads
``db.rooms.pending_delivery()``, pushes to the room's endpoints and clears the mark with
``db.rooms.mark_delivered(room, generation)``.
``otj worker --no-delivery`` uses ``NoDelivery``, which leaves rooms pending (the pull API still
serves the meetings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from otj.delivery.engine.runner import DeliveryRunner

if TYPE_CHECKING:
    from otj.store import Database


class DeliverySummary(Protocol):
    """What the worker reads from a delivery report."""

    @property
    def considered(self) -> int:
        """Endpoints looked at."""
        ...

    @property
    def pushed(self) -> int:
        """Endpoints that received a new booking list."""
        ...

    @property
    def failed(self) -> int:
        """Endpoints whose delivery failed."""
        ...


class Deliverer(Protocol):
    """Pushes the meetings of rooms marked pending to their endpoints."""

    def deliver_pending(self, *, now: datetime) -> DeliverySummary:
        """One delivery cycle; returns its report."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class NoDeliveryReport:
    """The report of ``NoDelivery``: nothing considered, nothing pushed."""

    considered: int = 0
    pushed: int = 0
    failed: int = 0


class NoDelivery:
    """A deliverer that delivers nothing and leaves every room pending."""

    def deliver_pending(self, *, now: datetime) -> NoDeliveryReport:
        """Do nothing."""
        return NoDeliveryReport()

    def close(self) -> None:
        """Nothing to close."""


def default_deliverer(db: Database, **options: Any) -> Deliverer:
    """The delivery engine: ``otj.delivery.engine.runner.DeliveryRunner(db, **options)``."""
    return DeliveryRunner(db, **options)
