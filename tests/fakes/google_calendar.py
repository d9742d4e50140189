"""A wire-faithful fake of the Google Calendar API v3 ``events.list`` and the OAuth2 token endpoint.

Driven by the real google-api-python-client (``client_options={"api_endpoint": fake.api_endpoint}``)
and google-auth service-account credentials whose ``token_uri`` is ``fake.token_uri``. What it
implements, as documented by Google:

- ``POST /token``: the JWT-bearer grant (RFC 7523); the assertion's RS256 signature is verified
  against the public key of a key file made by ``service_account_info()``; ``iss``/``aud``/``exp``
  and the scope are checked; ``sub`` (domain-wide delegation) is recorded.
- ``GET /calendar/v3/calendars/{calendarId}/events``: ``timeMin``/``timeMax`` (overlap),
  ``singleEvents`` (RRULE/EXDATE expansion in the event's ``timeZone``, instance ids
  ``{id}_{YYYYMMDDTHHMMSSZ}``, exceptions), ``showDeleted``, paging with ``maxResults``/
  ``pageToken``/``nextPageToken``, ``syncToken``/``nextSyncToken`` (changes only, deleted ones as
  ``status: cancelled``, 400 when combined with a window, 410 ``fullSyncRequired`` once expired).
- ``events.watch`` and ``channels.stop`` push channels (``tests.fakes.google_watch``): a
  notification POSTed on every change, as Google sends them.
- Errors in Google's JSON error format: 401, 403 ``rateLimitExceeded``, 404 ``notFound``, 429, 5xx.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from dateutil.rrule import rruleset, rrulestr

from tests.fakes.google_calendar_http import Response, ScriptedHTTPServer
from tests.fakes.google_watch import GoogleChannels

CALENDAR_SCOPE_PREFIX = "https://www.googleapis.com/auth/calendar"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what google-auth always sends
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_EVENTS_PREFIX = "/calendar/v3/calendars/"

_REASONS = {
    400: ("badRequest", "Bad Request"),
    401: ("authError", "Invalid Credentials"),
    403: ("rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("notFound", "Not Found"),
    410: ("fullSyncRequired", "Sync token is no longer valid, a full sync is required."),
    429: ("rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("backendError", "Backend Error"),
    502: ("backendError", "Bad Gateway"),
    503: ("backendError", "Backend Error"),
}


def google_error(status: int, reason: str | None = None, message: str | None = None) -> bytes:
    """Google's JSON error body (``error.errors[].reason``, ``error.code``, ``error.message``)."""
    default_reason, default_message = _REASONS.get(status, ("unknown", "Error"))
    message = message or default_message
    return json.dumps(
        {
            "error": {
                "errors": [
                    {"domain": "global", "reason": reason or default_reason, "message": message}
                ],
                "code": status,
                "message": message,
            }
        }
    ).encode()


def rfc3339(value: datetime) -> str:
    """Format like the API: ``2026-03-23T10:00:00+01:00`` (``Z`` for UTC)."""
    text = value.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if value.utcoffset() == timedelta(0) else text


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Record:
    """One stored event resource (a single event, a series master or an instance exception)."""

    resource: dict[str, Any]
    seq: int
    deleted: bool = False


@dataclass
class _Calendar:
    events: dict[str, _Record] = field(default_factory=dict)
    exceptions: dict[str, dict[str, _Record]] = field(default_factory=dict)
    seq: int = 0
    epoch: int = 0
    shared_with: set[str] | None = None


@dataclass(frozen=True)
class _Occurrence:
    """An event as ``events.list`` reports it, with the sequence number of its last change."""

    resource: dict[str, Any]
    seq: int
    start: datetime
    end: datetime


class GoogleCalendarFake(ScriptedHTTPServer):
    """The fake server; see the module docstring. Times come from ``now`` (injectable)."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        default_page_size: int = 250,
        expansion_horizon: timedelta = timedelta(days=730),
        notification_ca: Path | None = None,
    ) -> None:
        super().__init__()
        self._now = now or (lambda: datetime.now(UTC))
        self._data_lock = threading.RLock()
        self._calendars: dict[str, _Calendar] = {}
        self._keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {}
        self._tokens: dict[str, tuple[str, str]] = {}
        self.default_page_size = default_page_size
        self.expansion_horizon = expansion_horizon
        self.token_requests = 0
        self.subjects_seen: list[str] = []
        self.token_lifetime = 3600
        self.channels = GoogleChannels(now=now, ca_file=notification_ca)

    # addresses -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The ``api_endpoint`` for google-api-python-client."""
        return self.api_endpoint

    @property
    def api_endpoint(self) -> str:
        return f"{self.base_url}/calendar/v3/"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    # credentials ---------------------------------------------------------------------------
    def service_account_info(
        self, *, client_email: str = "otj-reader@otj-test.iam.gserviceaccount.com"
    ) -> dict[str, str]:
        """Make an RSA key pair, trust its public key, return the service-account key JSON."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = uuid.uuid4().hex
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self._data_lock:
            self._keys[key_id] = (client_email, key.public_key())
        return {
            "type": "service_account",
            "project_id": "otj-test",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": client_email,
            "client_id": "1000000000000000000",
            "auth_uri": f"{self.base_url}/auth",
            "token_uri": self.token_uri,
        }

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (the next API call gets 401)."""
        with self._data_lock:
            self._tokens.clear()

    def share(self, room: str, *principals: str) -> None:
        """Share ``room`` only with these service-account e-mails / delegated subjects."""
        with self._data_lock:
            self._calendar(room, create=True).shared_with = {p.lower() for p in principals}

    # data ----------------------------------------------------------------------------------
    def add_calendar(self, room: str) -> None:
        with self._data_lock:
            self._calendar(room, create=True)

    def put_event(self, room: str, resource: Mapping[str, Any]) -> str:
        """Insert or replace an event resource (``id`` generated when absent); returns its id."""
        with self._data_lock:
            cal = self._calendar(room, create=True)
            data = copy.deepcopy(dict(resource))
            event_id = str(data.setdefault("id", uuid.uuid4().hex))
            data.setdefault("iCalUID", f"{event_id}@google.com")
            data.setdefault("status", "confirmed")
            data.setdefault("kind", "calendar#event")
            data.setdefault("created", rfc3339(self._now()))
            cal.seq += 1
            data["updated"] = rfc3339(self._now())
            data["etag"] = f'"{cal.seq}"'
            data["sequence"] = int(data.get("sequence", 0))
            cal.events[event_id] = _Record(resource=data, seq=cal.seq)
        self.channels.changed(room)
        return event_id

    def patch_event(self, room: str, event_id: str, **changes: Any) -> None:
        """Change fields of an event (like ``events.patch``)."""
        with self._data_lock:
            record = self._calendar(room).events[event_id]
            resource = copy.deepcopy(record.resource)
            resource.update(changes)
            resource["sequence"] = int(resource.get("sequence", 0)) + 1
            self.put_event(room, resource)

    def delete_event(self, room: str, event_id: str) -> None:
        """Delete an event or a whole series (kept as a tombstone for sync)."""
        with self._data_lock:
            cal = self._calendar(room)
            record = cal.events[event_id]
            cal.seq += 1
            record.deleted = True
            record.seq = cal.seq
        self.channels.changed(room)

    def override_instance(
        self, room: str, master_id: str, original_start: datetime | date, changes: Mapping[str, Any]
    ) -> str:
        """Store an exception for one instance of a series (a moved or changed occurrence)."""
        with self._data_lock:
            cal = self._calendar(room)
            master = cal.events[master_id].resource
            instance = self._instance(master, original_start)
            instance.update(copy.deepcopy(dict(changes)))
            cal.seq += 1
            instance["updated"] = rfc3339(self._now())
            cal.exceptions.setdefault(master_id, {})[instance["id"]] = _Record(
                resource=instance, seq=cal.seq
            )
        self.channels.changed(room)
        return str(instance["id"])

    def cancel_instance(self, room: str, master_id: str, original_start: datetime | date) -> str:
        """Cancel one instance of a series (``status: cancelled`` exception)."""
        return self.override_instance(room, master_id, original_start, {"status": "cancelled"})

    def expire_sync_tokens(self, room: str) -> None:
        """Make every sync token issued so far for ``room`` answer 410 ``fullSyncRequired``."""
        with self._data_lock:
            self._calendar(room).epoch += 1

    def events(self, room: str) -> list[dict[str, Any]]:
        """Current non-deleted stored resources of ``room`` (for assertions)."""
        with self._data_lock:
            return [
                copy.deepcopy(r.resource)
                for r in self._calendar(room).events.values()
                if not r.deleted
            ]

    def _calendar(self, room: str, *, create: bool = False) -> _Calendar:
        key = room.lower()
        if key not in self._calendars:
            if not create:
                raise KeyError(room)
            self._calendars[key] = _Calendar()
        return self._calendars[key]

    # HTTP ----------------------------------------------------------------------------------
    def room_of(self, path: str) -> str | None:
        split = urlsplit(path).path
        if split.startswith(_EVENTS_PREFIX):
            return unquote(split[len(_EVENTS_PREFIX) :].split("/", 1)[0])
        return None

    def error_body(self, status: int) -> bytes:
        return google_error(status)

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        split = urlsplit(path)
        if split.path == "/token" and method == "POST":
            return self._token(body)
        if method == "POST" and split.path in ("/calendar/v3/channels/stop", "/channels/stop"):
            if self._authorised(headers) is None:
                return _json(401, google_error(401, "authError", "Invalid Credentials"))
            return self.channels.stop(body)
        if split.path.startswith(_EVENTS_PREFIX) and split.path.endswith("/events/watch"):
            return self._watch(split.path, headers, body)
        if split.path.startswith(_EVENTS_PREFIX) and split.path.endswith("/events"):
            if method != "GET":
                return _json(405, google_error(405, "methodNotAllowed", "Method not allowed"))
            return self._events_list(split.path, split.query, headers)
        return _json(404, google_error(404))

    def _token(self, body: bytes) -> Response:
        with self._data_lock:
            self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER or "assertion" not in form:
            return _oauth_error("unsupported_grant_type", "Only the JWT bearer grant is supported")
        try:
            claims = self._verify_jwt(form["assertion"])
        except ValueError as exc:
            return _oauth_error("invalid_grant", str(exc))
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        principal = str(claims.get("sub") or claims["iss"]).lower()
        with self._data_lock:
            self._tokens[token] = (str(claims["iss"]), principal)
            if claims.get("sub"):
                self.subjects_seen.append(str(claims["sub"]))
        payload = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return _json(200, json.dumps(payload).encode())

    def _verify_jwt(self, assertion: str) -> dict[str, Any]:
        """RFC 7515 RS256 verification with the registered public key, then RFC 7523 claims."""
        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header = json.loads(_unb64url(header_b64))
            claims = json.loads(_unb64url(claims_b64))
            signature = _unb64url(signature_b64)
        except (ValueError, TypeError) as exc:
            raise ValueError("malformed JWT assertion") from exc
        if header.get("alg") != "RS256":
            raise ValueError("JWT must be signed with RS256")
        with self._data_lock:
            known = self._keys.get(str(header.get("kid")))
        if known is None:
            raise ValueError("unknown key id")
        client_email, public_key = known
        try:
            public_key.verify(
                signature,
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise ValueError("Invalid JWT Signature.") from exc
        now = time.time()
        if claims.get("iss") != client_email:
            raise ValueError("iss does not match the key's client_email")
        if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, self.token_uri):
            raise ValueError("Invalid JWT audience")
        if not (float(claims.get("iat", 0)) - 300 <= now < float(claims.get("exp", 0)) + 300):
            raise ValueError("Invalid JWT: Token must be a short-lived token")
        scopes = str(claims.get("scope", "")).split()
        if not any(s.startswith(CALENDAR_SCOPE_PREFIX) for s in scopes):
            raise ValueError("Invalid OAuth scope or ID token audience provided.")
        return dict(claims)

    def _authorised(self, headers: Mapping[str, str]) -> tuple[str, str] | None:
        value = headers.get("Authorization") or headers.get("authorization") or ""
        if not value.startswith("Bearer "):
            return None
        with self._data_lock:
            return self._tokens.get(value[7:])

    def _watch(self, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if self._authorised(headers) is None:
            return _json(401, google_error(401, "authError", "Invalid Credentials"))
        room = unquote(path[len(_EVENTS_PREFIX) : -len("/events/watch")])
        with self._data_lock:
            if room.lower() not in self._calendars:
                return _json(404, google_error(404))
        return self.channels.watch(room, body)

    def _events_list(self, path: str, query: str, headers: Mapping[str, str]) -> Response:
        who = self._authorised(headers)
        if who is None:
            return _json(
                401,
                google_error(401, "authError", "Invalid Credentials"),
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        room = unquote(path[len(_EVENTS_PREFIX) : -len("/events")])
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        with self._data_lock:
            cal = self._calendars.get(room.lower())
            if cal is None or (
                cal.shared_with is not None
                and who[1] not in cal.shared_with
                and who[0].lower() not in cal.shared_with
            ):
                return _json(404, google_error(404))
            try:
                page = self._list_page(room, cal, params)
            except _ApiError as exc:
                return _json(exc.status, google_error(exc.status, exc.reason, exc.message))
        return _json(200, json.dumps(page).encode())

    def _list_page(self, room: str, cal: _Calendar, params: Mapping[str, str]) -> dict[str, Any]:
        single = params.get("singleEvents", "false") == "true"
        sync_token = params.get("syncToken")
        page_size = min(int(params.get("maxResults") or self.default_page_size), 2500)
        if page_size < 1:
            raise _ApiError(400, "invalid", "Invalid maxResults")
        if sync_token is not None:
            if any(k in params for k in ("timeMin", "timeMax", "orderBy", "q", "updatedMin")):
                raise _ApiError(400, "invalid", "Sync token cannot be used with these parameters.")
            since = self._decode_sync_token(room, cal, sync_token)
            show_deleted = True
        else:
            since = -1
            show_deleted = params.get("showDeleted", "false") == "true"
        time_min = _parse_time(params.get("timeMin"))
        time_max = _parse_time(params.get("timeMax"))
        offset = 0
        snapshot = cal.seq
        if params.get("pageToken"):
            try:
                token = json.loads(_unb64url(params["pageToken"]))
                offset, snapshot = int(token["o"]), int(token["s"])
            except (ValueError, KeyError, TypeError) as exc:
                raise _ApiError(400, "invalid", "Invalid page token") from exc
        items = [
            o
            for o in self._occurrences(cal, single=single, time_min=time_min, time_max=time_max)
            if o.seq > since
            and (show_deleted or o.resource.get("status") != "cancelled")
            and (time_min is None or o.end > time_min or (o.start == o.end == time_min))
            and (time_max is None or o.start < time_max)
        ]
        items.sort(key=lambda o: (o.start, str(o.resource["id"])))
        chunk = items[offset : offset + page_size]
        page: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{snapshot}"',
            "summary": room,
            "updated": rfc3339(self._now()),
            "timeZone": "UTC",
            "accessRole": "reader",
            "defaultReminders": [],
            "items": [o.resource for o in chunk],
        }
        if offset + page_size < len(items):
            page["nextPageToken"] = _b64url(
                json.dumps({"o": offset + page_size, "s": snapshot}).encode()
            )
        else:
            page["nextSyncToken"] = _b64url(
                json.dumps({"r": room.lower(), "e": cal.epoch, "q": snapshot}).encode()
            )
        return page

    def _decode_sync_token(self, room: str, cal: _Calendar, token: str) -> int:
        try:
            data = json.loads(_unb64url(token))
            seq, epoch, owner = int(data["q"]), int(data["e"]), str(data["r"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _ApiError(410, "fullSyncRequired", _REASONS[410][1]) from exc
        if epoch != cal.epoch or owner != room.lower() or seq > cal.seq:
            raise _ApiError(410, "fullSyncRequired", _REASONS[410][1])
        return seq

    def _occurrences(
        self, cal: _Calendar, *, single: bool, time_min: datetime | None, time_max: datetime | None
    ) -> Iterator[_Occurrence]:
        for event_id, record in cal.events.items():
            resource = record.resource
            if record.deleted:
                if single and resource.get("recurrence"):
                    for inst in self._expand(resource, time_min, time_max):
                        yield _Occurrence(
                            resource=_tombstone(inst),
                            seq=record.seq,
                            start=_start_of(inst),
                            end=_end_of(inst),
                        )
                yield _Occurrence(
                    resource={
                        "kind": "calendar#event",
                        "id": event_id,
                        "status": "cancelled",
                        "etag": f'"{record.seq}"',
                    },
                    seq=record.seq,
                    start=_start_of(resource),
                    end=_end_of(resource),
                )
                continue
            if not (single and resource.get("recurrence")):
                yield _Occurrence(
                    resource=resource,
                    seq=record.seq,
                    start=_start_of(resource),
                    end=_end_of(resource),
                )
                if not single:
                    for exc in cal.exceptions.get(event_id, {}).values():
                        yield _Occurrence(
                            resource=exc.resource,
                            seq=exc.seq,
                            start=_start_of(exc.resource),
                            end=_end_of(exc.resource),
                        )
                continue
            exceptions = cal.exceptions.get(event_id, {})
            seen: set[str] = set()
            for inst in self._expand(resource, time_min, time_max):
                override = exceptions.get(inst["id"])
                if override is not None:
                    seen.add(inst["id"])
                    out = (
                        _cancelled_instance(override.resource)
                        if override.resource.get("status") == "cancelled"
                        else override.resource
                    )
                    yield _Occurrence(
                        resource=out,
                        seq=max(override.seq, record.seq),
                        start=_start_of(override.resource),
                        end=_end_of(override.resource),
                    )
                else:
                    yield _Occurrence(
                        resource=inst, seq=record.seq, start=_start_of(inst), end=_end_of(inst)
                    )
            for inst_id, override in exceptions.items():
                if inst_id not in seen and override.resource.get("status") != "cancelled":
                    # a moved instance whose original time is outside the expansion range
                    yield _Occurrence(
                        resource=override.resource,
                        seq=max(override.seq, record.seq),
                        start=_start_of(override.resource),
                        end=_end_of(override.resource),
                    )

    def _expand(
        self, master: Mapping[str, Any], time_min: datetime | None, time_max: datetime | None
    ) -> Iterator[dict[str, Any]]:
        """RFC 5545 RRULE/RDATE/EXDATE expansion in the event's time zone (as Google does)."""
        start = master["start"]
        all_day = "date" in start
        tz = ZoneInfo(start.get("timeZone") or master.get("timeZone") or "UTC")
        if all_day:
            first = datetime.combine(date.fromisoformat(start["date"]), datetime.min.time(), tz)
        else:
            first = datetime.fromisoformat(start["dateTime"]).astimezone(tz)
        duration = _end_of(master) - _start_of(master)
        ruleset = rruleset()
        for line in master.get("recurrence", []):
            name, _, value = line.partition(":")
            kind = name.split(";", 1)[0].upper()
            if kind == "RRULE":
                ruleset.rrule(
                    rrulestr(f"RRULE:{value}", dtstart=first.replace(tzinfo=None), ignoretz=True)
                )  # type: ignore[arg-type]
            elif kind in ("EXDATE", "RDATE"):
                for part in value.split(","):
                    moment = _parse_ical_moment(part, name, tz).replace(tzinfo=None)
                    (ruleset.exdate if kind == "EXDATE" else ruleset.rdate)(moment)
        lower = time_min if time_min is not None else self._now() - self.expansion_horizon
        upper = time_max or self._now() + self.expansion_horizon
        lower_naive = (lower - duration).astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
        upper_naive = upper.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
        for naive in ruleset.between(lower_naive, upper_naive, inc=True):
            local = naive.replace(tzinfo=tz)
            yield self._instance(master, local.date() if all_day else local, duration=duration)

    def _instance(
        self,
        master: Mapping[str, Any],
        original: datetime | date,
        *,
        duration: timedelta | None = None,
    ) -> dict[str, Any]:
        if duration is None:
            duration = _end_of(master) - _start_of(master)
        instance = {k: copy.deepcopy(v) for k, v in master.items() if k != "recurrence"}
        tz_name = master["start"].get("timeZone")
        if isinstance(original, datetime):
            local = original.astimezone(ZoneInfo(tz_name)) if tz_name else original
            instance["id"] = f"{master['id']}_{original.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            moment = {"dateTime": rfc3339(local), **({"timeZone": tz_name} if tz_name else {})}
            end_local = local + duration
            instance["start"] = moment
            instance["end"] = {
                "dateTime": rfc3339(end_local),
                **({"timeZone": tz_name} if tz_name else {}),
            }
        else:
            instance["id"] = f"{master['id']}_{original:%Y%m%d}"
            moment = {"date": original.isoformat()}
            instance["start"] = moment
            instance["end"] = {
                "date": (original + timedelta(days=max(duration.days, 1))).isoformat()
            }
        instance["originalStartTime"] = dict(moment)
        instance["recurringEventId"] = master["id"]
        return instance


class _ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def _json(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status=status, body=body, headers=dict(headers or {}))


def _oauth_error(error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return _json(400, body)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _ApiError(400, "invalid", f"Bad time: {value}") from exc
    if parsed.utcoffset() is None:
        raise _ApiError(400, "invalid", f"Time without offset: {value}")
    return parsed


def _moment(value: Mapping[str, Any]) -> datetime:
    if "dateTime" in value:
        return datetime.fromisoformat(str(value["dateTime"]))
    return datetime.combine(date.fromisoformat(str(value["date"])), datetime.min.time(), UTC)


def _start_of(resource: Mapping[str, Any]) -> datetime:
    if "start" in resource:
        return _moment(resource["start"])
    if "originalStartTime" in resource:
        return _moment(resource["originalStartTime"])
    return datetime.min.replace(tzinfo=UTC)


def _end_of(resource: Mapping[str, Any]) -> datetime:
    if "end" in resource:
        return _moment(resource["end"])
    return _start_of(resource)


def _parse_ical_moment(value: str, name: str, tz: ZoneInfo) -> datetime:
    if "VALUE=DATE" in name.upper() and "T" not in value:
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=tz)
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(tz)
    for param in name.split(";")[1:]:
        if param.upper().startswith("TZID="):
            tz = ZoneInfo(param[5:])
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz)


def _cancelled_instance(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A cancelled exception: only id, recurringEventId, originalStartTime and status are set."""
    return {
        "kind": "calendar#event",
        "etag": resource.get("etag", '"0"'),
        "id": resource["id"],
        "status": "cancelled",
        "recurringEventId": resource["recurringEventId"],
        "originalStartTime": resource["originalStartTime"],
    }


def _tombstone(instance: Mapping[str, Any]) -> dict[str, Any]:
    return _cancelled_instance(instance)
