"""Who may read a room's meetings: per-endpoint bearer tokens and OAuth 2 access tokens.

An endpoint authenticates with the token ``otj endpoints token NAME`` printed once (stored as a
SHA-256 by the token repository), or exchanges it with the OAuth 2 client credentials grant
(RFC 6749 §4.4: ``client_id`` = endpoint name, ``client_secret`` = that token) for a short-lived
access token. Access tokens are Fernet tokens sealed with the store's secret key, so they need
no table and die with the key.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from otj.model import DEFAULT_PROFILE, Endpoint, Profile

if TYPE_CHECKING:
    from otj.store import Database

ACCESS_PREFIX = "otjat_"
ACCESS_LIFETIME = timedelta(hours=1)


class NeedsRead(Exception):
    """The answer needs a database read: ask again with ``may_read=True`` off the event loop."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """An authenticated endpoint."""

    endpoint: str
    via: str  # "token" | "oauth"


def authenticate(
    db: Database, token: str, *, now: datetime, may_read: bool = True
) -> Caller | None:
    """The endpoint a bearer token belongs to (endpoint token or OAuth access token); an
    endpoint token verified a moment ago is recalled from memory (``TokenRepository.recall``),
    any other is looked up (or ``NeedsRead`` raised)."""
    if not token:
        return None
    if token.startswith(ACCESS_PREFIX):
        return _open_access_token(db, token, now=now)
    record = db.tokens.recall(token, now=now, kind="endpoint")
    if record is None:
        if not may_read:
            raise NeedsRead
        record = db.tokens.verify_recent(token, now=now, kind="endpoint")
    if record is None or not record.endpoint:
        return None
    return Caller(endpoint=record.endpoint, via="token")


def issue_access_token(
    db: Database, client_id: str, client_secret: str, *, now: datetime
) -> tuple[str, int] | None:
    """Client credentials grant: an access token and its lifetime in seconds, or None."""
    record = db.tokens.verify(client_secret, now=now, kind="endpoint")
    if record is None or record.endpoint != client_id:
        return None
    expires = int((now + ACCESS_LIFETIME).timestamp())
    envelope = db.box.seal(f"{client_id}\n{expires}")
    return ACCESS_PREFIX + str(envelope["enc"]), int(ACCESS_LIFETIME.total_seconds())


def _open_access_token(db: Database, token: str, *, now: datetime) -> Caller | None:
    from otj.store import SecretKeyError

    try:
        plain = db.box.open({"enc": token[len(ACCESS_PREFIX) :]}).reveal()
    except (SecretKeyError, ValueError, KeyError):
        return None
    endpoint, _, expires = plain.rpartition("\n")
    if not endpoint or not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    return Caller(endpoint=endpoint, via="oauth")


def may_read_room(endpoint: Endpoint | None, room: str) -> bool:
    """An endpoint may read the room it shows (its room resource email)."""
    return endpoint is not None and endpoint.room_resource_email.lower() == room.lower()


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomDirectory:
    """Endpoints by name and room, and each endpoint's profile (secrets left sealed)."""

    revision: int
    endpoints: Mapping[str, Endpoint]
    rooms: Mapping[str, tuple[str, ...]]
    profiles: Mapping[str, Profile]

    def endpoint(self, name: str) -> Endpoint | None:
        """An endpoint by name."""
        return self.endpoints.get(name)

    def room_endpoints(self, room: str) -> tuple[Endpoint, ...]:
        """The endpoints that show a room."""
        return tuple(self.endpoints[n] for n in self.rooms.get(room.lower(), ()))

    def profile(self, endpoint: str) -> Profile:
        """An endpoint's profile (the default profile when its group has none)."""
        return self.profiles.get(endpoint, DEFAULT_PROFILE)


class DirectoryCache:
    """The configuration the pull API needs on every request, re-read only when the
    configuration revision changes; the revision is read at most every ``recheck`` seconds,
    by one thread for all the requests that found it due."""

    def __init__(
        self, db: Database, *, recheck: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._checking = threading.Lock()
        self._current: RoomDirectory | None = None
        self._recheck = recheck
        self._monotonic = monotonic
        self._checked = -math.inf

    def _fresh(self, lead: float = 0.0) -> bool:
        return 0 <= self._monotonic() - self._checked < self._recheck - lead  # never backwards

    def due(self, lead: float = 0.0) -> bool:
        """Whether the revision must be checked within ``lead`` seconds."""
        return self._current is None or not self._fresh(lead)

    def get(self, *, may_read: bool = True) -> RoomDirectory:
        """The directory of the current configuration revision (checked at most every
        ``recheck`` seconds, so a configuration change is seen within that time; ``NeedsRead``
        when the check is due and ``may_read`` is false)."""
        current = self._current
        if current is not None and self._fresh():
            return current
        if not may_read:
            raise NeedsRead
        return self.refresh()

    def refresh(self, lead: float = 0.0) -> RoomDirectory:
        """Check the revision when it is due within ``lead`` seconds (one reader at a time),
        re-reading the configuration when it changed."""
        with self._checking:
            tick = self._monotonic()
            current = self._current
            if current is not None and self._fresh(lead):
                return current
            revision = self._db.config.revision()
            if current is None or current.revision != revision:
                current = self._build(revision)
                self._current = current
            self._checked = tick
            return current

    def _build(self, revision: int) -> RoomDirectory:
        config = self._db.config.snapshot(secrets="sealed")
        groups = {g.name: g.profile for g in config.endpoint_groups}
        profiles = {p.name: p for p in config.profiles}
        rooms: dict[str, list[str]] = {}
        for e in config.endpoints:
            rooms.setdefault(e.room_resource_email.lower(), []).append(e.name)
        return RoomDirectory(
            revision=revision,
            endpoints={e.name: e for e in config.endpoints},
            rooms={room: tuple(names) for room, names in rooms.items()},
            profiles={
                e.name: profiles[groups[e.group]]
                for e in config.endpoints
                if e.group in groups and groups[e.group] in profiles
            },
        )
