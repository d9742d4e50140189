"""A token bucket per calendar integration: spreads requests and enforces the daily quota
(``DailyQuotas``: the buckets and today's counts of one worker process)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
ALARM_SHARE = 0.8
USAGE_REFRESH = timedelta(seconds=30)


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


@dataclass(slots=True)
class _Usage:
    day: date
    stored: int
    local: int = 0
    read_at: datetime | None = None
    alarmed: bool = False


class Alarm(Protocol):
    """Raises an alarm on a subject (the poller's, which logs what it cannot store)."""

    def __call__(
        self,
        kind: str,
        subject: str,
        message: str,
        now: datetime,
        *,
        critical: bool = False,
        severity_warning: bool = False,
    ) -> None: ...


class DailyQuotas:
    """Each integration's requests in this worker process: a token bucket paces them and
    today's count (shared through the store, re-read every ``USAGE_REFRESH``) stops them at
    the daily quota, with an alarm at 80 % and one when it is used up. Thread-safe."""

    def __init__(self, db: Database, alarm: Alarm) -> None:
        self._db = db
        self._alarm = alarm
        self._buckets: dict[str, TokenBucket] = {}
        self._usage_today: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    def _usage(self, integration: str, now: datetime) -> _Usage:
        """Today's usage (shared through the store, re-read every 30 s); caller holds the lock."""
        today = now.date()
        usage = self._usage_today.get(integration)
        if (
            usage is None
            or usage.day != today
            or (usage.read_at is not None and now - usage.read_at > USAGE_REFRESH)
        ):
            stored = self._db.rooms.usage(integration, today).requests
            alarmed = usage.alarmed if usage is not None and usage.day == today else False
            usage = _Usage(day=today, stored=stored, read_at=now, alarmed=alarmed)
            self._usage_today[integration] = usage
        return usage

    def reserve(self, integration: str, quota: int, now: datetime) -> float:
        """Seconds to wait before this integration may be called (0 = go ahead)."""
        if not integration:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(integration)
            if bucket is None or bucket.daily_quota != quota:
                bucket = TokenBucket.for_quota(quota, now=now)
                self._buckets[integration] = bucket
            usage = self._usage(integration, now)
            used = usage.stored + usage.local
        if used >= quota:
            midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
            self._alarm(
                "quota_exhausted",
                integration,
                f"daily request quota of {quota} used up ({used} requests today)",
                now,
                critical=True,
            )
            return max(1.0, (midnight - now).total_seconds())
        return bucket.try_take(now)

    def charge(self, integration: str, now: datetime, requests: int) -> None:
        """Count requests made (the first was taken by ``reserve``); alarms at 80 %."""
        if not integration:
            return
        with self._lock:
            bucket = self._buckets.get(integration)
            if bucket is not None:
                bucket.charge(now, requests - 1)
            usage = self._usage(integration, now)
            usage.local += requests
            used = usage.stored + usage.local
            quota = bucket.daily_quota if bucket else 0
            raise_alarm = quota_alarm_due(used, quota) and not usage.alarmed
            if raise_alarm:
                usage.alarmed = True
        if raise_alarm:
            log.warning("integration %s: %d of %d daily requests used", integration, used, quota)
            self._alarm(
                "quota",
                integration,
                f"{used} of the daily request quota of {quota} used (80 % reached)",
                now,
                severity_warning=True,
            )
