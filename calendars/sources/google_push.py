"""Google Calendar push notifications: an ``events.watch`` channel per room calendar.

https://developers.google.com/calendar/api/guides/push: ``events.watch`` opens a ``web_hook``
channel to an HTTPS address with a secret ``token`` (echoed as ``X-Goog-Channel-Token`` in
every notification); channels cannot be extended, so renewing opens a new channel and stops
the old one (``channels.stop`` with its ``id`` and ``resourceId``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from calendars.base import CalendarError, CalendarNotFound, MalformedCalendarData
from calendars.push import Channel

WATCH_LIFETIME = timedelta(days=7)
"""The channel lifetime asked for (``params.ttl``; Google's default for events is a week)."""


class GoogleWatch:
    """``PushSource`` methods of ``GoogleCalendarSource`` (mixed in; thread-safe)."""

    push_kind = "google"
    push_lifetime = WATCH_LIFETIME

    def __init__(self) -> None:
        self._watch_lock = threading.Lock()
        self._watches: dict[str, tuple[str, str]] = {}

    def _service(self) -> Any:  # pragma: no cover (provided by the source)
        raise NotImplementedError

    def _push_error(self, room: str, exc: BaseException) -> CalendarError:  # pragma: no cover
        raise NotImplementedError

    def subscribe(
        self,
        room: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        token: str,
        expires: datetime,
    ) -> Channel:
        """``events.watch`` on the room's calendar (``lifecycle_url``: Google has none)."""
        del lifecycle_url
        ttl = max(1, int((expires - datetime.now(UTC)).total_seconds()))
        body = {
            "id": str(uuid.uuid4()),
            "type": "web_hook",
            "address": notification_url,
            "token": token,
            "params": {"ttl": str(ttl)},
        }
        try:
            answer = self._service().events().watch(calendarId=room, body=body).execute()
        except Exception as exc:
            raise self._push_error(room, exc) from exc
        channel = _channel(room, answer)
        with self._watch_lock:
            self._watches[channel.id] = (notification_url, token)
        return channel

    def renew(self, room: str, channel: Channel, *, expires: datetime) -> Channel:
        """A new channel to the same address with the same token, then the old one stopped."""
        with self._watch_lock:
            known = self._watches.get(channel.id)
        if known is None:
            raise CalendarNotFound(f"{room}: channel {channel.id} was not opened by this process")
        new = self.subscribe(
            room, notification_url=known[0], lifecycle_url="", token=known[1], expires=expires
        )
        self.unsubscribe(room, channel)
        return new

    def unsubscribe(self, room: str, channel: Channel) -> None:
        """``channels.stop``; a channel already gone is fine."""
        with self._watch_lock:
            self._watches.pop(channel.id, None)
        body = {"id": channel.id, "resourceId": channel.resource_id}
        try:
            self._service().channels().stop(body=body).execute()
        except Exception as exc:
            error = self._push_error(room, exc)
            if not isinstance(error, CalendarNotFound):
                raise error from exc


def _channel(room: str, answer: Any) -> Channel:
    """The channel from ``events.watch``'s answer (``expiration``: ms since the epoch)."""
    if not isinstance(answer, Mapping):
        raise MalformedCalendarData(f"{room}: events.watch answered with a non-object")
    try:
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, tz=UTC)
        return Channel(
            id=str(answer["id"]), expires_at=expires, resource_id=str(answer["resourceId"])
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise MalformedCalendarData(f"{room}: unreadable events.watch answer: {exc!r}") from exc
