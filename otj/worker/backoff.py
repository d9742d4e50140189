"""Retry delays, jittered poll intervals and the APScheduler trigger that uses them (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

MAX_RETRIES = 3
RETRY_BASE = 2.0
RETRY_SHARE = 0.8
"""Retries must fit in this share of the poll interval, so they never overlap the next poll."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPlan:
    """When to try a failed room again: a quick retry, or the next regular poll."""

    retry_in: float | None
    """Seconds until a retry before the next regular poll, or None for no early retry."""
    next_poll_in: float
    """Seconds until the next poll (the retry when there is one)."""
    not_before_in: float | None
    """Seconds during which the server asked not to be called (its Retry-After)."""


def plan_retry(
    *,
    attempt: int,
    retry_after: float | None,
    interval: float,
    rng: random.Random,
    max_retries: int = MAX_RETRIES,
    base: float = RETRY_BASE,
) -> RetryPlan:
    """Back-off for the ``attempt``-th consecutive failure of a room.

    The server's ``retry_after`` is honoured exactly; without one the delay is exponential
    (2, 4, 8 s …) with up to 50 % jitter. Retries are bounded in number and must end well
    inside the poll interval; otherwise the room waits for its next regular poll (or for the
    server's ``retry_after`` when that is later).
    """
    if retry_after is not None and retry_after > 0:
        delay = float(retry_after)
    else:
        delay = base * 2 ** max(0, attempt - 1) * (1 + 0.5 * rng.random())
    hold = float(retry_after) if retry_after and retry_after > 0 else None
    if attempt <= max_retries and delay < interval * RETRY_SHARE:
        return RetryPlan(retry_in=delay, next_poll_in=delay, not_before_in=hold)
    return RetryPlan(retry_in=None, next_poll_in=max(interval, hold or 0.0), not_before_in=hold)


def jitter_for(interval: float) -> float:
    """The jitter of a room's poll interval: 10 % of it, at most 15 s."""
    return min(interval * 0.1, 15.0)


class JitteredInterval(BaseTrigger):  # type: ignore[misc]
    """Fire every ``interval`` seconds ± ``jitter`` (random source injected, so testable)."""

    __slots__ = ("first", "interval", "jitter", "rng")

    def __init__(
        self,
        *,
        interval: float,
        jitter: float,
        first: datetime,
        rng: random.Random | None = None,
    ) -> None:
        self.interval = interval
        self.jitter = jitter
        self.first = first
        self.rng = rng or random.Random()  # noqa: S311 (spreading load, not security)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first run at ``first``; then ``interval`` ± ``jitter`` after the previous run."""
        if previous_fire_time is None:
            return self.first
        offset = self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return previous_fire_time + timedelta(seconds=max(1.0, self.interval + offset))

    def __str__(self) -> str:
        return f"every {self.interval:g}s ±{self.jitter:g}s"

    def __repr__(self) -> str:
        return f"<JitteredInterval interval={self.interval:g} jitter={self.jitter:g}>"
