"""A Cisco codec simulator: the HTTP xAPI of RoomOS/CE as a real server on 127.0.0.1 (h11).

It speaks what :mod:`otj.delivery.cisco` needs from a codec — ``/putxml`` with
``Bookings Put/List/Clear``, ``Dial``, ``HttpFeedback Register`` and the screen's
``UserInterface Message Prompt|Alert Display|Clear`` (:mod:`otj.delivery.codec_screen`), the legacy
``/bookingsputxml``, ``/status.xml``, ``/xmlapi/session/begin|end`` and Basic auth — and
validates what it receives against the xAPI rules (required fields Id, Title, Number, Protocol,
Organizer/Name, Time/StartTime, Time/Duration; enum values), answering errors the way a codec
does. It deliberately shares no parsing or rendering code with the client it tests.

Behaviour is scriptable per codec (slow, hanging, offline = connection refused, unauthorised,
garbage answers, dropped connections) and a codec can post HttpFeedback ``Bookings
SyncRequired`` events, and a person's choice on a prompt (``UserInterface Message Prompt
Response``), to the URLs registered with it. Thousands of codecs run in one event loop
(one listening socket each); the demo of ``otj serve`` and ``bench/delivery.py`` use it too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from xml.etree.ElementTree import Element, SubElement, tostring

import h11
import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.delivery.codec_screen import (
    RESPONSE_EXPRESSIONS,
    SCREEN_COMMANDS,
    Screen,
    ScreenRejected,
    response_event,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

PUT_SOFTWARE = "ce11.14.1.5.b5a9b5d6d9e"
LEGACY_SOFTWARE = "ce9.12.4.a0d6f3d5e0c"
PROTOCOLS = {"SIP", "H323", "ISDN", "IP", "Spark", "WebRTC", "None"}
PLATFORMS = {"GoogleMeet", "MicrosoftTeams", "Zoom", "Webex", "Other", "None"}
PRIVACY = {"Public", "Private"}
CALL_TYPES = {"Audio", "Video"}
COMMANDS = {
    ("Bookings", "Put"),
    ("Bookings", "List"),
    ("Bookings", "Clear"),
    ("Dial",),
    ("HttpFeedback", "Register"),
    ("HttpFeedback", "Deregister"),
    *SCREEN_COMMANDS,
}
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


@dataclass(kw_only=True, slots=True)
class CodecBehaviour:
    """How badly a simulated codec behaves right now (change it at any time)."""

    delay: float = 0.0
    hang: bool = False
    drop: bool = False
    unauthorised: bool = False
    garbage: bool = False
    dial_error: str = ""


@dataclass(kw_only=True, slots=True)
class StoredBooking:
    """A booking as the codec keeps it (from Bookings Put or bookingsputxml)."""

    id: str
    title: str
    privacy: str
    organizer_first: str
    organizer_last: str
    organizer_email: str
    start: str
    duration: int
    start_buffer: int
    end_buffer: int
    number: str
    protocol: str
    platform: str
    call_type: str


@dataclass(kw_only=True, slots=True)
class Registration:
    """One HttpFeedback slot."""

    url: str
    expressions: tuple[str, ...]
    format: str


class XapiRejected(Exception):
    """A command the codec refuses; the message becomes the ``<Reason>``."""


def _xml(root: Element) -> bytes:
    body = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0"?>\n' + bytes(body)


def _result(name: str, status: str = "OK", reason: str = "", xpath: str = "") -> Element:
    command = Element("Command")
    result = SubElement(command, name, {"status": status})
    if reason:
        SubElement(result, "Reason").text = reason
    if xpath:
        SubElement(result, "XPath").text = xpath
    return command


def _time(text: str) -> datetime:
    value = re.sub(r"\.\d+Z$", "Z", text).replace("Z", "+00:00")
    return datetime.fromisoformat(value)


def _require_str(
    entry: dict[str, Any], key: str, where: str, *, max_len: int = 255, prefix: str = ""
) -> str:
    if key not in entry:
        raise XapiRejected(f"{where}: missing required field {prefix}{key}")
    value = entry[key]
    if not isinstance(value, str):
        raise XapiRejected(f"{where}: {prefix}{key} must be a string")
    if len(value) > max_len:
        raise XapiRejected(f"{where}: {prefix}{key} longer than {max_len}")
    return value


def validate_put_payload(text: str) -> list[StoredBooking]:
    """Check a ``Bookings Put`` JSON payload as a codec would and return what it stores."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise XapiRejected(f"Invalid JSON: {exc.args[0]}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Bookings"), list):
        raise XapiRejected("Invalid JSON: expected an object with a Bookings array")
    stored: list[StoredBooking] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["Bookings"], start=1):
        where = f"Bookings[{index}]"
        if not isinstance(entry, dict):
            raise XapiRejected(f"{where}: not an object")
        ident = _require_str(entry, "Id", where, max_len=128)
        if not ident or ident in seen:
            raise XapiRejected(f"{where}: Id empty or duplicated")
        seen.add(ident)
        title = _require_str(entry, "Title", where)
        number = _require_str(entry, "Number", where)
        protocol = _require_str(entry, "Protocol", where)
        if protocol not in PROTOCOLS:
            raise XapiRejected(f"{where}: Protocol {protocol!r} not in {sorted(PROTOCOLS)}")
        organizer = entry.get("Organizer")
        if not isinstance(organizer, dict):
            raise XapiRejected(f"{where}: missing required field Organizer/Name")
        name = _require_str(organizer, "Name", where, prefix="Organizer/")
        time = entry.get("Time")
        if not isinstance(time, dict):
            raise XapiRejected(f"{where}: missing required field Time/StartTime")
        start = _require_str(time, "StartTime", where, prefix="Time/")
        if not _UTC_TIME.match(start):
            raise XapiRejected(f"{where}: Time/StartTime {start!r} is not UTC (…Z)")
        duration = time.get("Duration")
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
            raise XapiRejected(f"{where}: missing or invalid required field Time/Duration")
        buffers = []
        for key in ("StartTimeBuffer", "EndTimeBuffer"):
            value = time.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise XapiRejected(f"{where}: Time/{key} must be a non-negative integer")
            buffers.append(value)
        privacy = entry.get("Privacy", "Public")
        if privacy not in PRIVACY:
            raise XapiRejected(f"{where}: Privacy {privacy!r} not in {sorted(PRIVACY)}")
        platform = entry.get("MeetingPlatform", "None")
        if platform not in PLATFORMS:
            raise XapiRejected(f"{where}: MeetingPlatform {platform!r} not in {sorted(PLATFORMS)}")
        call_type = entry.get("CallType", "Video")
        if call_type not in CALL_TYPES:
            raise XapiRejected(f"{where}: CallType {call_type!r} not in {sorted(CALL_TYPES)}")
        stored.append(
            StoredBooking(
                id=ident,
                title=title,
                privacy=privacy,
                organizer_first=name,
                organizer_last="",
                organizer_email=str(organizer.get("Email", "")),
                start=start,
                duration=duration,
                start_buffer=buffers[0],
                end_buffer=buffers[1],
                number=number,
                protocol=protocol,
                platform=platform,
                call_type=call_type,
            )
        )
    return stored


def validate_legacy_document(document: bytes) -> list[StoredBooking]:
    """Check a ``/bookingsputxml`` document (TMS format) and return what the codec stores."""
    try:
        root = parse_untrusted_xml(document)
    except (XMLParseError, ValueError, DefusedXmlException) as exc:
        raise XapiRejected(f"Parse error: {exc}") from exc
    if root.tag != "Bookings":
        raise XapiRejected(f"Expected <Bookings>, got <{root.tag}>")
    stored = []
    for index, booking in enumerate(root.findall("Booking"), start=1):
        where = f"Booking[{index}]"

        def text(
            path: str, *, required: bool = False, node: Element = booking, where: str = where
        ) -> str:
            found = node.find(path)
            if found is None or (required and not (found.text or "").strip()):
                if required:
                    raise XapiRejected(f"{where}: missing {path}")
                return ""
            return found.text or ""

        start = text("Time/StartTime", required=True)
        end = text("Time/EndTime", required=True)
        if not _UTC_TIME.match(start) or not _UTC_TIME.match(end):
            raise XapiRejected(f"{where}: StartTime/EndTime must be UTC (…Z)")
        minutes = int((_time(end) - _time(start)).total_seconds() // 60)
        if minutes < 0:
            raise XapiRejected(f"{where}: EndTime before StartTime")
        privacy = text("Privacy") or "Public"
        if privacy not in PRIVACY:
            raise XapiRejected(f"{where}: Privacy {privacy!r}")
        call = booking.find("DialInfo/Calls/Call")
        protocol = "SIP"
        number = ""
        call_type = "Video"
        if call is not None:
            number = text("Number", node=call)
            protocol = text("Protocol", node=call) or "SIP"
            call_type = text("CallType", node=call) or "Video"
            if protocol.upper() not in {p.upper() for p in PROTOCOLS}:
                raise XapiRejected(f"{where}: Protocol {protocol!r}")
        stored.append(
            StoredBooking(
                id=text("Id", required=True),
                title=text("Title"),
                privacy=privacy,
                organizer_first=text("Organizer/FirstName"),
                organizer_last=text("Organizer/LastName"),
                organizer_email=text("Organizer/Email"),
                start=start,
                duration=minutes,
                start_buffer=int(text("Time/StartTimeBuffer") or 0),
                end_buffer=int(text("Time/EndTimeBuffer") or 0),
                number=number,
                protocol=protocol,
                platform=text("MeetingPlatform") or "None",
                call_type=call_type,
            )
        )
    return stored


class SimulatedCodec:
    """One codec: a listening socket on 127.0.0.1 and the state a real codec keeps."""

    def __init__(
        self,
        *,
        name: str,
        username: str = "admin",
        password: str = "secret",  # noqa: S107 (a simulator's well-known test password)
        software_version: str = PUT_SOFTWARE,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.name = name
        self.username = username
        self.password = password
        self.software_version = software_version
        self.host = host
        self.port = port
        self.behaviour = CodecBehaviour()
        #: Show the overview page at ``/`` without credentials (the demo, never the tests).
        self.public_overview = False
        self.bookings: list[StoredBooking] = []
        self.last_updated = ""
        self.put_count = 0
        self.list_count = 0
        self.requests: list[tuple[str, str]] = []
        self.commands: list[str] = []
        self.dials: list[dict[str, str]] = []
        #: When each of ``dials`` arrived (UTC, ISO 8601), for the overview page.
        self.dialled_at: list[str] = []
        self.feedback: dict[int, Registration] = {}
        self.sessions: set[str] = set()
        self.screen = Screen()
        self._call_ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed: asyncio.Condition | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the codec's HTTP xAPI."""
        return f"http://{self.host}:{self.port}"

    @property
    def online(self) -> bool:
        """Whether the codec accepts connections."""
        return self._server is not None

    async def start(self) -> None:
        """Listen (again) on the codec's port; the first start picks a free port."""
        if self._server is not None:
            return
        self._changed = self._changed or asyncio.Condition()
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Go offline: refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()

    async def reboot(self) -> None:
        """Lose sessions and the booking list, as after a power cycle, and come back."""
        await self.stop()
        self.bookings = []
        self.sessions.clear()
        self.feedback.clear()
        await self.start()

    async def wait_until(
        self, predicate: Callable[[SimulatedCodec], bool], *, timeout: float = 10.0
    ) -> None:
        """Wait until ``predicate(codec)`` holds; re-checked after every request."""
        assert self._changed is not None, "start() the codec first"
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # -- HttpFeedback -----------------------------------------------------------------------

    def _identification(self) -> Element:
        ident = Element("Identification")
        for tag, value in (
            ("SystemName", self.name),
            ("MACAddress", "00:00:5E:00:53:" + f"{self.port % 256:02X}"),
            ("IPAddress", self.host),
            ("ProductType", "Cisco Codec"),
            ("ProductID", "Cisco Room Kit"),
            ("SWVersion", self.software_version),
            ("SerialNumber", f"SIM{self.port:08d}"),
        ):
            SubElement(ident, tag).text = value
        return ident

    def event_document(self, event: str) -> bytes:
        """The XML an HttpFeedback slot receives for ``xEvent Bookings <event>``."""
        root = Element("Event")
        root.append(self._identification())
        bookings = SubElement(root, "Bookings", {"item": "1"})
        SubElement(bookings, event, {"item": "1"})
        return _xml(root)

    async def choose(self, option: int) -> list[int]:
        """A person taps ``option`` on the prompt on screen: POST ``xEvent UserInterface
        Message Prompt Response`` to every slot registered for it; the answers' statuses."""
        prompt = self.screen.choose(option)
        document = _xml(response_event(self._identification(), prompt.feedback_id, option))
        statuses = []
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            for registration in self.feedback.values():
                wanted = {e.rstrip("/") for e in registration.expressions}
                if wanted.isdisjoint(RESPONSE_EXPRESSIONS):
                    continue
                response = await client.post(
                    registration.url, content=document, headers={"Content-Type": "text/xml"}
                )
                statuses.append(response.status_code)
        return statuses

    async def emit_booking_event(self, event: str = "SyncRequired") -> list[int]:
        """POST ``xEvent Bookings <event>`` to every slot registered for /Event/Bookings."""
        statuses = []
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            for registration in self.feedback.values():
                if not any(
                    e.rstrip("/") in ("/Event/Bookings", "/Event") for e in registration.expressions
                ):
                    continue
                response = await client.post(
                    registration.url,
                    content=self.event_document(event),
                    headers={"Content-Type": "text/xml"},
                )
                statuses.append(response.status_code)
        return statuses

    # -- HTTP -------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await self._read(conn, reader)
                if request is None:
                    break
                if not await self._answer(conn, writer, request, body):
                    break
                if conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _read(
        conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    async def _answer(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytes,
    ) -> bool:
        behaviour = self.behaviour
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.hang:
            await asyncio.Event().wait()
        if behaviour.drop:
            return False
        method = request.method.decode()
        target = request.target.decode()
        path = target.split("?", 1)[0]
        self.requests.append((method, path))
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
        status, content, extra = self._route(method, path, headers, body)
        if behaviour.garbage and status == 200:
            content = b"\x00\xff<<garbage not xml"
        if any(name.lower() == "content-type" for name, _ in extra):
            response_headers = list(extra)
        else:
            response_headers = [("Content-Type", "text/xml; charset=utf-8"), *extra]
        if status != 204:
            response_headers.append(("Content-Length", str(len(content))))
        writer.write(conn.send(h11.Response(status_code=status, headers=response_headers)))
        if status != 204 and content:
            writer.write(conn.send(h11.Data(data=content)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        await self._notify()
        return True

    def _authenticated(self, headers: dict[str, str]) -> bool:
        if self.behaviour.unauthorised:
            return False
        cookie = headers.get("cookie", "")
        for part in cookie.split(";"):
            key, _, value = part.strip().partition("=")
            if key == "SessionId" and value in self.sessions:
                return True
        return self._basic_ok(headers)

    def _basic_ok(self, headers: dict[str, str]) -> bool:
        if self.behaviour.unauthorised:
            return False
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user, self.username) and hmac.compare_digest(
            password, self.password
        )

    def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        unauthorised = (401, b"", [("WWW-Authenticate", 'Basic realm="xAPI"')])
        if path == "/xmlapi/session/begin" and method == "POST":
            if not self._basic_ok(headers):
                return unauthorised
            session = secrets.token_hex(16)
            self.sessions.add(session)
            return 204, b"", [("Set-Cookie", f"SessionId={session}; Path=/; HttpOnly")]
        if path == "/xmlapi/session/end" and method == "POST":
            for part in headers.get("cookie", "").split(";"):
                key, _, value = part.strip().partition("=")
                if key == "SessionId":
                    self.sessions.discard(value)
            return 204, b"", []
        if path == "/" and method == "GET" and self.public_overview:
            return 200, self._overview(), [("Content-Type", "text/html; charset=utf-8")]
        if not self._authenticated(headers):
            return unauthorised
        if path == "/status.xml" and method == "GET":
            return 200, self._status_document(), []
        if path == "/putxml" and method == "POST":
            return 200, self._putxml(body), []
        if path == "/" and method == "GET":
            return 200, self._overview(), [("Content-Type", "text/html; charset=utf-8")]
        if path == "/bookingsputxml" and method == "POST":
            try:
                self.bookings = validate_legacy_document(body)
            except XapiRejected as exc:
                return 200, _xml(_result("BookingsPutResult", "Error", str(exc))), []
            self._stored()
            return 200, b"<success/>", []
        return 404, b"", []

    def _overview(self) -> bytes:
        """A small HTML page listing the stored bookings, the dial requests received (a room
        panel's Join) and the messages shown (why a call ended), for people watching the demo;
        it reloads itself every 5 s."""
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(b.start)}</td><td>{b.duration} min</td><td>{escape(b.title)}</td>"
            f"<td>{escape(b.number) or '(no Join button)'}</td><td>{escape(b.platform)}</td></tr>"
            for b in self.bookings
        )
        titles = {b.id: b.title for b in self.bookings}
        dials = "".join(
            f"<tr><td>{escape(at)}</td><td>{escape(d['Number'])}</td>"
            f"<td>{escape(d['Protocol'])}</td><td>{escape(d['BookingId'])}</td>"
            f"<td>{escape(titles.get(d['BookingId'], ''))}</td></tr>"
            for at, d in reversed(list(zip(self.dialled_at, self.dials, strict=True)))
        )
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            '<meta http-equiv="refresh" content="5">'
            f"<title>{escape(self.name)}</title><h1>Simulated codec {escape(self.name)}</h1>"
            f"<p>{escape(self.software_version)} · {len(self.bookings)} booking(s), "
            f"{self.put_count} push(es), last update {escape(self.last_updated or 'never')}</p>"
            "<table border=1 cellpadding=4><tr><th>Start (UTC)</th><th>Length</th><th>Title</th>"
            f"<th>Number</th><th>Platform</th></tr>{rows}</table>"
            f"<h2>Dial requests ({len(self.dials)})</h2>"
            + (
                '<table id="dials" border=1 cellpadding=4><tr><th>Received (UTC)</th>'
                "<th>Number</th><th>Protocol</th><th>Booking Id</th><th>Title</th></tr>"
                f"{dials}</table>"
                if self.dials
                else "<p>None yet: press Join on the room's panel.</p>"
            )
            + f"<h2>Messages shown ({len(self.screen.shown)})</h2>"
            + "".join(
                f"<p>{escape(m.shown_at.strftime('%H:%M:%S'))} {escape(m.kind)}: "
                f"<b>{escape(m.title)}</b> {escape(m.text)}"
                f"{' [' + escape(' | '.join(m.options.values())) + ']' if m.options else ''}</p>"
                for m in reversed(self.screen.shown)
            )
            + "</html>"
        )
        return page.encode()

    def _stored(self) -> None:
        self.put_count += 1
        self.last_updated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _status_document(self) -> bytes:
        root = Element(
            "Status",
            {"product": "Cisco Codec", "version": self.software_version, "apiVersion": "4"},
        )
        unit = SubElement(root, "SystemUnit")
        SubElement(unit, "ProductId").text = "Cisco Room Kit"
        software = SubElement(unit, "Software")
        SubElement(software, "DisplayName").text = f"RoomOS {self.software_version}"
        SubElement(software, "Version").text = self.software_version
        SubElement(unit, "Uptime").text = "1234"
        return _xml(root)

    def _putxml(self, body: bytes) -> bytes:
        try:
            root = parse_untrusted_xml(body)
        except (XMLParseError, ValueError, DefusedXmlException):
            return _xml(_result("Result", "Error", "XML parse error"))
        if root.tag != "Command":
            return _xml(_result("Result", "Error", f"Unsupported root <{root.tag}>"))
        path: list[str] = []
        node = root
        while len(node):
            candidate = (*path, node[0].tag)
            if not any(known[: len(candidate)] == candidate for known in COMMANDS):
                break
            path.append(node[0].tag)
            node = node[0]
            if tuple(path) in COMMANDS:
                break
        if tuple(path) not in COMMANDS:
            unknown = [*path, node[0].tag] if len(node) else path
            self.commands.append(" ".join(unknown))
            return _xml(_result("Result", "Error", "Unknown command", "/" + "/".join(unknown)))
        command = " ".join(path)
        self.commands.append(command)
        params: dict[str, list[str]] = {}
        for child in node:
            params.setdefault(child.tag, []).append(child.text or "")
        if tuple(path) in SCREEN_COMMANDS:
            try:
                name = self.screen.handle(tuple(path), params, time.monotonic())
            except ScreenRejected as exc:
                return _xml(_result(f"Message{path[2]}{path[3]}Result", "Error", str(exc)))
            return _xml(_result(name))
        handlers: dict[str, Callable[[dict[str, list[str]]], Element]] = {
            "Bookings List": self._bookings_list,
            "Bookings Clear": self._bookings_clear,
            "Dial": self._dial,
            "HttpFeedback Register": self._feedback_register,
            "HttpFeedback Deregister": self._feedback_deregister,
        }
        if self._supports_put():
            handlers["Bookings Put"] = self._bookings_put
        handler = handlers.get(command)
        if handler is None:
            return _xml(_result("Result", "Error", "Unknown command", "/" + "/".join(path)))
        try:
            return _xml(handler(params))
        except XapiRejected as exc:
            name = path[-1] + "Result" if path else "Result"
            if command.startswith("Bookings"):
                name = f"Bookings{path[-1]}Result"
            if command.startswith("HttpFeedback"):
                name = f"HttpFeedback{path[-1]}Result"
            return _xml(_result(name, "Error", str(exc)))

    def _supports_put(self) -> bool:
        match = re.match(r"(?i)(?:ce|roomos\s*)?(\d+)\.(\d+)", self.software_version)
        if match is None:
            return False
        return (int(match.group(1)), int(match.group(2))) >= (9, 15)

    def _bookings_put(self, params: dict[str, list[str]]) -> Element:
        bodies = params.get("body")
        if not bodies:
            raise XapiRejected("Bookings Put requires a body (multiline command)")
        self.bookings = validate_put_payload(bodies[0])
        self._stored()
        return _result("BookingsPutResult")

    def _bookings_clear(self, params: dict[str, list[str]]) -> Element:
        self.bookings = []
        return _result("BookingsClearResult")

    def _bookings_list(self, params: dict[str, list[str]]) -> Element:
        self.list_count += 1
        command = _result("BookingsListResult")
        result = command[0]
        info = SubElement(result, "ResultInfo")
        SubElement(info, "TotalRows").text = str(len(self.bookings))
        SubElement(result, "LastUpdated").text = self.last_updated
        for index, b in enumerate(self.bookings, start=1):
            item = SubElement(result, "Booking", {"item": str(index)})
            SubElement(item, "Id").text = b.id
            SubElement(item, "Title").text = b.title
            SubElement(item, "Agenda")
            SubElement(item, "Privacy").text = b.privacy
            organizer = SubElement(item, "Organizer")
            SubElement(organizer, "FirstName").text = b.organizer_first
            SubElement(organizer, "LastName").text = b.organizer_last
            SubElement(organizer, "Email").text = b.organizer_email
            SubElement(organizer, "Id")
            time = SubElement(item, "Time")
            start = _time(b.start)
            SubElement(time, "StartTime").text = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            SubElement(time, "StartTimeBuffer").text = str(b.start_buffer)
            end = start + timedelta(minutes=b.duration)
            SubElement(time, "EndTime").text = end.strftime("%Y-%m-%dT%H:%M:%SZ")
            SubElement(time, "EndTimeBuffer").text = str(b.end_buffer)
            SubElement(item, "MaximumMeetingExtension").text = "0"
            SubElement(item, "BookingStatus").text = "OK"
            SubElement(item, "BookingStatusMessage")
            SubElement(item, "MeetingPlatform").text = b.platform
            dial = SubElement(item, "DialInfo")
            calls = SubElement(dial, "Calls")
            if b.number:
                call = SubElement(calls, "Call", {"item": "1"})
                SubElement(call, "Number").text = b.number
                SubElement(call, "Protocol").text = b.protocol
                SubElement(call, "CallRate").text = "6000"
                SubElement(call, "CallType").text = b.call_type
            SubElement(dial, "ConnectMode").text = "OBTP" if b.number else "Manual"
        return command

    def _dial(self, params: dict[str, list[str]]) -> Element:
        number = (params.get("Number") or [""])[0]
        if not number:
            raise XapiRejected("Missing required parameter Number")
        protocol = (params.get("Protocol") or ["Sip"])[0]
        if protocol not in ("Sip", "H323", "H320", "Spark", "Auto"):
            raise XapiRejected(f"Invalid value for Protocol: {protocol}")
        if self.behaviour.dial_error:
            raise XapiRejected(self.behaviour.dial_error)
        self.dials.append(
            {
                "Number": number,
                "Protocol": protocol,
                "BookingId": (params.get("BookingId") or [""])[0],
                "CallType": (params.get("CallType") or ["Video"])[0],
            }
        )
        self.dialled_at.append(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        command = _result("DialResult")
        SubElement(command[0], "CallId").text = str(next(self._call_ids))
        SubElement(command[0], "ConferenceId").text = "1"
        return command

    def _feedback_register(self, params: dict[str, list[str]]) -> Element:
        try:
            slot = int((params.get("FeedbackSlot") or ["1"])[0])
        except ValueError as exc:
            raise XapiRejected("FeedbackSlot must be an integer 1..4") from exc
        if not 1 <= slot <= 4:
            raise XapiRejected("FeedbackSlot must be an integer 1..4")
        url = (params.get("ServerUrl") or [""])[0]
        if not url:
            raise XapiRejected("Missing required parameter ServerUrl")
        expressions = tuple(params.get("Expression", []))
        if len(expressions) > 15:
            raise XapiRejected("At most 15 expressions per slot")
        self.feedback[slot] = Registration(
            url=url, expressions=expressions, format=(params.get("Format") or ["XML"])[0]
        )
        return _result("HttpFeedbackRegisterResult")

    def _feedback_deregister(self, params: dict[str, list[str]]) -> Element:
        slot = int((params.get("FeedbackSlot") or ["1"])[0])
        self.feedback.pop(slot, None)
        return _result("HttpFeedbackDeregisterResult")


class CodecFarm:
    """Many simulated codecs in one event loop (async context manager)."""

    def __init__(self) -> None:
        self.codecs: list[SimulatedCodec] = []

    async def add(self, name: str, **kwargs: Any) -> SimulatedCodec:
        """Create and start one codec."""
        codec = SimulatedCodec(name=name, **kwargs)
        await codec.start()
        self.codecs.append(codec)
        return codec

    async def add_many(self, names: Iterable[str], **kwargs: Any) -> list[SimulatedCodec]:
        """Create and start one codec per name."""
        return [await self.add(name, **kwargs) for name in names]

    async def close(self) -> None:
        """Stop every codec."""
        await asyncio.gather(*(codec.stop() for codec in self.codecs))

    async def __aenter__(self) -> CodecFarm:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class ThreadedCodecFarm:
    """A :class:`CodecFarm` on its own event loop in a daemon thread (for sync callers)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.farm = CodecFarm()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="codec-simulator", daemon=True
        )
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T] | Awaitable[T], timeout: float = 30.0) -> T:
        """Run a coroutine on the farm's loop and wait for its result."""

        async def runner() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def add(self, name: str, **kwargs: Any) -> SimulatedCodec:
        """Create and start one codec."""
        return self.call(self.farm.add(name, **kwargs))

    def close(self) -> None:
        """Stop the codecs and the loop."""
        with contextlib.suppress(RuntimeError):
            self.call(self.farm.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
