"""The push subscription state machine of one room (pure: time is passed in, values frozen).

``unsubscribed`` → subscribe → ``healthy`` (renewed ``RENEW_BEFORE`` its expiry) → on a
refusal, an expiry nobody renewed, or the service removing it: ``failed`` (polling at the
normal interval, an alarm, a new attempt after a growing delay). While ``healthy`` the room's
poll interval relaxes to the profile's ``notification_safety_poll``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from calendars.push import Channel

RENEW_BEFORE = timedelta(minutes=30)
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)

Action = Literal["subscribe", "renew", "wait"]


class PushState(StrEnum):
    """Where a room's subscription stands."""

    UNSUBSCRIBED = "unsubscribed"
    HEALTHY = "healthy"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class Subscription:
    """One room's subscription; ``token`` is its secret (Graph clientState)."""

    room: str
    kind: str
    state: PushState = PushState.UNSUBSCRIBED
    channel: Channel | None = None
    token: str = field(default="", repr=False)
    reason: str = ""
    failures: int = 0
    retry_at: datetime | None = None
    renew_now: bool = False

    def healthy(self, now: datetime) -> bool:
        """Subscribed and not yet expired."""
        return (
            self.state is PushState.HEALTHY
            and self.channel is not None
            and now < self.channel.expires_at
        )


def next_action(
    sub: Subscription, *, now: datetime, renew_before: timedelta = RENEW_BEFORE
) -> Action:
    """What to do for ``sub`` now."""
    if sub.state is PushState.UNSUBSCRIBED:
        return "subscribe"
    if sub.state is PushState.FAILED:
        return "subscribe" if sub.retry_at is None or now >= sub.retry_at else "wait"
    assert sub.channel is not None
    if now >= sub.channel.expires_at:
        return "subscribe"  # expired while nobody renewed it (service down): a new one
    if sub.renew_now or now >= sub.channel.expires_at - renew_before:
        return "renew"
    return "wait"


def subscribed(sub: Subscription, channel: Channel, *, token: str) -> Subscription:
    """The service accepted a new channel."""
    return replace(
        sub,
        state=PushState.HEALTHY,
        channel=channel,
        token=token,
        reason="",
        failures=0,
        retry_at=None,
    )


def renewed(sub: Subscription, channel: Channel) -> Subscription:
    """The service extended the channel."""
    return replace(
        sub,
        state=PushState.HEALTHY,
        channel=channel,
        reason="",
        failures=0,
        retry_at=None,
        renew_now=False,
    )


def reauthorization_required(sub: Subscription) -> Subscription:
    """The service asks for a renewal now (Graph ``reauthorizationRequired``)."""
    return replace(sub, renew_now=True) if sub.state is PushState.HEALTHY else sub


def failed(
    sub: Subscription, *, now: datetime, reason: str, retry_now: bool = False
) -> Subscription:
    """The channel could not be opened or kept: poll normally, retry after a growing delay."""
    failures = sub.failures + 1
    delay = min(RETRY_MAX, RETRY_FIRST * 2 ** min(failures - 1, 10))
    return replace(
        sub,
        state=PushState.FAILED,
        channel=None,
        reason=reason,
        failures=failures,
        retry_at=now if retry_now else now + delay,
        renew_now=False,
    )


def poll_interval(
    sub: Subscription | None, *, normal: float, safety: float, now: datetime
) -> float:
    """The room's poll interval: the safety net while healthy, else the normal interval."""
    if sub is not None and sub.healthy(now):
        return max(normal, safety)
    return normal
