"""iCalendar (RFC 5545) files or URLs, one per room; recurrences expanded by recurring-ical-events.

``path_template`` or ``url_template`` contains ``{room}``. For URLs, an incremental read is a
conditional GET (RFC 9110 §13: ``If-None-Match`` with the stored ETag, ``If-Modified-Since``
with the stored Last-Modified): 304, or a 200 whose SHA-256 equals the stored one, is "no
change" (one request). For files, an unchanged size and mtime costs no read at all; otherwise
the SHA-256 of the content decides. A change re-reads the whole window (``full=True``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from urllib.parse import quote

import httpx

from calendars.base import (
    CalendarAuthError,
    CalendarError,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncResult,
)
from calendars.edge import guarded_sync
from calendars.ical import expand_calendar
from calendars.syncstate import DEFAULT_FULL_RESYNC_AFTER, SyncState, needs_full_read
from otj.netreason import one_line, reason, safe_url, status_text
from otj.secret import Secret

log = logging.getLogger(__name__)

_KIND = "ics"
MAX_ICS_BYTES = 64 * 1024 * 1024
_ROOM = re.compile(r"^[A-Za-z0-9.!#$%&'*+=?^_`{|}~@-]+$")


@dataclass(frozen=True, kw_only=True, slots=True)
class IcsSettings:
    """Everything the ICS source needs, resolved from the integration configuration."""

    path_template: str | None = None
    url_template: str | None = None
    username: str | None = None
    password: Secret | None = None
    verify_tls: bool = True
    timeout: float = 20.0
    default_tz: tzinfo = UTC
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER


@dataclass(frozen=True, kw_only=True, slots=True)
class _Fetched:
    """A read of the room's calendar: content (None = unchanged) and validators for next time."""

    content: bytes | None
    digest: str
    validators: dict[str, str]
    requests: int


class IcsCalendarSource:
    """``CalendarSource`` for ``.ics`` files and URLs (see the module docstring). Thread-safe."""

    def __init__(self, settings: IcsSettings) -> None:
        if (settings.path_template is None) == (settings.url_template is None):
            raise ValueError("IcsSettings needs exactly one of path_template or url_template")
        self._settings = settings
        auth = (
            httpx.BasicAuth(
                settings.username, settings.password.reveal() if settings.password else ""
            )
            if settings.username
            else None
        )
        self._client = httpx.Client(
            timeout=settings.timeout, verify=settings.verify_tls, auth=auth, follow_redirects=True
        )

    def location(self, room: str) -> str:
        """The file path or URL of ``room``'s calendar (rooms that could escape it are refused)."""
        if not _ROOM.match(room) or ".." in room:
            raise CalendarNotFound(f"{room!r} is not a valid room address")
        if self._settings.path_template is not None:
            return self._settings.path_template.replace("{room}", room)
        assert self._settings.url_template is not None
        return self._settings.url_template.replace("{room}", quote(room, safe="@"))

    # CalendarSource ------------------------------------------------------------------------
    def sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        """Conditional read of the file/URL; full expansion of the window when it changed."""
        return guarded_sync(
            room,
            lambda: self._sync(room, start=start, end=end, state=state),
            map_error=lambda room, exc: _map_error(room, exc, where=self._shown(room)),
        )

    def _sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        stored: SyncState | None = None
        if state is not None:
            stored = SyncState.decode(state, kind=_KIND)
            if needs_full_read(
                stored, start=start, end=end, full_resync_after=self._settings.full_resync_after
            ):
                log.info("%s: window moved since the last full read, reading it again", room)
                stored = None
        fetched = self._fetch(room, stored)
        if stored is not None and (fetched.content is None or fetched.digest == stored.token):
            new_state = SyncState(
                kind=_KIND,
                token=stored.token,
                window_start=stored.window_start,
                window_end=stored.window_end,
                extra=fetched.validators or dict(stored.extra),
            )
            return SyncResult(
                full=False, events=(), sync_state=new_state.encode(), requests=fetched.requests
            )
        content = fetched.content
        if content is None:  # unreachable: without a stored state the content is always read
            raise MalformedCalendarData(f"{room}: calendar could not be read")
        events = expand_calendar(
            content, room=room, start=start, end=end, default_tz=self._settings.default_tz
        )
        new_state = SyncState(
            kind=_KIND,
            token=fetched.digest,
            window_start=start,
            window_end=end,
            extra=fetched.validators,
        )
        return SyncResult(
            full=True,
            events=tuple(events),
            sync_state=new_state.encode(),
            requests=fetched.requests,
        )

    def close(self) -> None:
        self._client.close()

    def _shown(self, room: str) -> str:
        """The file or URL (without credentials) as error messages name it."""
        try:
            where = self.location(room)
        except CalendarError:
            return "(no location)"
        return where if self._settings.path_template is not None else safe_url(where)

    # reading -------------------------------------------------------------------------------
    def _fetch(self, room: str, stored: SyncState | None) -> _Fetched:
        where = self.location(room)
        if self._settings.path_template is not None:
            return self._read_file(room, Path(where), stored)
        return self._get(room, where, stored)

    def _read_file(self, room: str, path: Path, stored: SyncState | None) -> _Fetched:
        try:
            info = path.stat()
        except FileNotFoundError as exc:
            raise CalendarNotFound(f"{room}: no calendar file {path}") from exc
        validators = {"mtime": str(info.st_mtime_ns), "size": str(info.st_size)}
        if stored is not None and all(stored.extra.get(k) == v for k, v in validators.items()):
            return _Fetched(content=None, digest=stored.token, validators=validators, requests=0)
        if info.st_size > MAX_ICS_BYTES:
            raise MalformedCalendarData(f"{room}: {path} is larger than {MAX_ICS_BYTES} bytes")
        content = path.read_bytes()
        return _Fetched(
            content=content,
            digest=hashlib.sha256(content).hexdigest(),
            validators=validators,
            requests=0,
        )

    def _get(self, room: str, url: str, stored: SyncState | None) -> _Fetched:
        headers = {"Accept": "text/calendar"}
        if stored is not None:
            if stored.extra.get("etag"):
                headers["If-None-Match"] = stored.extra["etag"]
            if stored.extra.get("last_modified"):
                headers["If-Modified-Since"] = stored.extra["last_modified"]
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304 and stored is not None:
                return _Fetched(
                    content=None, digest=stored.token, validators=dict(stored.extra), requests=1
                )
            if response.status_code >= 400:
                raise _http_error(room, response, url=url)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ICS_BYTES:
                    raise MalformedCalendarData(
                        f"{room}: {safe_url(url)} is larger than {MAX_ICS_BYTES} bytes"
                    )
                chunks.append(chunk)
            validators = {}
            if response.headers.get("ETag"):
                validators["etag"] = response.headers["ETag"]
            if response.headers.get("Last-Modified"):
                validators["last_modified"] = response.headers["Last-Modified"]
        content = b"".join(chunks)
        return _Fetched(
            content=content,
            digest=hashlib.sha256(content).hexdigest(),
            validators=validators,
            requests=1,
        )


def _http_error(room: str, response: httpx.Response, *, url: str) -> CalendarError:
    status = response.status_code
    message = f"{room}: calendar URL {safe_url(url)} answered {status_text(status)}"
    if status in (401, 403):
        return CalendarAuthError(message)
    if status in (404, 410):
        return CalendarNotFound(message)
    if status == 429 or status >= 500:
        retry_after = None
        value = response.headers.get("Retry-After")
        if value is not None:
            try:
                retry_after = max(0.0, float(value))
            except ValueError:
                retry_after = None
        return CalendarUnavailable(message, retry_after=retry_after)
    return MalformedCalendarData(message)


def _map_error(room: str, exc: BaseException, *, where: str) -> CalendarError:
    if isinstance(exc, CalendarError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return CalendarUnavailable(f"{room}: calendar URL {where} timed out")
    if isinstance(exc, httpx.HTTPError):
        return CalendarUnavailable(f"{room}: calendar URL {where} unreachable: {reason(exc)}")
    if isinstance(exc, PermissionError):
        return CalendarAuthError(f"{room}: calendar file {where} not readable: {exc.strerror}")
    if isinstance(exc, OSError):
        return CalendarUnavailable(f"{room}: calendar file {where} unreadable: {exc.strerror}")
    return MalformedCalendarData(f"{room}: unreadable calendar {where}: {one_line(repr(exc))}")
