"""Push notification channels of a calendar service (Graph subscriptions, Google watch channels).

A source that can push implements ``PushSource`` besides ``CalendarSource``: the worker opens a
channel per room towards its public notification URL, renews it before ``expires_at`` and
closes it when the room goes. ``token`` is the secret the service echoes in every notification
(Graph ``clientState``, Google ``X-Goog-Channel-Token``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from calendars.base import CalendarError


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    """An open notification channel: the service's id for it and when it expires."""

    id: str
    expires_at: datetime
    resource_id: str = ""


class PushRefused(CalendarError):
    """The service refused the channel (validation handshake failed, notification URL refused)."""


@runtime_checkable
class PushSource(Protocol):
    """A calendar source that can push change notifications."""

    push_kind: str
    """Path segment of the notification endpoint: ``graph`` → ``/notifications/graph``."""

    push_lifetime: timedelta
    """The longest channel lifetime the service grants."""

    def subscribe(
        self,
        room: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        token: str,
        expires: datetime,
    ) -> Channel:
        """Open a channel for ``room``'s calendar changes."""
        ...

    def renew(self, room: str, channel: Channel, *, expires: datetime) -> Channel:
        """Extend the channel's lifetime (``CalendarNotFound``: it is gone, subscribe again)."""
        ...

    def unsubscribe(self, room: str, channel: Channel) -> None:
        """Close the channel (gone already is fine)."""
        ...


@runtime_checkable
class StreamingPush(Protocol):
    """A ``PushSource`` whose notifications arrive on connections it holds itself (EWS
    streaming), not at the notification URL: it reports to the callbacks given here."""

    def attach_push(
        self, *, changed: Callable[[str], None], failed: Callable[[str, str], None]
    ) -> None:
        """``changed(room)`` on a notification, ``failed(room, reason)`` when its stream ends."""
        ...


def channel_expiry(now: datetime, lifetime: timedelta) -> datetime:
    """The expiry to ask for: the service's maximum less a minute of clock skew."""
    return now + lifetime - timedelta(minutes=1)
