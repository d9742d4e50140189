"""Cisco RoomOS/CE codecs over the HTTP xAPI (httpx): push, read back, dial, feedback.

:class:`CiscoXapiClient` is the I/O edge (one httpx client per endpoint, Basic auth or a
``/xmlapi/session/begin`` session cookie, per-endpoint HTTPS/verification/timeouts); every
transport or device failure leaves it as an :mod:`otj.delivery.devices.errors` exception.
:func:`otj.delivery.engine.deliver.deliver` runs a delivery cycle with it (Cisco xAPI reference
guide, "Using HTTP": ``/putxml``, ``/status.xml``; ``xCommand Bookings``, ``Dial``,
``HttpFeedback Register``).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

import httpx

from otj.delivery.devices.booking_documents import (
    BookingsParseError,
    parse_bookings_list,
    render_legacy_xml,
    render_put_command,
)
from otj.delivery.devices.bookings import Booking, BookingsMode
from otj.delivery.devices.errors import (
    NO_CREDENTIALS,
    EndpointError,
    EndpointProtocolError,
    EndpointUnauthorised,
    EndpointUnreachable,
    MissingCredentials,
)
from otj.delivery.devices.xapi import (
    DialOutcome,
    SoftwareVersion,
    command_document,
    dial_protocol,
    parse_command_result,
    parse_dial_result,
    parse_status_version,
)
from otj.model import Endpoint, EndpointAuth, Profile
from otj.netreason import one_line, reason, status_text
from otj.secret import Secret

log = logging.getLogger(__name__)

AuthMode = EndpointAuth
#: What codecs post to our HttpFeedback URL: booking events, and the answers to our prompts
#: ("Try again" after a call ended in the meeting's lobby, :mod:`otj.delivery.notices.lobby`).
FEEDBACK_EXPRESSIONS = ("/Event/Bookings", "/Event/UserInterface/Message/Prompt/Response")
XML_CONTENT = {"Content-Type": "text/xml; charset=utf-8"}


@dataclass(frozen=True, kw_only=True, slots=True)
class CiscoDefaults:
    """What an endpoint falls back to for the API settings it leaves blank.

    The credential, HTTPS, login and feedback fields are its profile's ``endpoint_*`` fields
    (:meth:`for_profile`); the timeouts are the service's. There is no default username: an
    endpoint without one from either place gets :class:`MissingCredentials`, never a guess.
    """

    username: str = ""
    password: Secret | None = field(default=None, repr=False)
    use_https: bool = True
    verify_cert: bool = True
    auth: AuthMode = "basic"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    feedback_slot: int = 1

    def for_profile(self, profile: Profile) -> CiscoDefaults:
        """These timeouts with the endpoint defaults of ``profile``."""
        return replace(
            self,
            username=profile.endpoint_api_username,
            password=profile.endpoint_api_password,
            use_https=profile.endpoint_use_https,
            verify_cert=profile.endpoint_verify_cert,
            auth=profile.endpoint_api_auth,
            feedback_slot=profile.endpoint_feedback_slot,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CiscoConnection:
    """How to reach one codec's xAPI."""

    endpoint: str
    base_url: str
    username: str
    password: Secret | None = field(default=None, repr=False)
    verify: bool = True
    auth: AuthMode = "basic"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    feedback_slot: int = 1
    room: str = ""


def connection_for(endpoint: Endpoint, defaults: CiscoDefaults | None = None) -> CiscoConnection:
    """Merge an endpoint's API settings with its profile's defaults (the endpoint's win).

    Raises :class:`MissingCredentials` when neither gives a username.
    """
    d = defaults or CiscoDefaults()
    username = endpoint.api_username or d.username
    if not username:
        raise MissingCredentials(NO_CREDENTIALS)
    use_https = d.use_https if endpoint.use_https is None else endpoint.use_https
    verify = d.verify_cert if endpoint.verify_cert is None else endpoint.verify_cert
    scheme = "https" if use_https else "http"
    default_port = 443 if use_https else 80
    host = endpoint.api_address
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    port = "" if endpoint.api_port in (None, 0, default_port) else f":{endpoint.api_port}"
    return CiscoConnection(
        endpoint=endpoint.name,
        base_url=f"{scheme}://{host}{port}",
        username=username,
        password=endpoint.api_password if endpoint.api_password is not None else d.password,
        verify=verify,
        auth=d.auth,
        connect_timeout=d.connect_timeout,
        read_timeout=d.read_timeout,
        feedback_slot=d.feedback_slot,
        room=endpoint.room_resource_email,
    )


@cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One shared TLS context per verification mode (building one per client costs ~10 ms)."""
    if verify:
        return ssl.create_default_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the administrator chose verify_cert: false
    return context


class CiscoXapiClient:
    """An httpx client for one codec's HTTP xAPI."""

    def __init__(
        self,
        connection: CiscoConnection,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connection = connection
        password = connection.password.reveal() if connection.password else ""
        self._basic = httpx.BasicAuth(connection.username, password)
        self._client = httpx.AsyncClient(
            base_url=connection.base_url,
            verify=_ssl_context(connection.verify),
            timeout=httpx.Timeout(connection.read_timeout, connect=connection.connect_timeout),
            transport=transport,
            auth=self._basic if connection.auth == "basic" else None,
            headers={"User-Agent": "otj-delivery"},
            trust_env=False,
        )
        self._session_open = False

    async def __aenter__(self) -> CiscoXapiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the session (if any) and close the connection pool."""
        if self._session_open:
            try:
                await self._client.post("/xmlapi/session/end")
            except httpx.HTTPError:
                log.debug("%s: session end failed", self.connection.endpoint)
            self._session_open = False
        await self._client.aclose()

    # -- transport ------------------------------------------------------------------------------

    def where(self, path: str) -> str:
        """``POST http://host/putxml`` as error messages name a request (no credentials)."""
        return f"{self.connection.base_url}{path}"

    async def _begin_session(self) -> None:
        """``POST /xmlapi/session/begin`` with Basic auth; the device sets a SessionId cookie."""
        path = "/xmlapi/session/begin"
        response = await self._send("POST", path, auth=self._basic)
        answered = f"POST {self.where(path)} answered {status_text(response.status_code)}"
        if response.status_code in (401, 403):
            raise EndpointUnauthorised(f"{answered}: user {self.connection.username!r} refused")
        if response.status_code >= 300:
            raise EndpointProtocolError(answered)
        if "SessionId" not in self._client.cookies:
            raise EndpointProtocolError(f"POST {self.where(path)} set no SessionId cookie")
        self._session_open = True

    async def _send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        tried = f"{method} {self.where(url)}"
        try:
            if auth is not None:
                return await self._client.request(
                    method, url, content=content, headers=headers, auth=auth
                )
            return await self._client.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise EndpointUnreachable(f"{tried}: timed out ({type(exc).__name__})") from exc
        except (httpx.ConnectError, httpx.NetworkError) as exc:
            raise EndpointUnreachable(f"{tried}: {reason(exc)}") from exc
        except httpx.RemoteProtocolError as exc:
            raise EndpointProtocolError(f"{tried}: {one_line(str(exc))}") from exc
        except httpx.HTTPError as exc:
            raise EndpointUnreachable(f"{tried}: {reason(exc)}") from exc

    async def request(
        self, method: str, url: str, *, content: bytes | None = None
    ) -> httpx.Response:
        """One xAPI request with authentication; 401/403 → EndpointUnauthorised."""
        headers = XML_CONTENT if content is not None else None
        if self.connection.auth == "session" and not self._session_open:
            await self._begin_session()
        response = await self._send(method, url, content=content, headers=headers)
        if response.status_code == 401 and self.connection.auth == "session":
            self._session_open = False  # expired session (device reboot): begin again once
            await self._begin_session()
            response = await self._send(method, url, content=content, headers=headers)
        answered = f"{method} {self.where(url)} answered {status_text(response.status_code)}"
        if response.status_code in (401, 403):
            raise EndpointUnauthorised(f"{answered}: user {self.connection.username!r} refused")
        if response.status_code != 200:
            raise EndpointProtocolError(answered)
        return response

    async def command(self, document: bytes, *, name: str) -> bytes:
        """POST a command document to ``/putxml`` and check its result status."""
        response = await self.request("POST", "/putxml", content=document)
        try:
            parse_command_result(response.content, command=name)
        except EndpointError as exc:
            raise type(exc)(f"POST {self.where('/putxml')}: {exc}") from exc
        return response.content

    # -- xAPI operations ------------------------------------------------------------------------

    async def software_version(self) -> SoftwareVersion:
        """``SystemUnit Software Version`` from ``GET /status.xml``."""
        response = await self.request("GET", "/status.xml")
        return parse_status_version(response.content)

    async def put_bookings(
        self, bookings: Sequence[Booking], *, version: SoftwareVersion
    ) -> BookingsMode:
        """Replace the device's booking list (Bookings Put, or legacy bookingsputxml)."""
        if version.supports_bookings_put:
            document = render_put_command(
                bookings, include_platform=version.supports_meeting_platform
            )
            await self.command(document, name="Bookings Put")
            return "put"
        legacy = render_legacy_xml(bookings)
        response = await self.request("POST", "/bookingsputxml", content=legacy)
        body = response.content.strip()
        if body and b"<success" not in body:
            # Older software answers <success/>; anything that is an xAPI error is reported.
            try:
                parse_command_result(body, command="bookingsputxml")
            except EndpointError as exc:
                raise type(exc)(f"POST {self.where('/bookingsputxml')}: {exc}") from exc
        return "legacy"

    async def list_bookings(self) -> tuple[Booking, ...]:
        """``xCommand Bookings List`` (all stored bookings)."""
        document = await self.command(command_document(["Bookings", "List"]), name="Bookings List")
        try:
            return parse_bookings_list(document)
        except BookingsParseError as exc:
            where = self.where("/putxml")
            raise EndpointProtocolError(f"POST {where}: Bookings List: {exc}") from exc

    async def dial(self, *, number: str, protocol: str, booking_id: str = "") -> DialOutcome:
        """``xCommand Dial Number: … Protocol: … CallType: Video [BookingId: …]``."""
        params: dict[str, str] = {
            "Number": number,
            "Protocol": dial_protocol(protocol),
            "CallType": "Video",
        }
        if booking_id:
            params["BookingId"] = booking_id
        document = command_document(["Dial"], params)
        response = await self.request("POST", "/putxml", content=document)
        return parse_dial_result(response.content)

    async def register_feedback(
        self, *, slot: int, server_url: str, expressions: Sequence[str] = FEEDBACK_EXPRESSIONS
    ) -> None:
        """``xCommand HttpFeedback Register FeedbackSlot: N ServerUrl: … Expression: …``."""
        document = command_document(
            ["HttpFeedback", "Register"],
            {
                "FeedbackSlot": slot,
                "ServerUrl": server_url,
                "Format": "XML",
                "Expression": list(expressions),
            },
        )
        await self.command(document, name="HttpFeedback Register")


# --- one delivery cycle for one endpoint --------------------------------------------------------
