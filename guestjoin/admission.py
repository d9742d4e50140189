"""Calls in progress per source address (PURE): no source may hold more than its share.

A source that sends INVITEs and never ends them (no ACK, no BYE) would otherwise hold every
call licence; ``gateway.max_calls_per_source`` bounds what one address can hold. The gateway's
first line of defence stays ``gateway.allowed_sources``.
"""

from __future__ import annotations


class SourceCounter:
    """Counts live calls by source address; ``acquire`` refuses beyond a limit."""

    def __init__(self) -> None:
        self._source_of: dict[str, str] = {}  # call key → source address
        self._counts: dict[str, int] = {}

    def acquire(self, source: str, key: str, limit: int) -> bool:
        """Count call ``key`` against ``source``; False when ``source`` already holds ``limit``
        calls (``limit`` 0 = unlimited). Idempotent for the same key."""
        if key in self._source_of:
            return True
        held = self._counts.get(source, 0)
        if limit > 0 and held >= limit:
            return False
        self._source_of[key] = source
        self._counts[source] = held + 1
        return True

    def release(self, key: str) -> None:
        """The call ``key`` ended (idempotent; unknown keys are ignored)."""
        source = self._source_of.pop(key, None)
        if source is None:
            return
        left = self._counts[source] - 1
        if left:
            self._counts[source] = left
        else:
            del self._counts[source]

    def held(self, source: str) -> int:
        """Calls in progress from ``source``."""
        return self._counts.get(source, 0)

    def __len__(self) -> int:
        """Calls counted, over every source."""
        return len(self._source_of)
