"""Lock-out after failed digest authentications, per source address and per user (pure).

As fail2ban does for log lines: ``source_failures`` failures from one address within
``window`` seconds lock that address out for ``lockout`` seconds, whatever user it tries.
``user_failures`` failures for one user (from any addresses: a distributed guesser) lock that
user out, except from addresses it authenticated from before, so that a guesser cannot keep a
room off the gateway. While locked, requests are refused before any digest is computed.
Time is passed in (the registrar's monotonic clock).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class LockoutPolicy:
    """Thresholds (failures within ``window``) and the lock-out length, in seconds."""

    window: float = 60.0
    source_failures: int = 10
    user_failures: int = 20
    lockout: float = 300.0
    known_for: float = 7 * 86400.0  # how long a successful source stays exempt from user locks
    max_tracked: int = 10_000  # addresses and users remembered (oldest forgotten first)

    def __post_init__(self) -> None:
        if self.window <= 0 or self.lockout <= 0:
            raise ValueError("window and lockout must be positive")
        if self.source_failures < 1 or self.user_failures < 1:
            raise ValueError("failure thresholds must be at least 1")


class _Counter:
    """Failure times per key within the window, and lock expiry times."""

    def __init__(self, threshold: int, policy: LockoutPolicy) -> None:
        self.threshold = threshold
        self.policy = policy
        self.failures: dict[str, deque[float]] = {}
        self.locked_until: dict[str, float] = {}

    def locked(self, key: str, now: float) -> float:
        until = self.locked_until.get(key)
        if until is None:
            return 0.0
        if until <= now:
            del self.locked_until[key]
            return 0.0
        return until - now

    def fail(self, key: str, now: float) -> bool:
        """Count a failure; return whether it locks ``key``."""
        times = self.failures.pop(key, None) or deque(maxlen=self.threshold)
        times.append(now)
        if len(times) == self.threshold and now - times[0] <= self.policy.window:
            self.locked_until[key] = now + self.policy.lockout
            return True
        self.failures[key] = times  # re-inserted: most recent last
        self._bound(now)
        return False

    def _bound(self, now: float) -> None:
        limit = self.policy.max_tracked
        if len(self.failures) > limit:
            stale = [k for k, t in self.failures.items() if now - t[-1] > self.policy.window]
            for key in stale:
                del self.failures[key]
            while len(self.failures) > limit:
                del self.failures[next(iter(self.failures))]
        if len(self.locked_until) > limit:
            self.locked_until = {k: u for k, u in self.locked_until.items() if u > now}


class AuthLockout:
    """Failure counts, locks and known good sources of one registrar."""

    def __init__(self, policy: LockoutPolicy | None = None) -> None:
        self.policy = policy or LockoutPolicy()
        self._sources = _Counter(self.policy.source_failures, self.policy)
        self._users = _Counter(self.policy.user_failures, self.policy)
        self._known: dict[tuple[str, str], float] = {}

    def locked(self, source: str, username: str, now: float) -> float:
        """Seconds until ``source`` may try ``username`` again (0: it may now)."""
        wait = self._sources.locked(source, now)
        if username:
            user_wait = self._users.locked(username, now)
            if user_wait and not self._is_known(source, username, now):
                wait = max(wait, user_wait)
        return wait

    def failed(self, source: str, username: str, now: float) -> str:
        """Count a failed authentication; return what it locked (``""``, source, user)."""
        locked = []
        if self._sources.fail(source, now):
            locked.append(f"source {source}")
        if username and self._users.fail(username, now):
            locked.append(f"user {username!r}")
        return " and ".join(locked)

    def succeeded(self, source: str, username: str, now: float) -> None:
        """Remember a source that authenticated as ``username``."""
        self._known.pop((source, username), None)
        self._known[(source, username)] = now
        if len(self._known) > self.policy.max_tracked:
            del self._known[next(iter(self._known))]

    def _is_known(self, source: str, username: str, now: float) -> bool:
        since = self._known.get((source, username))
        return since is not None and now - since <= self.policy.known_for
