"""Google Workspace room calendars through the Calendar API v3 (google-api-python-client).

Authentication is a service account, with domain-wide delegation (``subject``) or with the room
calendars shared to it. A full read is ``events.list`` over the window with ``singleEvents``
and ``showDeleted`` (cancelled instances are reported as such); its ``nextSyncToken`` is the
sync state, and an incremental read is ``events.list?syncToken=…`` (one request when nothing
changed). HTTP 410 ``fullSyncRequired`` raises ``SyncStateExpired``; the worker then does a full
read and upserts by id. httplib2 is not thread-safe, so every thread builds its own service.
``SyncResult.requests`` counts Calendar API HTTP requests (retries included, OAuth token
fetches not); ``num_retries`` (default 2) is google-api-python-client's own exponential back-off
for 429/5xx; beyond it, 429/503 raise ``CalendarUnavailable`` with the server's ``Retry-After``.
No ``multipart/mixed`` batches: Google charges every request inside a batch to the quota, and
the worker's polling threads already overlap the round trips a batch would save.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2 import service_account
from googleapiclient import discovery
from googleapiclient.errors import Error as GoogleApiClientError
from googleapiclient.errors import HttpError

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
from calendars.sources.google_events import google_event_to_event
from calendars.sources.google_push import GoogleWatch
from calendars.syncstate import (
    DEFAULT_FULL_RESYNC_AFTER,
    SyncState,
    needs_full_read,
    split_incremental,
)
from otj.netreason import one_line, reason, safe_url, status_text

log = logging.getLogger(__name__)

SCOPES = ("https://www.googleapis.com/auth/calendar.readonly",)
DEFAULT_API_ENDPOINT = "https://www.googleapis.com/calendar/v3/"
_RATE_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)
_KIND = "google"


class _CountingHttp(google_auth_httplib2.AuthorizedHttp):  # type: ignore[misc]
    """AuthorizedHttp that counts the API requests made from this thread."""

    def __init__(self, credentials: Any, http: httplib2.Http, counter: threading.local) -> None:
        super().__init__(credentials, http=http)
        self._counter = counter

    def request(self, uri: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        self._counter.requests = getattr(self._counter, "requests", 0) + 1
        return super().request(uri, method, *args, **kwargs)


@dataclass(frozen=True, kw_only=True, slots=True)
class GoogleSettings:
    """Everything the Google source needs, resolved from the integration configuration."""

    service_account_info: Mapping[str, Any]
    subject: str | None = None
    api_endpoint: str | None = None
    token_uri: str | None = None
    num_retries: int = 2
    timeout: float = 20.0
    default_tz: tzinfo = UTC
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER
    page_size: int = 2500


class GoogleCalendarSource(GoogleWatch):
    """``CalendarSource`` for Google Calendar (see the module docstring); ``PushSource``
    through ``events.watch`` channels (``calendars.sources.google_push``)."""

    def __init__(self, settings: GoogleSettings) -> None:
        super().__init__()
        self._settings = settings
        info = dict(settings.service_account_info)
        if settings.token_uri:
            info["token_uri"] = settings.token_uri
        try:
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(SCOPES)
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CalendarAuthError(f"invalid service account key: {exc}") from exc
        if settings.subject:
            credentials = credentials.with_subject(settings.subject)
        self._credentials = credentials
        self._local = threading.local()
        self._counter = threading.local()

    # plumbing ------------------------------------------------------------------------------
    def _http(self) -> _CountingHttp:
        http = getattr(self._local, "http", None)
        if http is None:
            http = _CountingHttp(
                self._credentials, httplib2.Http(timeout=self._settings.timeout), self._counter
            )
            self._local.http = http
        return http

    def _service(self) -> Any:
        """One service object per thread (httplib2 is not thread-safe)."""
        service = getattr(self._local, "service", None)
        if service is None:
            options = (
                {"api_endpoint": self._settings.api_endpoint}
                if self._settings.api_endpoint
                else None
            )
            service = discovery.build(
                "calendar",
                "v3",
                http=self._http(),
                client_options=options,
                cache_discovery=False,
                static_discovery=True,
            )
            self._local.service = service
        return service

    def _push_error(self, room: str, exc: BaseException) -> CalendarError:
        return _map_error(room, exc, url=self._shown_endpoint())

    def _requests_so_far(self) -> int:
        return int(getattr(self._counter, "requests", 0))

    def _events(self) -> Any:
        """This thread's ``events`` resource (building one renders every method's docs: slow)."""
        events = getattr(self._local, "events", None)
        if events is None:
            events = self._service().events()
            self._local.events = events
        return events

    def _list_request(self, room: str, page_token: str | None, **params: Any) -> Any:
        return self._events().list(
            calendarId=room,
            singleEvents=True,
            maxResults=self._settings.page_size,
            pageToken=page_token,
            **params,
        )

    def _shown_endpoint(self) -> str:
        """The Calendar API base URL as error messages name it."""
        return self._settings.api_endpoint or DEFAULT_API_ENDPOINT

    # CalendarSource ------------------------------------------------------------------------
    def sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        """``events.list`` (Calendar API v3): full windowed read, or ``syncToken`` changes."""
        return guarded_sync(
            room,
            lambda: self._sync(room, start=start, end=end, state=state),
            map_error=lambda room, exc: _map_error(room, exc, url=self._shown_endpoint()),
            requests=self._requests_so_far,
        )

    def close(self) -> None:
        """Close this thread's connections (other threads' objects are dropped with them)."""
        http = getattr(self._local, "http", None)
        if http is not None:
            http.close()
        self._local = threading.local()

    def _sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        if state is not None:
            stored = SyncState.decode(state, kind=_KIND)
            if not needs_full_read(
                stored, start=start, end=end, full_resync_after=self._settings.full_resync_after
            ):
                items, token = self._pages(room, first_page=None, syncToken=stored.token)
                return self._incremental(room, items, token, start=start, end=end, stored=stored)
            log.info("%s: window moved since the last full read, reading it again", room)
        items, token = self._pages(room, first_page=None, **_window(start, end))
        return self._full(room, items, token, start=start, end=end)

    def _pages(
        self, room: str, first_page: Mapping[str, Any] | None, **params: Any
    ) -> tuple[list[Any], str]:
        """Follow ``nextPageToken`` until the page with ``nextSyncToken``."""
        items: list[Any] = []
        page = first_page
        if page is None:
            page = self._list_request(room, None, **params).execute(
                num_retries=self._settings.num_retries
            )
        while True:
            if not isinstance(page, Mapping):
                raise MalformedCalendarData(f"{room}: events.list returned {type(page).__name__}")
            page_items = page.get("items", [])
            if not isinstance(page_items, list):
                raise MalformedCalendarData(f"{room}: events.list items is not a list")
            items.extend(page_items)
            next_page = page.get("nextPageToken")
            if not next_page:
                token = page.get("nextSyncToken")
                if not isinstance(token, str) or not token:
                    raise MalformedCalendarData(f"{room}: events.list gave no nextSyncToken")
                return items, token
            if not isinstance(next_page, str):
                raise MalformedCalendarData(f"{room}: nextPageToken is not a string")
            page = self._list_request(room, next_page, **params).execute(
                num_retries=self._settings.num_retries
            )

    def _full(
        self, room: str, items: Sequence[Any], token: str, *, start: datetime, end: datetime
    ) -> SyncResult:
        events = []
        for item in items:
            event = google_event_to_event(item, room=room, default_tz=self._settings.default_tz)
            if event is not None:
                events.append(event)
        state = SyncState(kind=_KIND, token=token, window_start=start, window_end=end)
        return SyncResult(full=True, events=_with_series_uids(events), sync_state=state.encode())

    def _incremental(
        self,
        room: str,
        items: Sequence[Any],
        token: str,
        *,
        start: datetime,
        end: datetime,
        stored: SyncState,
    ) -> SyncResult:
        changed: list[CalendarEvent] = []
        removed: list[str] = []
        for item in items:
            if isinstance(item, Mapping) and item.get("status") == "cancelled":
                if not isinstance(item.get("id"), str):
                    raise MalformedCalendarData(f"{room}: cancelled Google event without id")
                removed.append(item["id"])
                continue
            event = google_event_to_event(item, room=room, default_tz=self._settings.default_tz)
            if event is not None:
                changed.append(event)
        kept, gone = split_incremental(changed, start=start, end=end)
        state = SyncState(
            kind=_KIND,
            token=token,
            window_start=stored.window_start,
            window_end=stored.window_end,
        )
        return SyncResult(
            full=False,
            events=kept,
            removed_ids=tuple(removed) + gone,
            sync_state=state.encode(),
        )


def _with_series_uids(events: Sequence[CalendarEvent]) -> tuple[CalendarEvent, ...]:
    """Cancelled exceptions may lack ``iCalUID``: take it from an instance of the same series."""
    uids = {e.recurring_id: e.ical_uid for e in events if e.recurring_id and e.ical_uid}
    return tuple(
        replace(e, ical_uid=uids[e.recurring_id])
        if not e.ical_uid and e.recurring_id in uids
        else e
        for e in events
    )


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "timeMin": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "timeMax": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "showDeleted": True,
    }


def _retry_after(resp: Mapping[str, Any]) -> float | None:
    value = resp.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def _reason(content: bytes) -> str:
    try:
        error = json.loads(content)["error"]
        return str(error["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _map_error(room: str, exc: BaseException, *, url: str) -> CalendarError:
    """Map google-api-python-client, google-auth and socket failures to ``CalendarError``s."""
    if isinstance(exc, CalendarError):
        return exc
    where = f"{room}: Google Calendar {safe_url(url)}"
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason_code = _reason(exc.content)
        retry_after = _retry_after(exc.resp)
        shown = safe_url(str(exc.uri)) if getattr(exc, "uri", None) else safe_url(url)
        message = (
            f"{room}: Google Calendar {shown} answered {status_text(status)} {reason_code}"
        ).rstrip()
        if status == 410:
            return SyncStateExpired(message)
        if status == 404:
            return CalendarNotFound(message)
        if status == 429 or status >= 500 or (status == 403 and reason_code in _RATE_REASONS):
            return CalendarUnavailable(message, retry_after=retry_after)
        if status in (401, 403):
            return CalendarAuthError(message)
        return MalformedCalendarData(message)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        text = one_line(str(exc))
        if getattr(exc, "retryable", False):
            return CalendarUnavailable(f"{room}: token endpoint unavailable: {text}")
        return CalendarAuthError(f"{room}: service account token refused: {text}")
    if isinstance(exc, google.auth.exceptions.TransportError):
        return CalendarUnavailable(f"{room}: token endpoint unreachable: {reason(exc)}")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return CalendarUnavailable(f"{where} timed out")
    if isinstance(exc, (OSError, ssl.SSLError, httplib2.HttpLib2Error)):
        return CalendarUnavailable(f"{where} unreachable: {reason(exc)}")
    if isinstance(exc, (ValueError, KeyError, TypeError, GoogleApiClientError)):
        return MalformedCalendarData(f"{where}: unreadable response: {one_line(repr(exc))}")
    return CalendarError(f"{where}: unexpected failure: {one_line(repr(exc))}")


SourceFactory = Callable[[GoogleSettings], GoogleCalendarSource]
