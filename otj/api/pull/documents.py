"""The pull API's room documents, served from memory (``RoomFeeds``).

The request path answers from memory on the event loop: a token this process verified a
moment ago (``otj.store.tokens``), the configuration directory (re-read when its revision
changes) and the room's rendered document with its ETag (re-rendered when the room's listing
changes). Whatever is due for a database read (a token not seen for a while, the once-a-second
revision checks, a new rendering) is done on a worker thread, at most ``READERS`` at a time
so that the connection pool is not overrun. What memory costs in freshness: a room's new
meetings are served within 1 s (``RoomDocuments.RECHECK``), a configuration change within 1 s
(``DirectoryCache``); a token revoked in this process is refused at once, one revoked by
another process within 1 s (``TokenRepository.RECHECK``). Failed authentications are never
remembered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

import anyio
from fastapi import Response
from fastapi.responses import JSONResponse

from otj.delivery.pull.access import (
    Caller,
    DirectoryCache,
    NeedsRead,
    RoomDirectory,
    authenticate,
    may_read_room,
)
from otj.delivery.pull.feeds import ics_feed, meetings_body, not_modified, strong_etag
from otj.model import PAST_WINDOW, Endpoint

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_T = TypeVar("_T")
READERS = 8
"""Worker threads reading the database for the pull API at a time (the pool keeps 8)."""


def error(status: int, code: str, detail: str, *, bearer: bool = False) -> JSONResponse:
    """A JSON error answer (with the RFC 6750 challenge on 401)."""
    headers = {}
    if status == 401 and bearer:
        headers["WWW-Authenticate"] = 'Bearer realm="otj", error="invalid_token"'
    elif status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="otj"'
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def room_access(
    db: Database,
    directory: DirectoryCache,
    room: str,
    token: str,
    *,
    now: datetime,
    may_read: bool = True,
) -> tuple[Endpoint, RoomDirectory] | JSONResponse:
    """The caller's endpoint and the configuration directory, or the error answer
    (``NeedsRead`` when that needs the database and ``may_read`` is false)."""
    if not token:
        return error(401, "unauthorized", "send an endpoint token: Authorization: Bearer …")
    caller: Caller | None = authenticate(db, token, now=now, may_read=may_read)
    view = directory.get(may_read=may_read)
    endpoint = view.endpoint(caller.endpoint) if caller else None
    if endpoint is None:
        return error(401, "unauthorized", "the token is not valid", bearer=True)
    if not view.room_endpoints(room):
        return error(404, "not_found", "no endpoint shows this room")
    if not may_read_room(endpoint, room):
        return error(403, "forbidden", "this token belongs to an endpoint of another room")
    return endpoint, view


@dataclass(frozen=True, slots=True)
class Rendered:
    """A room's document as served: its bytes and their strong ETag."""

    marker: str
    computed_at: datetime
    valid_until: datetime
    body: bytes
    etag: str


class RoomDocuments:
    """Rendered feeds per room, re-rendered only when the room's listing changes (the store's
    listing hash), when a meeting leaves the window, or after ``MAX_AGE`` (new meetings
    entering the window's far end). Every room's listing hash is read in one query at most
    every ``RECHECK``, so a change is served within that time; a hit costs no database read,
    rendering or digest."""

    MAX_AGE = timedelta(seconds=60)
    RECHECK = timedelta(seconds=1)

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, int, str], Rendered] = {}
        self._markers: tuple[datetime, dict[str, str]] | None = None
        self._refreshing = threading.Lock()

    def _fresh_markers(self, now: datetime) -> dict[str, str] | None:
        markers = self._markers
        if markers is None or not markers[0] <= now < markers[0] + self.RECHECK:
            return None
        return markers[1]

    def due(self, now: datetime) -> bool:
        """Whether the listing hashes must be read again at ``now``."""
        return self._fresh_markers(now) is None

    def refresh(self, *, now: datetime, lead: timedelta = timedelta(0)) -> dict[str, str]:
        """Every room's listing hash, read again when due within ``lead`` (one reader at a
        time)."""
        with self._refreshing:
            markers = self._fresh_markers(now + lead)
            if markers is None:
                markers = self._db.rooms.listing_markers()
                self._markers = (now, markers)
            return markers

    def _marker(self, room: str, *, now: datetime, may_read: bool) -> str:
        markers = self._fresh_markers(now)
        if markers is None:
            if not may_read:
                raise NeedsRead
            markers = self.refresh(now=now)
        return markers.get(room.lower(), "")

    def get(
        self,
        kind: Literal["json", "ics"],
        room: str,
        *,
        days: int,
        name: str,
        now: datetime,
        may_read: bool = True,
    ) -> Rendered:
        """The ``json`` or ``ics`` document of a room as it is at ``now`` (``NeedsRead``
        when that needs the database and ``may_read`` is false)."""
        marker = self._marker(room, now=now, may_read=may_read)
        key = (kind, room.lower(), days, name)
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.marker == marker
            and entry.computed_at <= now < entry.valid_until
        ):
            return entry
        if not may_read:
            raise NeedsRead
        meetings = self._db.meetings.list(
            room,
            start=now - PAST_WINDOW,
            end=now + timedelta(days=max(1, days)),
            listed_only=True,
            with_trace=False,
        )
        if kind == "ics":
            stamp = self._db.meetings.last_updated(room) or datetime(2000, 1, 1, tzinfo=UTC)
            body = ics_feed(room, meetings, stamp=stamp, name=name)
        else:
            body = meetings_body(meetings)
        valid_until = min([now + self.MAX_AGE] + [m.end + PAST_WINDOW for m in meetings])
        entry = Rendered(
            marker=marker,
            computed_at=now,
            valid_until=valid_until,
            body=body,
            etag=strong_etag(body),
        )
        with self._lock:
            self._entries[key] = entry
        return entry


def conditional(
    body: bytes,
    media_type: str,
    if_none_match: str | None,
    extra: dict[str, str] | None = None,
    *,
    etag: str | None = None,
) -> Response:
    """200 with a strong ETag, or 304 when ``If-None-Match`` matches (RFC 9110 §13.1.2)."""
    etag = etag or strong_etag(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    headers.update(extra or {})
    if not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


class RoomFeeds:
    """A room's document for a bearer token: from memory on the event loop when nothing is
    due, else on a worker thread (at most ``READERS`` at a time).

    The once-a-second checks (token and configuration revisions, listing hashes) are made
    ahead, by one background read when they are half-way to due, so that under load requests
    do not all find them due at the same moment and queue for the worker threads."""

    LEAD = timedelta(milliseconds=500)
    COMPLAIN_EVERY = timedelta(minutes=1)

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.directory = DirectoryCache(db, monotonic=lambda: clock().timestamp())
        self.documents = RoomDocuments(db)
        self._readers: anyio.CapacityLimiter | None = None
        self._ahead: asyncio.Task[None] | None = None
        self._complained: datetime | None = None

    def answer(
        self, kind: Literal["json", "ics"], room: str, token: str, *, now: datetime, may_read: bool
    ) -> Rendered | JSONResponse:
        """The document, or the error answer (``NeedsRead`` as in ``room_access``)."""
        access = room_access(self._db, self.directory, room, token, now=now, may_read=may_read)
        if isinstance(access, JSONResponse):
            return access
        endpoint, view = access
        return self.documents.get(
            kind,
            room,
            days=view.profile(endpoint.name).display_upcoming_meetings,
            name=endpoint.name if kind == "ics" else "",
            now=now,
            may_read=may_read,
        )

    async def serve(
        self, kind: Literal["json", "ics"], room: str, token: str, *, now: datetime
    ) -> Rendered | JSONResponse:
        """``answer`` without blocking the event loop."""
        if self.ahead is None and self._due_soon(now):
            self._ahead = asyncio.get_running_loop().create_task(self._read(self.check_ahead))
            self._ahead.add_done_callback(self._checked_ahead)
        try:
            return self.answer(kind, room, token, now=now, may_read=False)
        except NeedsRead:
            return await self._read(
                functools.partial(self.answer, kind, room, token, now=now, may_read=True)
            )

    @property
    def ahead(self) -> asyncio.Task[None] | None:
        """The background check under way, if any."""
        ahead = self._ahead
        return None if ahead is None or ahead.done() else ahead

    def check_ahead(self) -> None:
        """Make the checks that are due within ``LEAD`` (on a worker thread)."""
        now = self._clock()
        self._db.tokens.confirm_revisions(now=now, lead=self.LEAD)
        self.directory.refresh(lead=self.LEAD.total_seconds())
        self.documents.refresh(now=now, lead=self.LEAD)

    def _due_soon(self, now: datetime) -> bool:
        return (
            self._db.tokens.verified.due(now + self.LEAD)
            or self.directory.due(self.LEAD.total_seconds())
            or self.documents.due(now + self.LEAD)
        )

    def _checked_ahead(self, task: asyncio.Task[None]) -> None:
        if self._ahead is task:
            self._ahead = None
        failure = None if task.cancelled() else task.exception()
        if failure is None:
            return
        now = self._clock()
        quiet = self._complained is not None and now - self._complained < self.COMPLAIN_EVERY
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            "pull API: checking ahead failed: %s",
            failure,
        )
        if not quiet:
            self._complained = now

    async def _read(self, read: Callable[[], _T]) -> _T:
        if self._readers is None:
            self._readers = anyio.CapacityLimiter(READERS)
        return await anyio.to_thread.run_sync(read, limiter=self._readers)
