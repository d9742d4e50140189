"""Exchange Server (on premises) room calendars through EWS with exchangelib.

Authentication: basic, NTLM or OAuth; access by impersonation (``ExchangeImpersonation``) or as
a delegate. A full read takes the folder's current ``SyncFolderItems`` state (ids only) and then
reads the window with ``calendar.view()`` (``FindItem``/``CalendarView``, recurrences expanded
by the server, then ``GetItem`` for bodies and attendees). An incremental read sends the stored
``SyncFolderItems`` state: no change costs that one request; any change re-reads the window
(``full=True``), because the changes name series masters, not occurrences. ``FaultTolerance``
honours ``ErrorServerBusy``/``BackOffMilliseconds`` up to ``max_wait`` (keep it shorter than the
poll interval); a longer back-off raises ``CalendarUnavailable(retry_after=…)``. TLS uses the
system trust store (``REQUESTS_CA_BUNDLE`` for a private CA).
Authentication details (401, OAuth tokens, session renewal): ``exchange_auth``.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    EWSTimeZone,
    FaultTolerance,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.protocol import BaseProtocol, Protocol
from oauthlib.oauth2 import OAuth2Error
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from calendars.base import (
    CalendarAuthError,
    CalendarError,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncResult,
    SyncStateExpired,
)
from calendars.edge import guarded_sync
from calendars.sources.exchange_auth import (
    DEFAULT_AUTHORITY_HOST,
    TOKEN_FETCHES_WITHOUT_SUCCESS,
    ClientCredentials,
    RetryPolicy,
    TokenBudget,
    TokensRefused,
    breaks_sessions,
    default_scope,
    token_url,
)
from calendars.sources.exchange_events import FIELDS, ews_datetime, ews_item_to_event
from calendars.sources.exchange_stream import EwsStreaming
from calendars.syncstate import DEFAULT_FULL_RESYNC_AFTER, SyncState, needs_full_read
from otj.netreason import one_line, reason, safe_url
from otj.secret import Secret

log = logging.getLogger(__name__)

_KIND = "exchange"
_BUILDS = {
    "Exchange2013": Build(15, 0),
    "Exchange2013_SP1": Build(15, 0, 847),
    "Exchange2016": Build(15, 1),
    "Exchange2019": Build(15, 2),
}
_AUTH = {
    ews_errors.ErrorImpersonateUserDenied,
    ews_errors.ErrorImpersonationDenied,
    ews_errors.ErrorImpersonationFailed,
    ews_errors.ErrorAccessDenied,
    ews_errors.UnauthorizedError,
}
_NOT_FOUND = {
    ews_errors.ErrorNonExistentMailbox,
    ews_errors.ErrorFolderNotFound,
    ews_errors.ErrorInvalidSmtpAddress,
    ews_errors.ErrorMailboxStoreUnavailable,
}

_counter = threading.local()
_RETRY_AFTER = re.compile(r"'retry-after': '(\d+(?:\.\d+)?)'", re.IGNORECASE)


class _CountingAdapter(requests.adapters.HTTPAdapter):
    """The HTTP adapter exchangelib mounts: also counts the requests of the current thread."""

    def send(self, *args: Any, **kwargs: Any) -> Any:
        _counter.requests = getattr(_counter, "requests", 0) + 1
        return super().send(*args, **kwargs)


if BaseProtocol.HTTP_ADAPTER_CLS is requests.adapters.HTTPAdapter:
    BaseProtocol.HTTP_ADAPTER_CLS = _CountingAdapter


def _requests_so_far() -> int:
    return int(getattr(_counter, "requests", 0))


@dataclass(frozen=True, kw_only=True, slots=True)
class ExchangeSettings:
    """Everything the EWS source needs, resolved from the integration configuration."""

    service_endpoint: str
    username: str = ""
    password: Secret | None = None
    auth: str = "ntlm"
    access: str = "impersonation"
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: Secret | None = None
    authority_host: str = DEFAULT_AUTHORITY_HOST
    oauth_scope: str | None = None
    max_wait: float = 30.0
    version: str | None = None
    max_connections: int = 4
    timeout: float = 20.0
    default_tz: tzinfo = UTC
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER
    sync_page_size: int = 512


class ExchangeCalendarSource(EwsStreaming):
    """``CalendarSource`` for Exchange Web Services (see the module docstring). Thread-safe."""

    def __init__(self, settings: ExchangeSettings) -> None:
        if settings.auth not in ("basic", "ntlm", "oauth"):
            raise ValueError(f"EWS auth must be basic, ntlm or oauth, not {settings.auth!r}")
        if settings.auth == "oauth" and settings.access != "impersonation":
            raise ValueError("EWS OAuth (app-only token) needs impersonation access")
        super().__init__()
        self._settings = settings
        self._accounts: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._shared_config: Configuration | None = None

    # exchangelib objects -------------------------------------------------------------------
    def _configuration(self) -> Configuration:
        """One Configuration (so one exchangelib protocol and session pool) for every room."""
        if self._shared_config is not None:
            return self._shared_config
        settings = self._settings
        version = Version(build=_BUILDS[settings.version]) if settings.version in _BUILDS else None
        credentials: Any
        if settings.auth == "oauth":
            budget = TokenBudget(TOKEN_FETCHES_WITHOUT_SUCCESS)
            credentials = ClientCredentials(
                client_id=settings.client_id or "",
                client_secret=settings.client_secret.reveal() if settings.client_secret else "",
                tenant_id=settings.tenant_id or "",
                token_url=token_url(settings.authority_host, settings.tenant_id or ""),
                scope=settings.oauth_scope or default_scope(settings.service_endpoint),
                budget=budget,
            )
            policy: FaultTolerance = RetryPolicy(max_wait=settings.max_wait, budget=budget)
        else:
            credentials = Credentials(
                settings.username, settings.password.reveal() if settings.password else ""
            )
            policy = RetryPolicy(max_wait=settings.max_wait, budget=None)
        self._shared_config = Configuration(
            service_endpoint=settings.service_endpoint,
            credentials=credentials,
            auth_type={"basic": BASIC, "oauth": OAUTH2}.get(settings.auth, NTLM),
            version=version,
            retry_policy=policy,
            max_connections=settings.max_connections,  # worker threads share the pool
        )
        return self._shared_config

    def _account(self, room: str) -> Any:
        """One exchangelib Account per room (its protocol and session pool are shared)."""
        key = room.lower()
        with self._lock:
            account = self._accounts.get(key)
            if account is None:
                account = Account(
                    primary_smtp_address=room,
                    config=self._configuration(),
                    autodiscover=False,
                    access_type=IMPERSONATION
                    if self._settings.access == "impersonation"
                    else DELEGATE,
                    default_timezone=EWSTimeZone("UTC"),
                )
                account.protocol.TIMEOUT = self._settings.timeout
                self._accounts[key] = account
            return account

    # CalendarSource ------------------------------------------------------------------------
    def sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        """SyncFolderItems as the change signal, FindItem CalendarView + GetItem for the window."""
        try:
            return guarded_sync(
                room,
                lambda: self._sync(room, start=start, end=end, state=state),
                map_error=lambda room, exc: _map_error(
                    room, exc, url=self._settings.service_endpoint
                ),
                requests=_requests_so_far,
            )
        except CalendarError as exc:
            if breaks_sessions(exc):
                log.info("%s: credentials refused or token fetch failed; new EWS sessions", room)
                self._discard_sessions()
            if isinstance(exc, TokensRefused):
                raise CalendarAuthError(f"{room}: {exc}") from exc
            raise

    def _discard_sessions(self) -> None:
        """Drop the exchangelib protocol (session pool) and accounts; the next sync builds anew."""
        with self._lock:
            config, self._shared_config = self._shared_config, None
            self._accounts.clear()
        if config is not None:
            with suppress(KeyError):
                protocol, _created = Protocol[config]  # exchangelib's cache of protocols
                del Protocol[config]
                protocol.close()

    def _stream_error(self, room: str, exc: BaseException) -> CalendarError:
        return _map_error(room, exc, url=self._settings.service_endpoint)

    def close(self) -> None:
        self.stop_streams()
        with self._lock:
            accounts = list(self._accounts.values())
            self._accounts.clear()
        for account in accounts:
            account.protocol.close()

    def _sync(self, room: str, *, start: datetime, end: datetime, state: str | None) -> SyncResult:
        calendar = self._account(room).calendar
        if state is not None:
            stored = SyncState.decode(state, kind=_KIND)
            if not needs_full_read(
                stored, start=start, end=end, full_resync_after=self._settings.full_resync_after
            ):
                changed, token = self._changes(calendar, stored.token)
                if not changed:
                    new_state = SyncState(
                        kind=_KIND,
                        token=token,
                        window_start=stored.window_start,
                        window_end=stored.window_end,
                    )
                    return SyncResult(full=False, events=(), sync_state=new_state.encode())
                log.debug("%s: calendar changed, reading the window again", room)
                return self._read_window(room, calendar, token, start=start, end=end)
            log.info("%s: window moved since the last full read, reading it again", room)
        _, token = self._changes(calendar, None)
        return self._read_window(room, calendar, token, start=start, end=end)

    def _changes(self, calendar: Any, token: str | None) -> tuple[bool, str]:
        """Page SyncFolderItems (ids only) to the end; whether anything changed, and the state."""
        changed = False
        for _change in calendar.sync_items(
            sync_state=token, only_fields=["id"], max_changes_returned=self._settings.sync_page_size
        ):
            changed = True
        new_token = calendar.item_sync_state
        if not isinstance(new_token, str) or not new_token:
            raise MalformedCalendarData("SyncFolderItems returned no SyncState")
        return changed, new_token

    def _read_window(
        self, room: str, calendar: Any, token: str, *, start: datetime, end: datetime
    ) -> SyncResult:
        view = calendar.view(start=ews_datetime(start), end=ews_datetime(end)).only(*FIELDS)
        events = []
        for item in view:
            if isinstance(item, Exception):
                raise item
            events.append(ews_item_to_event(item, room=room, default_tz=self._settings.default_tz))
        new_state = SyncState(kind=_KIND, token=token, window_start=start, window_end=end)
        return SyncResult(full=True, events=tuple(events), sync_state=new_state.encode())


def _map_error(room: str, exc: BaseException, *, url: str = "") -> CalendarError:
    """Map exchangelib and requests failures to ``CalendarError``s."""
    if isinstance(exc, CalendarError):
        return exc
    name = type(exc).__name__
    ews = f"EWS {safe_url(url)}" if url else "EWS"
    if isinstance(exc, ews_errors.ErrorInvalidSyncStateData):
        return SyncStateExpired(f"{room}: {ews} sync state rejected ({name})")
    if isinstance(exc, tuple(_AUTH)):
        return CalendarAuthError(f"{room}: {ews} refused access ({name}: {exc})")
    if isinstance(exc, tuple(_NOT_FOUND)):
        return CalendarNotFound(f"{room}: {ews} mailbox or calendar not found ({name})")
    if isinstance(exc, OAuth2Error):
        return _map_oauth_error(room, exc)
    if isinstance(exc, ews_errors.ErrorServerBusy):
        return CalendarUnavailable(f"{room}: {ews} server busy", retry_after=exc.back_off)
    if isinstance(exc, ews_errors.RateLimitError):
        return CalendarUnavailable(
            f"{room}: {ews} asked to back off longer than max_wait", retry_after=float(exc.wait)
        )
    if isinstance(exc, (ews_errors.MalformedResponseError, ews_errors.SOAPError)):
        text = str(exc)
        if "Code: 5" in text or "Code: 429" in text:
            # exchangelib puts the response headers in the message: keep the server's back-off
            found = _RETRY_AFTER.search(text)
            return CalendarUnavailable(
                f"{room}: {ews} server error: {one_line(text, 160)}",
                retry_after=float(found.group(1)) if found else None,
            )
        return MalformedCalendarData(f"{room}: {ews} answered with unreadable data ({name})")
    if isinstance(exc, (ews_errors.ErrorTimeoutExpired, ews_errors.TransportError)):
        return CalendarUnavailable(f"{room}: {ews} unreachable: {reason(exc)} ({name})")
    if isinstance(exc, ews_errors.CASError):
        return CalendarUnavailable(f"{room}: {ews} CAS error {exc}")
    if isinstance(exc, (requests.RequestException, OSError)):
        return CalendarUnavailable(f"{room}: {ews} unreachable: {reason(exc)}")
    if isinstance(exc, ews_errors.EWSError):
        return MalformedCalendarData(f"{room}: {ews} error {name}: {exc}")
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
        return MalformedCalendarData(f"{room}: unreadable EWS data: {one_line(repr(exc))}")
    return CalendarError(f"{room}: unexpected EWS failure: {one_line(repr(exc))}")


def _map_oauth_error(room: str, exc: OAuth2Error) -> CalendarError:
    """The token endpoint's RFC 6749 §5.2 errors: refusals are auth errors, outages are not."""
    text = f"{exc.error}: {exc.description or ''}".strip()[:300]
    if isinstance(exc, (oauth_errors.ServerError, oauth_errors.TemporarilyUnavailableError)):
        return CalendarUnavailable(f"{room}: OAuth token endpoint unavailable ({text})")
    if isinstance(exc, oauth_errors.MissingTokenError):
        return CalendarUnavailable(f"{room}: OAuth token endpoint answered without a token")
    return CalendarAuthError(f"{room}: OAuth token refused ({text})")
