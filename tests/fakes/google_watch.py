"""Google Calendar push channels, served by ``GoogleCalendarFake`` as Google does.

https://developers.google.com/calendar/api/guides/push and
https://developers.google.com/calendar/api/v3/reference/events/watch:

- ``POST /calendar/v3/calendars/{id}/events/watch`` with ``{id, type: web_hook, address, token,
  params.ttl}``: HTTPS address, unique channel id (400 ``channelIdNotUnique``), answers the
  channel (``resourceId``, ``resourceUri``, ``expiration`` in ms) and then POSTs the ``sync``
  message to the address.
- ``POST /calendar/v3/channels/stop`` ``{id, resourceId}``: 204; 404 for an unknown channel.
- Every change of a watched calendar is a POST with an empty body and the headers
  ``X-Goog-Channel-ID``, ``X-Goog-Channel-Token``, ``X-Goog-Channel-Expiration``,
  ``X-Goog-Resource-ID``, ``X-Goog-Resource-URI``, ``X-Goog-Resource-State: exists`` and
  ``X-Goog-Message-Number``; an expired channel sends nothing.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from tests.fakes.google_calendar_http import Response

DEFAULT_TTL = 604_800
MAX_TTL = 2_592_000


@dataclass(slots=True)
class FakeChannel:
    id: str
    room: str
    resource_id: str
    address: str
    token: str
    expires: datetime
    messages: int = 0
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """One notification POST the fake made."""

    channel_id: str
    state: str
    status: int
    seconds: float


class GoogleChannels:
    """The channels of one ``GoogleCalendarFake`` (thread-safe)."""

    def __init__(
        self, *, now: Callable[[], datetime] | None = None, ca_file: Path | None = None
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._channels: dict[str, FakeChannel] = {}
        self._http = httpx.Client(
            verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
            timeout=10.0,
        )
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-google-notify")
        self.messages: list[Message] = []

    def active(self, room: str | None = None) -> list[FakeChannel]:
        now = self._now()
        with self._lock:
            return [
                c
                for c in self._channels.values()
                if not c.stopped and c.expires > now and (room is None or c.room == room.lower())
            ]

    def changed(self, room: str) -> None:
        """A change of ``room``'s events: an ``exists`` message on each live channel."""
        for channel in self.active(room):
            self._pool.submit(self._send, channel, "exists")

    def watch(self, room: str, body: bytes) -> Response:
        try:
            data = json.loads(body)
            channel_id, address = str(data["id"]), str(data["address"])
            kind, token = str(data.get("type", "")), str(data.get("token", ""))
            ttl = int((data.get("params") or {}).get("ttl", DEFAULT_TTL))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _error(400, "invalid", f"Invalid watch request: {exc!r}")
        if kind not in ("web_hook", "webhook"):
            return _error(400, "invalid", f"Unsupported channel type: {kind!r}")
        if urlsplit(address).scheme != "https":
            return _error(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS.")
        if len(token) > 256:
            return _error(400, "invalid", "Channel token longer than 256 characters.")
        now = self._now()
        channel = FakeChannel(
            id=channel_id,
            room=room.lower(),
            resource_id=hashlib.sha256(room.lower().encode()).hexdigest()[:27],
            address=address,
            token=token,
            expires=now + timedelta(seconds=min(max(ttl, 1), MAX_TTL)),
        )
        with self._lock:
            if channel_id in self._channels:
                return _error(400, "channelIdNotUnique", f"Channel id {channel_id} not unique")
            self._channels[channel_id] = channel
        self._pool.submit(self._send, channel, "sync")
        answer = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": _resource_uri(channel.room),
            "token": token,
            "expiration": str(int(channel.expires.timestamp() * 1000)),
        }
        return Response(status=200, body=json.dumps(answer).encode())

    def stop(self, body: bytes) -> Response:
        try:
            data = json.loads(body)
            channel_id, resource_id = str(data["id"]), str(data["resourceId"])
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "invalid", f"Invalid stop request: {exc!r}")
        with self._lock:
            channel = self._channels.get(channel_id)
            if channel is None or channel.stopped or channel.resource_id != resource_id:
                return _error(404, "notFound", f"Channel '{channel_id}' not found for project")
            channel.stopped = True
        return Response(status=204, body=b"")

    def _send(self, channel: FakeChannel, state: str) -> None:
        with self._lock:
            channel.messages += 1
            number = channel.messages
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Token": channel.token,
            "X-Goog-Channel-Expiration": format_datetime(channel.expires, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": _resource_uri(channel.room),
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(number),
        }
        began = time.monotonic()
        try:
            status = self._http.post(channel.address, headers=headers, content=b"").status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self.messages.append(Message(channel.id, state, status, time.monotonic() - began))


def _resource_uri(room: str) -> str:
    return f"https://www.googleapis.com/calendar/v3/calendars/{quote(room)}/events?alt=json"


def _error(status: int, reason: str, message: str) -> Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }
    return Response(status=status, body=json.dumps(body).encode())
