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

HTTP 401 is a refused credential, never retried: exchangelib's ``FaultTolerance`` would treat it as
throttling and repeat the logon until ``max_wait`` (each repeat a failed NTLM/Basic logon that
counts towards the account's lockout). With OAuth (client credentials grant for an app with
``full_access_as_app``, so always impersonation) a 401 means the token expired or was revoked:
the session is renewed with a freshly fetched token and the request repeated, once; a second
refusal is ``CalendarAuthError``. The token comes from ``{authority_host}/{tenant}/oauth2/v2.0/
token`` for the scope ``{EWS host}/.default`` (the audience Exchange Server accepts under hybrid
modern authentication; Exchange Online's own host gives exchangelib's default scope), both
configurable. An expired token is fetched again, never "refreshed": this grant has no refresh
token (RFC 6749 §4.4.3), and exchangelib's refresh attempt fails once per token lifetime
(exchangelib issue #1345). After a refused credential or a failed token fetch the session pool is
discarded (exchangelib loses a pool slot whenever renewing a session fails; with every slot lost
a sync would wait forever), so the next sync starts clean.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

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
    OAuth2Credentials,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.protocol import BaseProtocol, Protocol
from oauthlib.oauth2 import OAuth2Error, TokenExpiredError
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from calendars.base import (
    Attendee,
    CalendarAuthError,
    CalendarError,
    CalendarEvent,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    ResponseStatus,
    SyncResult,
    SyncStateExpired,
)
from calendars.edge import guarded_sync
from calendars.ews_stream import EwsStreaming
from calendars.normalise import midnight, truncate_body
from calendars.syncstate import DEFAULT_FULL_RESYNC_AFTER, SyncState, needs_full_read
from otj.netreason import one_line, reason, safe_url
from otj.secret import Secret

log = logging.getLogger(__name__)

_KIND = "exchange"
FIELDS = (
    "subject",
    "start",
    "end",
    "body",
    "uid",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "resources",
    "is_all_day",
    "sensitivity",
    "is_cancelled",
    "my_response_type",
    "type",
    "last_modified_time",
    "location",
)
_RESPONSES: dict[str, ResponseStatus] = {
    "Accept": "accepted",
    "Organizer": "accepted",
    "Decline": "declined",
    "Tentative": "tentative",
    "NoResponseReceived": "needsAction",
    "Unknown": "needsAction",
}
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

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
_TOKEN_FETCHES_WITHOUT_SUCCESS = 2  # the first token, and one fetched again after a 401

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
            budget = _TokenBudget(_TOKEN_FETCHES_WITHOUT_SUCCESS)
            credentials = ClientCredentials(
                client_id=settings.client_id or "",
                client_secret=settings.client_secret.reveal() if settings.client_secret else "",
                tenant_id=settings.tenant_id or "",
                token_url=token_url(settings.authority_host, settings.tenant_id or ""),
                scope=settings.oauth_scope or default_scope(settings.service_endpoint),
                budget=budget,
            )
            policy: FaultTolerance = _RetryPolicy(max_wait=settings.max_wait, budget=budget)
        else:
            credentials = Credentials(
                settings.username, settings.password.reveal() if settings.password else ""
            )
            policy = _RetryPolicy(max_wait=settings.max_wait, budget=None)
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
            if _breaks_sessions(exc):
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
        view = calendar.view(start=_ews_datetime(start), end=_ews_datetime(end)).only(*FIELDS)
        events = []
        for item in view:
            if isinstance(item, Exception):
                raise item
            events.append(ews_item_to_event(item, room=room, default_tz=self._settings.default_tz))
        new_state = SyncState(kind=_KIND, token=token, window_start=start, window_end=end)
        return SyncResult(full=True, events=tuple(events), sync_state=new_state.encode())


def token_url(authority_host: str, tenant_id: str) -> str:
    """The Microsoft identity platform v2.0 token endpoint of ``tenant_id``."""
    return f"{authority_host.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"


def default_scope(service_endpoint: str) -> str:
    """``{scheme}://{host}/.default``: the EWS host is the token audience (hybrid modern auth)."""
    parts = urlsplit(service_endpoint)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/.default"


class TokensRefused(CalendarAuthError):
    """EWS refused every freshly fetched token, or they arrived already expired."""


class _TokenBudget:
    """Token fetches since EWS last accepted a request; bounds exchangelib's renew-and-retry."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._fetches = 0
        self._lock = threading.Lock()

    def fetched(self) -> None:
        with self._lock:
            self._fetches += 1
            fetches = self._fetches
        if fetches > self._limit:
            raise TokensRefused(
                f"EWS refused {fetches - 1} freshly fetched OAuth tokens in a row (token audience, "
                "the app's full_access_as_app permission, or the token lifetime?)"
            )

    def succeeded(self) -> None:
        with self._lock:
            self._fetches = 0


class ClientCredentials(OAuth2Credentials):  # type: ignore[misc]
    """exchangelib's client credentials grant with our token endpoint, scope and renewal.

    Overrides the members exchangelib documents on its credentials classes: ``token_url`` and
    ``scope`` (properties), ``session_params()`` (no refresh-token auto-refresh: RFC 6749 §4.4.3,
    so an expired token raises ``TokenExpiredError`` and exchangelib renews the session, which
    fetches a new token) and ``on_token_auto_refreshed()`` (counts fetches against the budget).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        token_url: str,
        scope: str,
        budget: _TokenBudget,
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, tenant_id=tenant_id)
        self._token_endpoint = token_url
        self._scopes = (scope,)  # a tuple: exchangelib hashes the attributes
        self._budget = budget

    @property
    def token_url(self) -> str:
        return self._token_endpoint

    @property
    def scope(self) -> list[str]:
        return list(self._scopes)

    def session_params(self) -> dict[str, Any]:
        return {"token": self.access_token}

    def on_token_auto_refreshed(self, access_token: Any) -> None:
        super().on_token_auto_refreshed(access_token)
        self._budget.fetched()


class _RetryPolicy(FaultTolerance):  # type: ignore[misc]
    """``FaultTolerance`` except for 401: refused credentials, or (OAuth) a token to replace."""

    def __init__(self, *, max_wait: float, budget: _TokenBudget | None) -> None:
        super().__init__(max_wait=max_wait)
        self._budget = budget

    def raise_response_errors(self, response: requests.Response) -> None:
        if response.status_code == 401:
            if self._budget is not None:
                # exchangelib retires the session (its token is dropped), renews it with a new
                # token and repeats the request at once; the budget stops a second refusal
                raise TokenExpiredError(description=_diagnostics(response))
            raise ews_errors.UnauthorizedError(f"HTTP 401 from {response.url}")
        if response.status_code == 200 and self._budget is not None:
            self._budget.succeeded()
        super().raise_response_errors(response)


def _diagnostics(response: requests.Response) -> str:
    """Why EWS refused a token (``x-ms-diagnostics``, else ``WWW-Authenticate``)."""
    return str(
        response.headers.get("x-ms-diagnostics") or response.headers.get("WWW-Authenticate") or ""
    )[:200]


def _breaks_sessions(exc: BaseException) -> bool:
    """Whether exchangelib may have lost a pooled session: a refused logon or token fetch."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(
            seen,
            (TokensRefused, ews_errors.UnauthorizedError, OAuth2Error, requests.RequestException),
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _ews_datetime(value: datetime) -> Any:
    from exchangelib import EWSDateTime

    return EWSDateTime.from_datetime(value.astimezone(UTC)).astimezone(EWSTimeZone("UTC"))


def ews_item_to_event(item: Any, *, room: str, default_tz: tzinfo) -> CalendarEvent:
    """Normalise one exchangelib ``CalendarItem`` of a calendar view."""
    try:
        start = _moment(item.start, default_tz)
        end_value = item.end
        if isinstance(end_value, date) and not isinstance(end_value, datetime):
            end_value = end_value + timedelta(days=1)  # exchangelib gives the last day, inclusive
        end = max(_moment(end_value, default_tz), start)
        body = item.body
        is_html = type(body).__name__ == "HTMLBody"
        attendees = tuple(
            _attendees(
                [*(item.required_attendees or ()), *(item.optional_attendees or ())],
                resource=False,
            )
        ) + tuple(_attendees(item.resources or (), resource=True))
        room_key = room.strip().lower()
        room_response = next(
            (a.response for a in attendees if a.email == room_key),
            _RESPONSES.get(str(item.my_response_type or ""), "accepted"),
        )
        organizer = item.organizer
        kind = str(item.type or "Single")
        uid = str(item.uid or "")
        modified = item.last_modified_time
        return CalendarEvent(
            id=str(item.id),
            ical_uid=uid,
            room=room,
            subject=str(item.subject or ""),
            location=str(item.location or ""),
            body="" if is_html else truncate_body(str(body or "")),
            body_html=truncate_body(str(body)) if is_html else "",
            organizer_name=str(getattr(organizer, "name", "") or ""),
            organizer_email=str(getattr(organizer, "email_address", "") or "").lower(),
            start=start,
            end=end,
            all_day=bool(item.is_all_day),
            private=str(item.sensitivity or "") in ("Private", "Confidential"),
            status="cancelled" if item.is_cancelled else "confirmed",
            room_response=room_response,
            attendees=attendees,
            recurring_id=uid if kind in ("Occurrence", "Exception") else "",
            updated=modified if isinstance(modified, datetime) else None,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedCalendarData(f"{room}: EWS item is malformed: {exc!r}") from exc


def _moment(value: object, default_tz: tzinfo) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return value.replace(tzinfo=default_tz)
        return datetime.fromtimestamp(value.timestamp(), tz=UTC)
    if isinstance(value, date):
        return midnight(date(value.year, value.month, value.day), default_tz)
    raise MalformedCalendarData(f"EWS item without a valid start/end: {value!r}")


def _attendees(values: Iterable[Any], *, resource: bool) -> Iterable[Attendee]:
    for attendee in values:
        mailbox = getattr(attendee, "mailbox", None)
        email = str(getattr(mailbox, "email_address", "") or "").lower()
        if not email:
            continue
        yield Attendee(
            email=email,
            name=str(getattr(mailbox, "name", "") or ""),
            response=_RESPONSES.get(
                str(getattr(attendee, "response_type", "") or ""), "needsAction"
            ),
            resource=resource,
        )


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
