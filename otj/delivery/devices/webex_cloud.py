"""Webex cloud-registered RoomOS devices: the booking list through the Webex cloud xAPI (httpx).

The Webex Devices API proxies xAPI to a cloud-registered device (developer.webex.com, "xAPI"):

* ``POST /v1/xapi/command/Bookings.Put`` with ``{"deviceId", "arguments": {}, "body": {…}}``
  replaces the list (the body is the same JSON document a local ``Bookings Put`` carries);
  ``POST /v1/xapi/command/Bookings.List`` answers ``{"result": {"Booking": […]}}``;
* ``GET /v1/xapi/status?deviceId=…&name=SystemUnit.Software.Version`` reads the version.

Tokens come from :mod:`otj.delivery.devices.webex_auth` (OAuth 2.0 refresh_token grant,
RFC 6749 §6); a 401 refreshes the token once. Webex rate limits are dynamic per application and
organisation: a 429 carries ``Retry-After`` (seconds), and every request of the same token waits
that long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from otj.delivery.devices.booking_documents import BookingsParseError, put_payload
from otj.delivery.devices.bookings import Booking, BookingsMode, parse_utc
from otj.delivery.devices.errors import (
    EndpointCommandFailed,
    EndpointError,
    EndpointProtocolError,
    EndpointUnauthorised,
    EndpointUnreachable,
)
from otj.delivery.devices.webex_auth import (
    TokenSource,
    WebexCredentials,
    error_text,
)
from otj.delivery.devices.xapi import SoftwareVersion, parse_software_version

log = logging.getLogger(__name__)

#: The Webex REST API (the fake in tests/fakes/webex.py stands in for it).
WEBEX_API = "https://webexapis.com"
#: Environment variable overriding :data:`WEBEX_API` (a proxy, a regional or test endpoint).
WEBEX_API_ENV = "OTJ_WEBEX_API_URL"
#: A 429 asking to wait longer than this fails the endpoint (the plan backs off) instead.
MAX_RETRY_AFTER = 60.0
#: 429 answers one request waits through before giving up.
MAX_RATE_LIMITED = 5
#: The cloud xAPI proxies to the device and waits for its answer: give it time.
READ_TIMEOUT = 30.0


class EndpointRateLimited(EndpointError):
    """Webex answered 429 with a ``Retry-After`` longer than we wait, or too many times."""

    kind = "rate-limited"


class EndpointUnsupported(EndpointError):
    """The device's software cannot take the booking list this way."""

    kind = "unsupported"


class WebexDeviceNotFound(EndpointError):
    """The Webex Devices API knows no device with this id (or the token cannot see it)."""

    kind = "device"


def retry_after(response: httpx.Response) -> float:
    """Seconds from ``Retry-After`` (delta-seconds, RFC 9110 §10.2.3); 1 when absent/odd."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class WebexConnection:
    """How one cloud-registered device is reached (what :func:`~otj.delivery.engine.deliver.deliver`
    reads: the endpoint name; HttpFeedback is not registered through the cloud)."""

    endpoint: str
    device_id: str
    credentials: WebexCredentials = field(repr=False)
    feedback_slot: int = 0
    room: str = ""


class WebexCloud:
    """One httpx client to the Webex API shared by every ``WEBEX`` endpoint, with the token
    sources, the 429 pauses and a concurrency cap (Webex limits are per app and organisation)."""

    def __init__(
        self,
        base_url: str = WEBEX_API,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        concurrency: int = 20,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=10.0),
            transport=transport,
            headers={"User-Agent": "otj-delivery"},
            trust_env=False,
        )
        self._tokens: dict[tuple[str, str, str], TokenSource] = {}
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.max_retry_after = max_retry_after
        #: xAPI requests sent and 429 answers received, for reports.
        self.api_requests = 0
        self.rate_limited = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    @property
    def requests(self) -> int:
        """Every request sent to Webex: xAPI requests and token refreshes."""
        return self.api_requests + sum(s.refreshes for s in self._tokens.values())

    def device(
        self, endpoint: str, device_id: str, credentials: WebexCredentials, *, room: str = ""
    ) -> WebexDeviceClient:
        """A client for one device (cheap: it shares this pool and token source)."""
        connection = WebexConnection(
            endpoint=endpoint, device_id=device_id, credentials=credentials, room=room
        )
        return WebexDeviceClient(self, connection)

    def _source(self, credentials: WebexCredentials) -> TokenSource:
        key = credentials.key()
        source = self._tokens.get(key)
        if source is None:
            source = self._tokens[key] = TokenSource(credentials)
        return source

    async def call(
        self,
        credentials: WebexCredentials,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        what: str,
    ) -> Any:
        """One API request with a valid token; the parsed JSON answer, or an EndpointError."""
        source = self._source(credentials)
        loop = asyncio.get_running_loop()
        stale = ""
        refused = 0
        limited = 0
        while True:
            wait = source.paused_until - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self._slots:
                token = await source.token(self._http, stale=stale)
                try:
                    self.api_requests += 1
                    response = await self._http.request(
                        method,
                        path,
                        params=params,
                        json=json,
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.TimeoutException as exc:
                    raise EndpointUnreachable(f"{what}: timed out ({type(exc).__name__})") from exc
                except httpx.HTTPError as exc:
                    raise EndpointUnreachable(f"{what}: {exc or type(exc).__name__}") from exc
            status = response.status_code
            if status == 401 and refused == 0:
                refused, stale = 1, token  # expired or revoked: refresh once and try again
                continue
            if status == 429:
                self.rate_limited += 1
                limited += 1
                delay = retry_after(response)
                if delay > self.max_retry_after or limited > MAX_RATE_LIMITED:
                    raise EndpointRateLimited(
                        f"{what}: Webex rate limit (429, Retry-After {delay:g} s)"
                    )
                source.paused_until = max(source.paused_until, loop.time() + delay)
                log.info("Webex asked to wait %g s (429) before %s", delay, what)
                continue
            return self._answer(response, what=what)

    @staticmethod
    def _answer(response: httpx.Response, *, what: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise EndpointUnauthorised(
                f"{what}: {error_text(response)} (the token needs spark:xapi_commands and "
                "spark:xapi_statuses and access to the device)"
            )
        if status == 404:
            raise WebexDeviceNotFound(f"{what}: {error_text(response)}")
        if status in (502, 503, 504):
            raise EndpointUnreachable(
                f"{what}: device offline or not answering ({error_text(response)})"
            )
        if status == 400:
            raise EndpointCommandFailed(f"{what}: {error_text(response)}")
        if status not in (200, 204):
            raise EndpointProtocolError(f"{what}: {error_text(response)}")
        if status == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise EndpointProtocolError(f"{what}: answer is not JSON") from exc


class WebexDeviceClient:
    """One cloud-registered device, with the interface
    :func:`otj.delivery.engine.deliver.deliver` uses."""

    def __init__(self, cloud: WebexCloud, connection: WebexConnection) -> None:
        self.cloud = cloud
        self.connection = connection

    async def aclose(self) -> None:
        """Nothing to close: the pool belongs to :class:`WebexCloud`."""

    async def command(
        self, name: str, *, body: Any = None, arguments: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        """``POST /v1/xapi/command/<name>``; the ``result`` object of the answer."""
        payload: dict[str, Any] = {
            "deviceId": self.connection.device_id,
            "arguments": dict(arguments or {}),
        }
        if body is not None:
            payload["body"] = body
        data = await self.cloud.call(
            self.connection.credentials,
            "POST",
            f"/v1/xapi/command/{name}",
            json=payload,
            what=f"xapi command {name} on {self.connection.device_id}",
        )
        result = data.get("result", {}) if isinstance(data, Mapping) else None
        if not isinstance(result, Mapping):
            raise EndpointProtocolError(f"{name}: no result object in the answer")
        return result

    async def software_version(self) -> SoftwareVersion:
        """``SystemUnit.Software.Version`` through ``GET /v1/xapi/status``."""
        data = await self.cloud.call(
            self.connection.credentials,
            "GET",
            "/v1/xapi/status",
            params={"deviceId": self.connection.device_id, "name": "SystemUnit.Software.Version"},
            what=f"xapi status on {self.connection.device_id}",
        )
        try:
            text = str(data["result"]["SystemUnit"]["Software"]["Version"])
        except (KeyError, TypeError) as exc:
            raise EndpointProtocolError("xapi status: no SystemUnit.Software.Version") from exc
        return parse_software_version(text)

    async def put_bookings(
        self, bookings: Sequence[Booking], *, version: SoftwareVersion
    ) -> BookingsMode:
        """``Bookings.Put`` with the list as the command body (RoomOS with Bookings Put only:
        the cloud has no equivalent of the legacy ``/bookingsputxml``)."""
        if not version.supports_bookings_put:
            raise EndpointUnsupported(
                f"software {version.text or 'unknown'} has no Bookings Put (CE 9.15 or later "
                "is needed for cloud delivery)"
            )
        body = put_payload(bookings, include_platform=version.supports_meeting_platform)
        await self.command("Bookings.Put", body=body)
        return "put"

    async def list_bookings(self) -> tuple[Booking, ...]:
        """``Bookings.List`` (every stored booking)."""
        result = await self.command("Bookings.List")
        try:
            return parse_cloud_bookings(result)
        except BookingsParseError as exc:
            raise EndpointProtocolError(f"Bookings.List: {exc}") from exc

    async def register_feedback(
        self, *, slot: int, server_url: str, expressions: Sequence[str] = ()
    ) -> None:
        """Not used: cloud devices are read back periodically instead of posting events."""
        del slot, server_url, expressions


def _items(value: Any) -> list[Mapping[str, Any]]:
    """An xAPI JSON list (a single element may come as an object)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _node(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _str(node: Any, *path: str, default: str = "") -> str:
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return default if node is None or isinstance(node, (Mapping, list)) else str(node)


def parse_cloud_bookings(result: Mapping[str, Any]) -> tuple[Booking, ...]:
    """Bookings from a cloud ``Bookings.List`` result (the JSON form of BookingsListResult)."""
    bookings = []
    for item in _items(result.get("Booking")):
        ident, start_text = _str(item, "Id"), _str(item, "Time", "StartTime")
        if not ident or not start_text:
            raise BookingsParseError("booking without Id or Time/StartTime")
        try:
            start = parse_utc(start_text)
            end_text = _str(item, "Time", "EndTime")
            minutes = (
                round((parse_utc(end_text) - start).total_seconds() / 60)
                if end_text
                else int(_str(item, "Time", "Duration", default="0") or 0)
            )
            start_buffer = int(_str(item, "Time", "StartTimeBuffer", default="0") or 0)
            end_buffer = int(_str(item, "Time", "EndTimeBuffer", default="0") or 0)
        except ValueError as exc:
            raise BookingsParseError(f"booking {ident}: {exc}") from exc
        calls = _items(_node(item, "DialInfo", "Calls", "Call"))
        call = calls[0] if calls else {}
        name = _str(item, "Organizer", "Name") or " ".join(
            p
            for p in (_str(item, "Organizer", "FirstName"), _str(item, "Organizer", "LastName"))
            if p
        )
        bookings.append(
            Booking(
                id=ident,
                title=_str(item, "Title"),
                privacy="Private" if _str(item, "Privacy") == "Private" else "Public",
                organizer_name=name,
                organizer_email=_str(item, "Organizer", "Email"),
                start=start,
                duration_minutes=minutes,
                start_buffer_seconds=start_buffer,
                end_buffer_seconds=end_buffer,
                number=_str(call, "Number"),
                protocol=_str(call, "Protocol", default="SIP"),
                platform=_str(item, "MeetingPlatform", default="Other"),
                call_type=_str(call, "CallType", default="Video"),
            )
        )
    return tuple(bookings)
