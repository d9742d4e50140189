"""Call licences: each gatewayed call holds two of ``call_licenses`` (one per leg)."""

from __future__ import annotations

PER_CALL = 2


class Licences:
    """Counts the licences held by live calls."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._held: set[str] = set()

    def acquire(self, key: str) -> bool:
        """Take two licences for a call; False when that would exceed the total."""
        if key in self._held:
            return True
        if (len(self._held) + 1) * PER_CALL > self.total:
            return False
        self._held.add(key)
        return True

    def release(self, key: str) -> None:
        """Give a call's licences back (idempotent)."""
        self._held.discard(key)

    @property
    def in_use(self) -> int:
        """Licences held now."""
        return len(self._held) * PER_CALL
