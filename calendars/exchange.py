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
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
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
    Identity,
    OAuth2Credentials,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.protocol import BaseProtocol

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
from calendars.normalise import midnight, truncate_body
from calendars.syncstate import DEFAULT_FULL_RESYNC_AFTER, SyncState, needs_full_read
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
    max_wait: float = 30.0
    version: str | None = None
    max_connections: int = 4
    timeout: float = 20.0
    default_tz: tzinfo = UTC
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER
    sync_page_size: int = 512


class ExchangeCalendarSource:
    """``CalendarSource`` for Exchange Web Services (see the module docstring). Thread-safe."""

    def __init__(self, settings: ExchangeSettings) -> None:
        self._settings = settings
        self._accounts: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._shared_config: Configuration | None = None

    # exchangelib objects -------------------------------------------------------------------
    def _configuration(self, room: str) -> Configuration:
        settings = self._settings
        version = Version(build=_BUILDS[settings.version]) if settings.version in _BUILDS else None
        policy = FaultTolerance(max_wait=settings.max_wait)
        if settings.auth == "oauth":
            credentials: Any = OAuth2Credentials(
                client_id=settings.client_id,
                client_secret=settings.client_secret.reveal() if settings.client_secret else "",
                tenant_id=settings.tenant_id,
                identity=Identity(primary_smtp_address=room),
            )
            return Configuration(
                service_endpoint=settings.service_endpoint,
                credentials=credentials,
                auth_type=OAUTH2,
                version=version,
                retry_policy=policy,
                max_connections=settings.max_connections,
            )
        if self._shared_config is None:
            self._shared_config = Configuration(
                service_endpoint=settings.service_endpoint,
                credentials=Credentials(
                    settings.username, settings.password.reveal() if settings.password else ""
                ),
                auth_type=BASIC if settings.auth == "basic" else NTLM,
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
                    config=self._configuration(room),
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
        return guarded_sync(
            room,
            lambda: self._sync(room, start=start, end=end, state=state),
            map_error=_map_error,
            requests=_requests_so_far,
        )

    def close(self) -> None:
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


def _caused_by_401(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ews_errors.ErrorServerBusy) and "HTTP 401" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _map_error(room: str, exc: BaseException) -> CalendarError:
    """Map exchangelib and requests failures to ``CalendarError``s."""
    if isinstance(exc, CalendarError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, ews_errors.ErrorInvalidSyncStateData):
        return SyncStateExpired(f"{room}: EWS sync state rejected ({name})")
    if isinstance(exc, tuple(_AUTH)):
        return CalendarAuthError(f"{room}: EWS refused access ({name}: {exc})")
    if isinstance(exc, tuple(_NOT_FOUND)):
        return CalendarNotFound(f"{room}: EWS mailbox or calendar not found ({name})")
    if isinstance(exc, ews_errors.RateLimitError) and _caused_by_401(exc):
        # under FaultTolerance exchangelib retries 401 as throttling until max_wait runs out
        return CalendarAuthError(f"{room}: EWS refused the credentials (HTTP 401)")
    if isinstance(exc, ews_errors.ErrorServerBusy):
        return CalendarUnavailable(f"{room}: EWS server busy", retry_after=exc.back_off)
    if isinstance(exc, ews_errors.RateLimitError):
        return CalendarUnavailable(
            f"{room}: EWS asked to back off longer than max_wait", retry_after=float(exc.wait)
        )
    if isinstance(exc, (ews_errors.MalformedResponseError, ews_errors.SOAPError)):
        text = str(exc)
        if "Code: 5" in text or "Code: 429" in text:
            # exchangelib puts the response headers in the message: keep the server's back-off
            found = _RETRY_AFTER.search(text)
            return CalendarUnavailable(
                f"{room}: EWS server error: {text[:120]}",
                retry_after=float(found.group(1)) if found else None,
            )
        return MalformedCalendarData(f"{room}: EWS answered with unreadable data ({name})")
    if isinstance(exc, (ews_errors.ErrorTimeoutExpired, ews_errors.TransportError)):
        return CalendarUnavailable(f"{room}: EWS unreachable or timed out ({name})")
    if isinstance(exc, ews_errors.CASError):
        return CalendarUnavailable(f"{room}: EWS CAS error {exc}")
    if isinstance(exc, (requests.RequestException, OSError)):
        return CalendarUnavailable(f"{room}: EWS unreachable: {exc}")
    if isinstance(exc, ews_errors.EWSError):
        return MalformedCalendarData(f"{room}: EWS error {name}: {exc}")
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
        return MalformedCalendarData(f"{room}: unreadable EWS data: {exc!r}")
    return CalendarError(f"{room}: unexpected EWS failure: {exc!r}")
