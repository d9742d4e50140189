"""CalDAV room calendars (RFC 4791) with the caldav library; recurrences expanded client-side.

Each room has its own calendar collection (``calendar_url_template`` with ``{room}``). A full
read first takes the collection's RFC 6578 ``sync-token`` (or, where sync-collection is not
offered, the CalendarServer ``getctag``), then reads the window with a ``calendar-query`` time
range; every object is expanded with recurring-ical-events (RRULE, RDATE, EXDATE, overridden
and cancelled instances) and normalised by ``calendars.ical.vevent_to_event``. An incremental
read sends ``sync-collection`` with the stored token (or compares the ctag): no change costs one
request; any change re-reads the window (``full=True``), because a changed series can add or
drop occurrences that no href names.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.elements.base import BaseElement
from caldav.lib import error as dav_error

from calendars.base import (
    CalendarAuthError,
    CalendarError,
    CalendarEvent,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncResult,
    SyncStateExpired,
)
from calendars.edge import guarded_sync
from calendars.ical import expand_calendar
from calendars.syncstate import DEFAULT_FULL_RESYNC_AFTER, SyncState, needs_full_read
from otj.netreason import one_line, reason, safe_url, status_text
from otj.secret import Secret

log = logging.getLogger(__name__)

_KIND = "caldav"
_STATUS = re.compile(r"\b([1-5]\d\d) [A-Z]")  # caldav's errmsg: "404 Not Found\n\n…"
_counter = threading.local()


class _CountingClient(DAVClient):
    """DAVClient that counts the HTTP requests made from the current thread."""

    def request(self, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        _counter.requests = getattr(_counter, "requests", 0) + 1
        return super().request(url, method, *args, **kwargs)


class _GetCTag(BaseElement):
    """CalendarServer ``getctag`` (http://calendarserver.org/ns/), the pre-RFC 6578 change tag."""

    tag: ClassVar[str] = "{http://calendarserver.org/ns/}getctag"


@dataclass(frozen=True, kw_only=True, slots=True)
class CalDavSettings:
    """Everything the CalDAV source needs, resolved from the integration configuration."""

    url: str
    calendar_url_template: str
    username: str | None = None
    password: Secret | None = None
    verify_tls: bool = True
    timeout: float = 20.0
    default_tz: tzinfo = UTC
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER


class CalDavCalendarSource:
    """``CalendarSource`` for CalDAV servers (see the module docstring). Thread-safe."""

    def __init__(self, settings: CalDavSettings) -> None:
        self._settings = settings
        self._local = threading.local()

    def _client(self) -> Any:
        """One DAVClient per thread (its HTTP session is not shared)."""
        client = getattr(self._local, "client", None)
        if client is None:
            settings = self._settings
            client = _CountingClient(
                url=settings.url,
                username=settings.username,
                password=settings.password.reveal() if settings.password else None,
                timeout=max(1, round(settings.timeout)),
                ssl_verify_cert=settings.verify_tls,
                enable_rfc6764=False,
                require_tls=False,
                rate_limit_handle=False,
            )
            self._local.client = client
        return client

    def calendar_url(self, room: str) -> str:
        """The room's collection URL (the room e-mail is percent-encoded, ``@`` kept)."""
        return self._settings.calendar_url_template.replace("{room}", quote(room, safe="@"))

    # CalendarSource ------------------------------------------------------------------------
    def sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        """RFC 6578 sync-collection (or ctag) as change signal, calendar-query for the window."""
        return guarded_sync(
            room,
            lambda: self._sync(room, start=start, end=end, state=state),
            map_error=lambda room, exc: _map_error(room, exc, url=self.calendar_url(room)),
            requests=lambda: int(getattr(_counter, "requests", 0)),
        )

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
        self._local = threading.local()

    def _sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        calendar = self._client().calendar(url=self.calendar_url(room))
        if state is not None:
            stored = SyncState.decode(state, kind=_KIND)
            if not needs_full_read(
                stored, start=start, end=end, full_resync_after=self._settings.full_resync_after
            ):
                changed, token, mode = self._changes(calendar, stored)
                if not changed:
                    new_state = SyncState(
                        kind=_KIND,
                        token=token,
                        window_start=stored.window_start,
                        window_end=stored.window_end,
                        extra={"mode": mode},
                    )
                    return SyncResult(full=False, events=(), sync_state=new_state.encode())
                return self._read_window(room, calendar, token, mode, start=start, end=end)
            log.info("%s: window moved since the last full read, reading it again", room)
        token, mode = self._current_token(calendar)
        return self._read_window(room, calendar, token, mode, start=start, end=end)

    def _current_token(self, calendar: Any) -> tuple[str, str]:
        """The collection's DAV:sync-token (RFC 6578 §4), else its CalendarServer getctag."""
        props = calendar.get_properties([dav.SyncToken(), _GetCTag()])
        token = props.get(dav.SyncToken.tag)
        if token:
            return str(token), "sync-token"
        ctag = props.get(_GetCTag.tag)
        if ctag:
            return str(ctag), "ctag"
        return "", "none"

    def _changes(self, calendar: Any, stored: SyncState) -> tuple[bool, str, str]:
        mode = stored.extra.get("mode", "sync-token")
        if mode == "sync-token":
            try:
                changes = calendar.get_objects_by_sync_token(
                    sync_token=stored.token, load_objects=False, disable_fallback=True
                )
            except (dav_error.ReportError, dav_error.AuthorizationError) as exc:
                # RFC 6578 §3.2: an invalid token is a 403/409 with DAV:valid-sync-token
                text = str(exc)
                if any(m in text for m in ("valid-sync-token", "403", "Forbidden", "409")):
                    raise SyncStateExpired(f"sync token no longer valid: {exc}") from exc
                raise
            return bool(list(changes)), str(changes.sync_token), mode
        if mode == "ctag":
            ctag = calendar.get_properties([_GetCTag()]).get(_GetCTag.tag)
            if ctag:
                return str(ctag) != stored.token, str(ctag), mode
        token, mode = self._current_token(calendar)
        return True, token, mode

    def _read_window(
        self, room: str, calendar: Any, token: str, mode: str, *, start: datetime, end: datetime
    ) -> SyncResult:
        objects = calendar.search(start=start, end=end, event=True, expand=False)
        events: list[CalendarEvent] = []
        for obj in objects:
            events.extend(self._expand(room, obj.data, start=start, end=end))
        new_state = SyncState(
            kind=_KIND, token=token, window_start=start, window_end=end, extra={"mode": mode}
        )
        return SyncResult(
            full=True,
            events=tuple(events),
            sync_state=new_state.encode() if mode != "none" else None,
        )

    def _expand(
        self, room: str, data: Any, *, start: datetime, end: datetime
    ) -> list[CalendarEvent]:
        return expand_calendar(
            data, room=room, start=start, end=end, default_tz=self._settings.default_tz
        )


def _map_error(room: str, exc: BaseException, *, url: str) -> CalendarError:
    """Map caldav and requests failures to ``CalendarError``s naming the room, URL and status."""
    if isinstance(exc, CalendarError):
        return exc
    where = f"{room}: CalDAV {safe_url(url)}"
    status = getattr(exc, "status", None)
    if not isinstance(status, int):
        found = _STATUS.search(str(exc))
        status = int(found.group(1)) if found else None
    answered = f"{where} answered {status_text(status)}" if status else where
    if isinstance(exc, dav_error.RateLimitError):
        return CalendarUnavailable(f"{answered} (busy)", retry_after=exc.retry_after_seconds)
    if isinstance(exc, dav_error.DAVError):
        if status == 404 or isinstance(exc, dav_error.NotFoundError):
            return CalendarNotFound(f"{answered}: no such calendar collection")
        if isinstance(exc, dav_error.AuthorizationError) or status in (401, 403):
            return CalendarAuthError(f"{answered}: the credentials were refused")
        if status is not None and status >= 500:
            return CalendarUnavailable(f"{answered}")
        return MalformedCalendarData(f"{answered}: {one_line(exc.reason, 200)}")
    if isinstance(exc, (requests.RequestException, OSError)):
        return CalendarUnavailable(f"{where}: {reason(exc)}")
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, SyntaxError)):
        # lxml's XMLSyntaxError is a SyntaxError
        return MalformedCalendarData(f"{where}: unreadable response: {one_line(repr(exc))}")
    return CalendarError(f"{where}: unexpected failure: {one_line(repr(exc))}")
