"""Microsoft 365 room calendars through Microsoft Graph v1.0 (msal client credentials + httpx).

A full read is the initial round of ``GET /users/{room}/calendarView/delta`` over the window:
it lists every (expanded) event of the window and ends with an ``@odata.deltaLink``, so the
window and the sync state come from one pass. An incremental read GETs the stored deltaLink
(one request when nothing changed): changed events, and ``@removed`` ids. ``Prefer:
outlook.timezone="UTC"``, ``outlook.body-content-type="html"`` (link targets kept) and
``odata.maxpagesize``. 429/503 honour ``Retry-After``; 410 ``SyncStateNotFound`` raises
``SyncStateExpired``. Links are only followed on the configured Graph endpoint (the token never
leaves it). Sovereign clouds: set ``authority_host`` and ``graph_endpoint``. Change
notifications: ``subscribe``/``renew``/``unsubscribe`` manage ``/subscriptions`` on
``/users/{room}/events`` (``calendars.push.PushSource``).
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import msal
import requests

from calendars.base import (
    CalendarAuthError,
    CalendarEvent,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncResult,
    SyncStateExpired,
)
from calendars.edge import guarded_sync
from calendars.push import Channel, PushRefused
from calendars.sources.graph_errors import error_text, http_error, map_error
from calendars.sources.graph_events import graph_event_to_event
from calendars.syncstate import (
    DEFAULT_FULL_RESYNC_AFTER,
    SyncState,
    needs_full_read,
    split_incremental,
)
from otj.secret import Secret

log = logging.getLogger(__name__)

_KIND = "graph"
PUSH_LIFETIME = timedelta(minutes=10_080)
"""The longest lifetime of a subscription to Outlook events (Graph: under 7 days)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class GraphSettings:
    """Everything the Graph source needs, resolved from the integration configuration."""

    tenant_id: str
    client_id: str
    client_secret: Secret
    authority_host: str = "https://login.microsoftonline.com"
    graph_endpoint: str = "https://graph.microsoft.com/v1.0"
    body_content_type: str = "html"
    page_size: int = 100
    timeout: float = 20.0
    default_tz: tzinfo = UTC
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER
    ca_file: str | None = None


class GraphCalendarSource:
    """``CalendarSource`` and ``PushSource`` for Microsoft Graph (see the module docstring).

    Thread-safe.
    """

    push_kind = "graph"
    push_lifetime = PUSH_LIFETIME

    def __init__(self, settings: GraphSettings) -> None:
        self._settings = settings
        self._endpoint = settings.graph_endpoint.rstrip("/")
        self._verify: str | bool = settings.ca_file or True
        context = ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else True
        self._client = httpx.Client(timeout=settings.timeout, verify=context)
        self._app: Any = None
        self._app_lock = threading.Lock()
        self._scopes = [f"{_origin(self._endpoint)}/.default"]

    # tokens --------------------------------------------------------------------------------
    def _msal(self) -> Any:
        """The msal app, made on first use (its constructor already performs tenant discovery)."""
        with self._app_lock:
            if self._app is None:
                authority = (
                    f"{self._settings.authority_host.rstrip('/')}/{self._settings.tenant_id}"
                )
                self._app = msal.ConfidentialClientApplication(
                    self._settings.client_id,
                    client_credential=self._settings.client_secret.reveal(),
                    authority=authority,
                    instance_discovery=authority.startswith("https://login.microsoftonline.com"),
                    http_client=_Session(verify=self._verify, timeout=self._settings.timeout),
                )
            return self._app

    def _token(self, *, fresh: bool = False) -> str:
        """Client-credentials token (msal caches it until shortly before it expires)."""
        if fresh:  # the token was refused: forget the cached one (a new app has an empty cache)
            with self._app_lock:
                self._app = None
        app = self._msal()
        result = app.acquire_token_for_client(scopes=self._scopes)
        token = result.get("access_token") if isinstance(result, Mapping) else None
        if isinstance(token, str) and token:
            return token
        error = result.get("error", "unknown") if isinstance(result, Mapping) else "unknown"
        description = result.get("error_description", "") if isinstance(result, Mapping) else ""
        if error in ("temporarily_unavailable", "service_unavailable"):
            raise CalendarUnavailable(f"Entra ID token endpoint: {error}")
        raise CalendarAuthError(f"Entra ID refused the client credentials: {error} {description}")

    # CalendarSource ------------------------------------------------------------------------
    def sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        """``calendarView/delta`` (Graph v1.0): initial round over the window, or the deltaLink."""
        counter = [0]
        return guarded_sync(
            room,
            lambda: self._sync(room, start=start, end=end, state=state, counter=counter),
            map_error=lambda room, exc: map_error(room, exc, url=self._endpoint),
            requests=lambda: counter[0],
        )

    def close(self) -> None:
        self._client.close()

    # PushSource: change notifications (https://learn.microsoft.com/graph/api/resources/subscription)
    def subscribe(
        self,
        room: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        token: str,
        expires: datetime,
    ) -> Channel:
        """``POST /subscriptions`` on ``/users/{room}/events`` (Graph validates the URLs first)."""
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": f"/users/{quote(room, safe='@')}/events",
            "expirationDateTime": _graph_time(expires),
            "clientState": token,
            "latestSupportedTlsVersion": "v1_2",
        }
        return self._channel(room, "POST", f"{self._endpoint}/subscriptions", body)

    def renew(self, room: str, channel: Channel, *, expires: datetime) -> Channel:
        """``PATCH /subscriptions/{id}`` with a new ``expirationDateTime`` (reauthorises too)."""
        url = f"{self._endpoint}/subscriptions/{quote(channel.id, safe='')}"
        return self._channel(room, "PATCH", url, {"expirationDateTime": _graph_time(expires)})

    def unsubscribe(self, room: str, channel: Channel) -> None:
        """``DELETE /subscriptions/{id}``; a subscription already gone is fine."""
        url = f"{self._endpoint}/subscriptions/{quote(channel.id, safe='')}"
        try:
            self._request(room, "DELETE", url, None)
        except CalendarNotFound:
            return

    def _channel(self, room: str, method: str, url: str, body: Mapping[str, Any]) -> Channel:
        data = self._request(room, method, url, body)
        try:
            expires = datetime.fromisoformat(str(data["expirationDateTime"]))
            return Channel(id=str(data["id"]), expires_at=expires.astimezone(UTC))
        except (KeyError, ValueError) as exc:
            raise MalformedCalendarData(f"{room}: unreadable Graph subscription: {exc!r}") from exc

    def _request(
        self, room: str, method: str, url: str, body: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        try:
            response = self._client.request(
                method, url, headers=self._headers(self._token()), json=body
            )
            if response.status_code == 401:
                response = self._client.request(
                    method, url, headers=self._headers(self._token(fresh=True)), json=body
                )
        except Exception as exc:
            raise map_error(room, exc, url=url) from exc
        if response.status_code == 400:
            raise PushRefused(f"{room}: Graph refused the subscription: {error_text(response)}")
        if response.status_code >= 400:
            raise http_error(room, response, url=url)
        if response.status_code == 204 or not response.content:
            return {}
        data = response.json()
        if not isinstance(data, Mapping):
            raise MalformedCalendarData(f"{room}: Graph answered with a non-object")
        return data

    def _sync(
        self, room: str, *, start: datetime, end: datetime, state: str | None, counter: list[int]
    ) -> SyncResult:
        if state is not None:
            stored = SyncState.decode(state, kind=_KIND)
            if not needs_full_read(
                stored, start=start, end=end, full_resync_after=self._settings.full_resync_after
            ):
                self._check_link(stored.token, stored=True)
                items, link = self._pages(room, stored.token, counter)
                return self._incremental(room, items, link, start=start, end=end, stored=stored)
            log.info("%s: window moved since the last full read, reading it again", room)
        url = (
            f"{self._endpoint}/users/{quote(room, safe='@')}/calendarView/delta"
            f"?startDateTime={_graph_time(start)}&endDateTime={_graph_time(end)}"
        )
        items, link = self._pages(room, url, counter)
        events = [
            e
            for e in (self._event(room, item) for item in items if "@removed" not in item)
            if e is not None
        ]
        new_state = SyncState(kind=_KIND, token=link, window_start=start, window_end=end)
        return SyncResult(full=True, events=tuple(events), sync_state=new_state.encode())

    def _event(self, room: str, item: Any) -> CalendarEvent | None:
        return graph_event_to_event(item, room=room, default_tz=self._settings.default_tz)

    def _incremental(
        self,
        room: str,
        items: list[Any],
        link: str,
        *,
        start: datetime,
        end: datetime,
        stored: SyncState,
    ) -> SyncResult:
        changed: list[CalendarEvent] = []
        removed: list[str] = []
        for item in items:
            if isinstance(item, Mapping) and "@removed" in item:
                if not isinstance(item.get("id"), str):
                    raise MalformedCalendarData(f"{room}: @removed entry without id")
                removed.append(item["id"])
                continue
            event = self._event(room, item)
            if event is not None:
                changed.append(event)
        kept, gone = split_incremental(changed, start=start, end=end)
        new_state = SyncState(
            kind=_KIND, token=link, window_start=stored.window_start, window_end=stored.window_end
        )
        return SyncResult(
            full=False,
            events=kept,
            removed_ids=tuple(removed) + gone,
            sync_state=new_state.encode(),
        )

    # HTTP ----------------------------------------------------------------------------------
    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Prefer": (
                'outlook.timezone="UTC", '
                f'outlook.body-content-type="{self._settings.body_content_type}", '
                f"odata.maxpagesize={self._settings.page_size}"
            ),
        }

    def _check_link(self, link: str, *, stored: bool = False) -> None:
        """Links are only followed on the Graph endpoint, so the token never goes elsewhere."""
        if _origin(link) != _origin(self._endpoint):
            message = f"link {link[:80]!r} is not on {_origin(self._endpoint)}"
            raise SyncStateExpired(message) if stored else MalformedCalendarData(message)

    def _pages(self, room: str, url: str, counter: list[int]) -> tuple[list[Any], str]:
        """Follow ``@odata.nextLink`` until the page with ``@odata.deltaLink``."""
        items: list[Any] = []
        while True:
            page = self._get(room, url, counter)
            values = page.get("value")
            if not isinstance(values, list):
                raise MalformedCalendarData(f"{room}: Graph page without a value list")
            items.extend(values)
            next_link = page.get("@odata.nextLink")
            if isinstance(next_link, str) and next_link:
                self._check_link(next_link)
                url = next_link
                continue
            delta = page.get("@odata.deltaLink")
            if not isinstance(delta, str) or not delta:
                raise MalformedCalendarData(f"{room}: Graph delta ended without a deltaLink")
            self._check_link(delta)
            return items, delta

    def _get(self, room: str, url: str, counter: list[int]) -> Mapping[str, Any]:
        token = self._token()
        counter[0] += 1
        response = self._client.get(url, headers=self._headers(token))
        if response.status_code == 401:
            counter[0] += 1
            response = self._client.get(url, headers=self._headers(self._token(fresh=True)))
        if response.status_code >= 400:
            raise http_error(room, response, url=url)
        try:
            data = response.json()
        except ValueError as exc:
            raise MalformedCalendarData(f"{room}: Graph answered with non-JSON data") from exc
        if not isinstance(data, Mapping):
            raise MalformedCalendarData(f"{room}: Graph answered with a non-object")
        return data


class _Session(requests.Session):
    """msal's HTTP client: ``verify`` and ``timeout`` on every request.

    requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify``; passing ``verify`` per
    request keeps a configured CA file in force.
    """

    def __init__(self, *, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self._otj_verify = verify
        self._otj_timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self._otj_verify)
        kwargs.setdefault("timeout", self._otj_timeout)
        return super().request(method, url, *args, **kwargs)


def _origin(url: str) -> str:
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}"


def _graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
