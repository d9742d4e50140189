"""A wire-faithful fake of the Webex API parts the cloud delivery uses (an ASGI app).

* ``POST /v1/access_token`` — OAuth 2.0 refresh_token grant (form-encoded, RFC 6749 §6):
  ``{"access_token", "expires_in", "refresh_token", "refresh_token_expires_in"}``; a wrong
  client or refresh token is 400 ``invalid_grant``-style JSON as Webex answers it.
* ``GET /v1/xapi/status?deviceId=…&name=…`` and ``POST /v1/xapi/command/<Name>`` with
  ``{"deviceId", "arguments", "body"}`` for ``Bookings.Put`` / ``Bookings.List`` /
  ``Bookings.Clear`` and ``UserInterface.Message.Alert.Display``; the Put body is checked with
  the codec simulator's Bookings Put rules.
* Errors are Webex's JSON ``{"message", "errors": [{"description"}], "trackingId"}``: 401 for a
  missing, unknown or expired token, 404 for an unknown device, 502 for an offline device, 429
  with ``Retry-After`` when told to throttle, 400 for a bad command or body.

Served on loopback with uvicorn (``tests/integration/delivery/served.py``) so the product's
httpx client talks to it over real HTTP.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otj.demo.codec.bookings import PUT_SOFTWARE, StoredBooking, validate_put_payload

XapiRejected = ValueError


@dataclass(kw_only=True)
class FakeDevice:
    """One cloud-registered device and what it stores."""

    device_id: str
    software_version: str = PUT_SOFTWARE
    online: bool = True
    bookings: list[StoredBooking] = field(default_factory=list)
    put_count: int = 0
    list_count: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(kw_only=True)
class _Token:
    expires: float
    revoked: bool = False


class WebexFake:
    """The fake's state; :attr:`app` is the ASGI application."""

    def __init__(
        self,
        *,
        client_id: str = "C-otj-test",
        client_secret: str = "client-secret",
        refresh_token: str = "refresh-1",
        token_lifetime: float = 1209600.0,  # 14 days, Webex's access token lifetime
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.devices: dict[str, FakeDevice] = {}
        self.tokens: dict[str, _Token] = {}
        self.refreshes = 0
        self.requests: list[tuple[str, str]] = []
        self.rejected_401 = 0
        self._throttle: list[float] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/access_token", self._access_token, methods=["POST"]),
                Route("/v1/xapi/status", self._status, methods=["GET"]),
                Route("/v1/xapi/command/{name}", self._command, methods=["POST"]),
            ]
        )

    # -- test controls ---------------------------------------------------------------------------

    def add_device(self, device_id: str, **kwargs: Any) -> FakeDevice:
        """Register a device (``software_version``, ``online``)."""
        device = FakeDevice(device_id=device_id, **kwargs)
        self.devices[device_id] = device
        return device

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused from now on (as after its lifetime)."""
        for token in self.tokens.values():
            token.revoked = True

    def throttle(self, *retry_after: float) -> None:
        """The next xAPI requests answer 429, one per value, with that ``Retry-After``."""
        self._throttle.extend(retry_after)

    @property
    def xapi_requests(self) -> int:
        """xAPI requests received (not token refreshes)."""
        return sum(1 for _, path in self.requests if path.startswith("/v1/xapi/"))

    # -- helpers ---------------------------------------------------------------------------------

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        tracking = f"ROUTER_{next(self._ids):08X}"
        return JSONResponse(
            {"message": message, "errors": [{"description": message}], "trackingId": tracking},
            status_code=status,
            headers={"TrackingID": tracking, **(headers or {})},
        )

    def _authorised(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = self.tokens.get(value) if scheme.lower() == "bearer" else None
        if token is None or token.revoked or self.clock() >= token.expires:
            self.rejected_401 += 1
            return self._error(
                401,
                "The request requires a valid access token set in the Authorization "
                "request header.",
            )
        if self._throttle:
            delay = self._throttle.pop(0)
            return self._error(429, "Too Many Requests", {"Retry-After": f"{delay:g}"})
        return None

    def _device(self, device_id: object) -> FakeDevice | Response:
        device = self.devices.get(str(device_id)) if isinstance(device_id, str) else None
        if device is None:
            return self._error(404, "Device not found")
        if not device.online:
            return self._error(502, "Device is offline or not responding")
        return device

    # -- routes ----------------------------------------------------------------------------------

    async def _access_token(self, request: Request) -> Response:
        self.requests.append(("POST", request.url.path))
        form = await request.form()
        if form.get("grant_type") != "refresh_token":
            return self._error(400, "unsupported grant_type")
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return self._error(401, "invalid client credentials")
        if form.get("refresh_token") != self.refresh_token:
            return self._error(400, "invalid_grant: the refresh token is invalid or expired")
        with self._lock:
            self.refreshes += 1
            value = f"access-{next(self._ids)}"
            self.tokens[value] = _Token(expires=self.clock() + self.token_lifetime)
        return JSONResponse(
            {
                "access_token": value,
                "expires_in": int(self.token_lifetime),
                "refresh_token": self.refresh_token,
                "refresh_token_expires_in": 7776000,
                "token_type": "Bearer",
            }
        )

    async def _status(self, request: Request) -> Response:
        self.requests.append(("GET", request.url.path))
        refused = self._authorised(request)
        if refused is not None:
            return refused
        device = self._device(request.query_params.get("deviceId"))
        if isinstance(device, Response):
            return device
        names = request.query_params.getlist("name")
        if not names:
            return self._error(400, "name is required")
        result: dict[str, Any] = {}
        for name in names:
            if name != "SystemUnit.Software.Version":
                return self._error(400, f"unsupported status expression in this fake: {name}")
            result["SystemUnit"] = {"Software": {"Version": device.software_version}}
        return JSONResponse({"deviceId": device.device_id, "result": result})

    async def _command(self, request: Request) -> Response:
        self.requests.append(("POST", request.url.path))
        refused = self._authorised(request)
        if refused is not None:
            return refused
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return self._error(400, "request body is not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("arguments", {}), dict):
            return self._error(400, "expected an object with deviceId and arguments")
        device = self._device(payload.get("deviceId"))
        if isinstance(device, Response):
            return device
        name = request.path_params["name"]
        try:
            if name == "Bookings.Put":
                result = self._put(device, payload.get("body"))
            elif name == "Bookings.List":
                result = self._list(device)
            elif name == "Bookings.Clear":
                device.bookings = []
                result = {}
            elif name == "UserInterface.Message.Alert.Display":
                result = self._alert(device, payload["arguments"])
            else:
                return self._error(400, f"Unknown command: {name}")
        except XapiRejected as exc:
            return self._error(400, f"xAPI error: {exc}")
        return JSONResponse(
            {
                "deviceId": device.device_id,
                "arguments": payload.get("arguments", {}),
                "result": result,
            }
        )

    @staticmethod
    def _alert(device: FakeDevice, arguments: dict[str, Any]) -> dict[str, Any]:
        """``UserInterface.Message.Alert.Display``: Text required, Title and Text up to 255,
        Duration 0..3600 (as the device checks them)."""
        text, title = arguments.get("Text"), arguments.get("Title", "")
        duration = arguments.get("Duration", 0)
        if not isinstance(text, str) or not isinstance(title, str):
            raise XapiRejected("Text (required) and Title must be strings")
        if len(text) > 255 or len(title) > 255:
            raise XapiRejected("Title and Text are at most 255 characters")
        if not isinstance(duration, int) or not 0 <= duration <= 3600:
            raise XapiRejected("Duration must be an integer 0..3600")
        device.alerts.append({"Title": title, "Text": text, "Duration": duration})
        return {}

    @staticmethod
    def _put(device: FakeDevice, body: Any) -> dict[str, Any]:
        if body is None:
            raise XapiRejected("Bookings.Put requires a body")
        text = body if isinstance(body, str) else json.dumps(body)
        try:
            device.bookings = validate_put_payload(text)
        except Exception as exc:  # the simulator's XapiRejected
            raise XapiRejected(str(exc)) from exc
        device.put_count += 1
        return {}

    @staticmethod
    def _list(device: FakeDevice) -> dict[str, Any]:
        device.list_count += 1
        items = []
        for index, b in enumerate(device.bookings, start=1):
            start = datetime.fromisoformat(b.start)
            end = start + timedelta(minutes=b.duration)
            calls: dict[str, Any] = {}
            if b.number:
                calls = {
                    "Call": [
                        {
                            "id": 1,
                            "Number": b.number,
                            "Protocol": b.protocol,
                            "CallRate": 6000,
                            "CallType": b.call_type,
                        }
                    ]
                }
            items.append(
                {
                    "id": index,
                    "Id": b.id,
                    "Title": b.title,
                    "Agenda": "",
                    "Privacy": b.privacy,
                    "Organizer": {
                        "FirstName": b.organizer_first,
                        "LastName": b.organizer_last,
                        "Email": b.organizer_email,
                    },
                    "Time": {
                        "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "StartTimeBuffer": b.start_buffer,
                        "EndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "EndTimeBuffer": b.end_buffer,
                    },
                    "MeetingPlatform": b.platform,
                    "BookingStatus": "OK",
                    "DialInfo": {"Calls": calls, "ConnectMode": "OBTP" if b.number else "Manual"},
                }
            )
        return {"ResultInfo": {"TotalRows": len(items)}, "Booking": items}
