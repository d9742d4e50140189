"""A wire-faithful fake of Microsoft Graph v1.0 calendar reads and the Entra ID token endpoint.

HTTPS only (msal accepts nothing else as an authority): start it with a certificate from
``self_signed_certificate`` and point the client at ``fake.authority_host``/``fake.graph_endpoint``
with that certificate as CA. Implemented as Microsoft documents them:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (msal tenant discovery) and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials; ``invalid_client`` on a bad secret).
- ``GET /v1.0/users/{room}/calendarView?startDateTime&endDateTime`` with ``$top``/``$skip`` and
  ``@odata.nextLink``; ``GET /v1.0/users/{room}/calendarView/delta`` (initial round, then
  ``$skiptoken`` pages and a ``$deltatoken`` ``@odata.deltaLink``; deleted items as ``@removed``).
- ``Prefer: outlook.timezone="…"``, ``outlook.body-content-type="text|html"`` and
  ``odata.maxpagesize=N`` honoured and echoed in ``Preference-Applied``.
- Change notification subscriptions (``tests.fakes.graph_subscriptions``): validation
  handshake, notifications POSTed on every change, lifecycle events, renewal, deletion.
- Errors in Graph's format: 401 ``InvalidAuthenticationToken``, 404 ``ErrorInvalidUser``, 410
  ``SyncStateNotFound``, 429 ``TooManyRequests`` with ``Retry-After``, 5xx.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from tests.fakes.google_calendar_http import Response, ScriptedHTTPServer
from tests.fakes.graph_store import FakeEvent, MailboxStore, Occurrence
from tests.fakes.graph_subscriptions import GraphSubscriptions

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_USERS = re.compile(r"^/v1\.0/users/([^/]+)/calendarView(/delta)?$")
_PREFER = re.compile(r'([\w.-]+)\s*=\s*"?([^";,]*)"?')
_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ErrorInvalidUser",
    410: "SyncStateNotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def graph_error(status: int, code: str | None = None, message: str = "") -> bytes:
    """Graph's error body: ``{"error": {"code", "message", "innerError"}}``."""
    return json.dumps(
        {
            "error": {
                "code": code or _CODES.get(status, "UnknownError"),
                "message": message or f"Fake Graph error {status}",
                "innerError": {"date": datetime.now(UTC).isoformat(), "request-id": "fake"},
            }
        }
    ).encode()


class GraphFake(ScriptedHTTPServer):
    """The fake; ``store`` holds the room mailboxes (see ``tests.fakes.graph_store``)."""

    def __init__(
        self,
        *,
        tls: tuple[Path, Path],
        tenant_id: str = "00000000-0000-0000-0000-000000000000",
        client_id: str = "11111111-1111-1111-1111-111111111111",
        client_secret: str = "fake-graph-secret",
        now: Callable[[], datetime] | None = None,
        default_page_size: int = 10,
        notification_ca: Path | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = MailboxStore(now=now)
        self.default_page_size = default_page_size
        self._tokens: set[str] = set()
        self._token_lock = threading.Lock()
        self.token_requests = 0
        self.prefer_seen: list[str] = []
        self.subscriptions = GraphSubscriptions(
            tenant_id=tenant_id, client_id=client_id, now=now, ca_file=notification_ca
        )
        self.subscriptions.has_mailbox = self.store.has_mailbox
        self.store.on_change(self.subscriptions.changed)

    @property
    def url(self) -> str:
        return self.graph_endpoint

    @property
    def authority_host(self) -> str:
        return self.base_url

    @property
    def graph_endpoint(self) -> str:
        return f"{self.base_url}/v1.0"

    def revoke_tokens(self) -> None:
        with self._token_lock:
            self._tokens.clear()

    # convenience for tests -----------------------------------------------------------------
    def add_event(self, room: str, event: FakeEvent) -> str:
        return self.store.put(room, event)

    def expire_delta_tokens(self, room: str) -> None:
        """Every delta token issued so far for ``room`` answers 410 ``SyncStateNotFound``."""
        self.store.expire_states(room)

    # HTTP ----------------------------------------------------------------------------------
    def room_of(self, path: str) -> str | None:
        match = _USERS.match(urlsplit(path).path)
        return unquote(match.group(1)) if match else None

    def error_body(self, status: int) -> bytes:
        return graph_error(status)

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        split = urlsplit(path)
        parts = split.path.strip("/").split("/")
        if method == "GET" and split.path.endswith("/v2.0/.well-known/openid-configuration"):
            return self._openid(parts[0])
        if method == "POST" and split.path.endswith("/oauth2/v2.0/token"):
            return self._token(parts[0], body)
        if split.path.startswith("/v1.0/subscriptions"):
            if not self._authorised(headers):
                return _json(401, graph_error(401, "InvalidAuthenticationToken"))
            return self.subscriptions.route(method, split.path, body)
        match = _USERS.match(split.path)
        if method == "GET" and match:
            return self._calendar_view(
                unquote(match.group(1)), bool(match.group(2)), split.query, headers
            )
        return _json(404, graph_error(400, "BadRequest", f"Resource not found for {split.path}"))

    def _openid(self, tenant: str) -> Response:
        if tenant != self.tenant_id:
            return _json(
                400,
                json.dumps(
                    {
                        "error": "invalid_tenant",
                        "error_description": "AADSTS90002: Tenant not found.",
                    }
                ).encode(),
            )
        base = f"{self.base_url}/{tenant}"
        doc = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
        }
        return _json(200, json.dumps(doc).encode())

    def _token(self, tenant: str, body: bytes) -> Response:
        with self._token_lock:
            self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "AADSTS70003")
        if tenant != self.tenant_id:
            return _oauth_error(400, "invalid_request", "AADSTS90002: Tenant not found.")
        if form.get("client_id") != self.client_id:
            return _oauth_error(400, "unauthorized_client", "AADSTS700016: Application not found")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        scopes = form.get("scope", "").split()
        if not any(s == GRAPH_SCOPE or s == f"{self.base_url}/.default" for s in scopes):
            return _oauth_error(400, "invalid_scope", "AADSTS1002012: scope must be .default")
        token = "eyJ0eXAiOiJKV1QifQ.fake." + secrets.token_urlsafe(24)
        with self._token_lock:
            self._tokens.add(token)
        payload = {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }
        return _json(200, json.dumps(payload).encode())

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        with self._token_lock:
            return auth.startswith("Bearer ") and auth[7:] in self._tokens

    def _calendar_view(
        self, room: str, delta: bool, query: str, headers: Mapping[str, str]
    ) -> Response:
        if not self._authorised(headers):
            return _json(
                401,
                graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid."),
            )
        if not self.store.has_mailbox(room):
            return _json(
                404,
                graph_error(404, "ErrorInvalidUser", f"The requested user '{room}' is invalid."),
            )
        prefer = _prefer(headers)
        self.prefer_seen.append(", ".join(f'{k}="{v}"' for k, v in prefer.items()))
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        page_size = (
            _int(prefer.get("odata.maxpagesize"))
            or _int(params.get("$top"))
            or (self.default_page_size)
        )
        try:
            if delta:
                payload = self._delta(room, params, page_size, prefer)
            else:
                payload = self._view(room, params, page_size, prefer)
        except _GraphError as exc:
            return _json(exc.status, graph_error(exc.status, exc.code, str(exc)))
        applied = ", ".join(
            f'{k}="{v}"' if k.startswith("outlook") else f"{k}={v}" for k, v in prefer.items()
        )
        return _json(
            200, json.dumps(payload).encode(), {"Preference-Applied": applied} if applied else None
        )

    def _window(self, params: Mapping[str, str]) -> tuple[datetime, datetime]:
        try:
            start = _parse_graph_time(params["startDateTime"])
            end = _parse_graph_time(params["endDateTime"])
        except (KeyError, ValueError) as exc:
            raise _GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query "
                "string parameters StartDateTime and EndDateTime.",
            ) from exc
        return start, end

    def _view(
        self, room: str, params: Mapping[str, str], page_size: int, prefer: Mapping[str, str]
    ) -> dict[str, Any]:
        start, end = self._window(params)
        skip = _int(params.get("$skip")) or 0
        items = self.store.view(room, start, end)
        chunk = items[skip : skip + page_size]
        payload: dict[str, Any] = {
            "@odata.context": f"{self.graph_endpoint}/$metadata#users('{room}')/calendarView",
            "value": [_event_json(o, room, prefer) for o in chunk],
        }
        if skip + page_size < len(items):
            next_params = dict(params)
            next_params["$skip"] = str(skip + page_size)
            payload["@odata.nextLink"] = (
                f"{self.graph_endpoint}/users/{room}/calendarView?{urlencode(next_params)}"
            )
        return payload

    def _delta(
        self, room: str, params: Mapping[str, str], page_size: int, prefer: Mapping[str, str]
    ) -> dict[str, Any]:
        if "$deltatoken" in params or "$skiptoken" in params:
            token = _decode(params.get("$deltatoken") or params["$skiptoken"])
            if token.get("e") != self.store.epoch(room) or token.get("r") != room.lower():
                raise _GraphError(
                    410, "SyncStateNotFound", "The sync state generation is not valid."
                )
            start = datetime.fromisoformat(token["s"])
            end = datetime.fromisoformat(token["w"])
            since, offset, snapshot = int(token["q"]), int(token.get("o", 0)), int(token["n"])
        else:
            start, end = self._window(params)
            since, offset, snapshot = -1, 0, self.store.seq(room)
        changed, removed = self.store.changes(room, since, start, end)
        entries: list[dict[str, Any]] = [_event_json(o, room, prefer) for o in changed]
        if since >= 0:
            entries += [
                {
                    "@odata.type": "#microsoft.graph.event",
                    "id": item_id,
                    "@removed": {"reason": "deleted"},
                }
                for item_id in removed
            ]
        chunk = entries[offset : offset + page_size]
        base = {
            "r": room.lower(),
            "e": self.store.epoch(room),
            "s": start.isoformat(),
            "w": end.isoformat(),
            "n": snapshot,
        }
        payload: dict[str, Any] = {
            "@odata.context": f"{self.graph_endpoint}/$metadata#Collection(event)",
            "value": chunk,
        }
        link = f"{self.graph_endpoint}/users/{room}/calendarView/delta"
        if offset + page_size < len(entries):
            skip = _encode({**base, "q": since, "o": offset + page_size})
            payload["@odata.nextLink"] = f"{link}?$skiptoken={skip}"
        else:
            payload["@odata.deltaLink"] = f"{link}?$deltatoken={_encode({**base, 'q': snapshot})}"
        return payload


class _GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _json(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status=status, body=body, headers=dict(headers or {}))


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [7000215],
        "trace_id": "fake",
        "correlation_id": "fake",
    }
    return _json(status, json.dumps(body).encode())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _prefer(headers: Mapping[str, str]) -> dict[str, str]:
    values = [v for k, v in headers.items() if k.lower() == "prefer"]
    out: dict[str, str] = {}
    for value in values:
        for name, setting in _PREFER.findall(value):
            out[name] = setting
    return out


def _encode(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(text: str) -> dict[str, Any]:
    try:
        return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
    except ValueError as exc:
        raise _GraphError(410, "SyncStateNotFound", "Invalid delta token.") from exc


def _parse_graph_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))


def _date_time(value: datetime, zone_name: str) -> dict[str, str]:
    """A ``dateTimeTimeZone``: local time with 7 fractional digits and the zone name."""
    local = value.astimezone(_zone(zone_name)).replace(tzinfo=None)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}


def _body(event: FakeEvent, wanted: str) -> dict[str, str]:
    if wanted == "text" and event.body_type == "html":
        text = re.sub(r"<a [^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", r"\2 <\1>", event.body)
        return {"contentType": "text", "content": html.unescape(re.sub(r"<[^>]+>", "", text))}
    if wanted == "html" and event.body_type == "text":
        content = (
            '<html><head><meta http-equiv="Content-Type" content="text/html; '
            'charset=utf-8"></head><body><div>'
            + html.escape(event.body).replace("\n", "<br>")
            + "</div></body></html>"
        )
        return {"contentType": "html", "content": content}
    return {"contentType": event.body_type, "content": event.body}


_RESPONSE = {
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentativelyAccepted",
    "none": "none",
    "organizer": "organizer",
}


def _event_json(occurrence: Occurrence, room: str, prefer: Mapping[str, str]) -> dict[str, Any]:
    """The ``event`` resource as Graph v1.0 returns it."""
    event = occurrence.event
    zone = prefer.get("outlook.timezone") or event.tz
    room_response = next(
        (a.response for a in event.attendees if a.email.lower() == room.lower()), "accepted"
    )
    if event.organizer_email.lower() == room.lower():
        room_response = "organizer"
    start = event.start
    end = event.end
    if event.all_day:
        # all-day events are midnight to midnight in the requested zone
        start = datetime.combine(event.start.date(), datetime.min.time(), _zone(zone))
        end = datetime.combine(event.end.date(), datetime.min.time(), _zone(zone))
    data: dict[str, Any] = {
        "@odata.etag": f'W/"{occurrence.seq}"',
        "id": occurrence.id,
        "createdDateTime": event.modified.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "lastModifiedDateTime": event.modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "changeKey": f"CK{occurrence.seq}",
        "categories": [],
        "originalStartTimeZone": event.tz,
        "originalEndTimeZone": event.tz,
        "iCalUId": event.uid,
        "uid": event.uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": False,
        "hasAttachments": False,
        "subject": ("Canceled: " if event.cancelled else "") + event.subject,
        "bodyPreview": _body(event, "text")["content"][:255],
        "importance": "normal",
        "sensitivity": "private" if event.private else "normal",
        "isAllDay": event.all_day,
        "isCancelled": event.cancelled,
        "isOrganizer": event.organizer_email.lower() == room.lower(),
        "responseRequested": True,
        "seriesMasterId": None if occurrence.kind == "singleInstance" else occurrence.master_id,
        "showAs": "free" if room_response == "declined" or event.cancelled else "busy",
        "type": occurrence.kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={occurrence.id}",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": bool(event.join_url),
        "onlineMeetingProvider": "teamsForBusiness" if event.join_url else "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": _RESPONSE[room_response], "time": "0001-01-01T00:00:00Z"},
        "body": _body(event, prefer.get("outlook.body-content-type", "html")),
        "start": _date_time(start, zone),
        "end": _date_time(end, zone),
        "location": {
            "displayName": event.location,
            "locationType": "default",
            "uniqueIdType": "unknown",
            "address": {},
            "coordinates": {},
        },
        "locations": [{"displayName": event.location}] if event.location else [],
        "recurrence": None,
        "attendees": [
            {
                "type": a.kind,
                "status": {"response": _RESPONSE[a.response], "time": "0001-01-01T00:00:00Z"},
                "emailAddress": {"name": a.name, "address": a.email},
            }
            for a in event.attendees
        ],
        "organizer": {
            "emailAddress": {"name": event.organizer_name, "address": event.organizer_email}
        },
        "onlineMeeting": (
            {
                "joinUrl": event.join_url,
                "conferenceId": event.conference_id or None,
                "tollNumber": None,
            }
            if event.join_url
            else None
        ),
    }
    if occurrence.original_start is not None:
        data["originalStart"] = (
            occurrence.original_start.astimezone(UTC).isoformat().replace("+00:00", "Z")
        )
    return data
