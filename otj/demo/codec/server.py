"""A Cisco codec simulator: the HTTP xAPI of RoomOS/CE as a real server on 127.0.0.1 (h11).

It speaks what :mod:`otj.delivery.devices.cisco` needs from a codec — ``/putxml`` with
``Bookings Put/List/Clear``, ``Dial``, ``HttpFeedback Register`` and the screen's
``UserInterface Message Prompt|Alert Display|Clear`` (:mod:`otj.demo.codec.screen`), the legacy
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
import hmac
import secrets
from collections.abc import Callable
from xml.etree.ElementTree import Element, SubElement

import h11
import httpx

from otj.demo.codec.bookings import (
    PUT_SOFTWARE,
    XapiRejected,
    command_result,
    validate_legacy_document,
    xml_document,
)
from otj.demo.codec.device import CodecDevice
from otj.demo.codec.screen import RESPONSE_EXPRESSIONS, response_event


class SimulatedCodec(CodecDevice):
    """One codec: a listening socket on 127.0.0.1 in front of the state a real codec keeps."""

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
        super().__init__(name=name, software_version=software_version)
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        #: Show the overview page at ``/`` without credentials (the demo, never the tests).
        self.public_overview = False
        self.requests: list[tuple[str, str]] = []
        self.sessions: set[str] = set()
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
        return xml_document(root)

    async def choose(self, option: int) -> list[int]:
        """A person taps ``option`` on the prompt on screen: POST ``xEvent UserInterface
        Message Prompt Response`` to every slot registered for it; the answers' statuses."""
        prompt = self.screen.choose(option)
        document = xml_document(response_event(self._identification(), prompt.feedback_id, option))
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
            return 200, self.status_document(), []
        if path == "/putxml" and method == "POST":
            return 200, self.putxml(body), []
        if path == "/" and method == "GET":
            return 200, self._overview(), [("Content-Type", "text/html; charset=utf-8")]
        if path == "/bookingsputxml" and method == "POST":
            try:
                self.bookings = validate_legacy_document(body)
            except XapiRejected as exc:
                return 200, xml_document(command_result("BookingsPutResult", "Error", str(exc))), []
            self.stored()
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
