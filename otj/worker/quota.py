"""A token bucket per calendar integration: spreads requests and enforces the daily quota."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

SECONDS_PER_DAY = 86_400
ALARM_SHARE = 0.8


@dataclass(slots=True)
class TokenBucket:
    """Refills at ``daily_quota / 86400`` tokens per second up to ``capacity`` (thread-safe).

    The capacity (a minute of quota, at least 10) bounds bursts, so a thousand rooms due at
    once are spread over time instead of spending the day's quota in one go. Time is passed in.
    """

    daily_quota: int
    capacity: float
    tokens: float
    updated: datetime
    lock: threading.Lock

    @classmethod
    def for_quota(cls, daily_quota: int, *, now: datetime) -> TokenBucket:
        """A full bucket for a daily quota."""
        rate = daily_quota / SECONDS_PER_DAY
        capacity = max(10.0, rate * 60)
        return cls(
            daily_quota=daily_quota,
            capacity=capacity,
            tokens=capacity,
            updated=now,
            lock=threading.Lock(),
        )

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.daily_quota / SECONDS_PER_DAY

    def _refill(self, now: datetime) -> None:
        elapsed = (now - self.updated).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now

    def try_take(self, now: datetime, amount: float = 1.0) -> float:
        """Take ``amount`` tokens; returns 0 on success, else the seconds until there are enough."""
        with self.lock:
            self._refill(now)
            if self.tokens >= amount:
                self.tokens -= amount
                return 0.0
            return (amount - self.tokens) / self.rate

    def charge(self, now: datetime, amount: float) -> None:
        """Spend tokens after the fact (a poll that made more requests than reserved)."""
        if amount <= 0:
            return
        with self.lock:
            self._refill(now)
            self.tokens -= amount  # may go negative: the debt delays the next polls


def quota_alarm_due(used: int, quota: int) -> bool:
    """True when the day's usage reached 80 % of the quota."""
    return quota > 0 and used >= quota * ALARM_SHARE


@dataclass(frozen=True, kw_only=True, slots=True)
class PollInterval:
    """The poll interval in force for a room, and why."""

    seconds: float
    reason: str


def quota_floor(daily_quota: int, rooms: int, *, share: float = ALARM_SHARE) -> float:
    """The shortest poll interval (s) at which ``rooms`` rooms polled once a request each stay
    within ``share`` of the daily quota (below the 80 % alarm, leaving room for full reads and
    syncs after notifications)."""
    if rooms <= 0 or daily_quota <= 0:
        return 0.0
    return SECONDS_PER_DAY * rooms / (daily_quota * share)


def interval_in_force(
    *,
    poll_interval: float,
    floor: float,
    integration: str,
    rooms: int,
    daily_quota: int,
    safety: float | None = None,
) -> PollInterval:
    """The room's interval: the profile's, raised to the quota floor, relaxed to the safety
    net (``safety``, given while its push subscription is healthy)."""
    if floor > poll_interval:
        seconds = floor
        reason = (
            f"quota: {daily_quota:,} requests/day of {integration} for {rooms} room(s) allow "
            f"one poll per {floor:.0f} s (poll_interval {poll_interval:.0f} s)"
        )
    else:
        seconds = poll_interval
        reason = f"profile poll_interval {poll_interval:.0f} s"
    if safety is not None and safety > seconds:
        return PollInterval(
            seconds=safety,
            reason=f"push notifications healthy: notification_safety_poll {safety:.0f} s",
        )
    return PollInterval(seconds=seconds, reason=reason)
