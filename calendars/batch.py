"""Optional batching interface: sources that can sync many rooms in fewer HTTP requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from calendars.base import CalendarError, SyncResult


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncRequest:
    """One room's ``sync`` arguments, for ``BatchingCalendarSource.sync_batch``."""

    room: str
    start: datetime
    end: datetime
    state: str | None = None


@runtime_checkable
class BatchingCalendarSource(Protocol):
    """A source that can sync several rooms at once (Google ``multipart/mixed`` batches)."""

    def sync_batch(self, requests: Sequence[SyncRequest]) -> list[SyncResult | CalendarError]:
        """Sync each room; results (or that room's error) in the order of ``requests``."""
        ...
