"""The state a Cisco codec keeps and the xAPI commands that change it (no I/O).

``/putxml`` carries ``<Command><Path><Of><Command><Param>v</Param>…`` (Cisco xAPI reference,
"Using the HTTP XMLAPI"); :meth:`CodecDevice.putxml` runs ``Bookings Put|List|Clear``, ``Dial``,
``HttpFeedback Register|Deregister`` and the screen's ``UserInterface Message …``
(:mod:`otj.demo.codec.screen`) and answers ``<Command><NameResult status="OK|Error">`` as a codec
does. ``Bookings Put`` exists from CE 9.15; older software answers "Unknown command".
:mod:`otj.demo.codec.server` puts it behind HTTP.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, SubElement

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.demo.codec.bookings import (
    PUT_SOFTWARE,
    StoredBooking,
    XapiRejected,
    command_result,
    utc_time,
    validate_put_payload,
    xml_document,
)
from otj.demo.codec.screen import SCREEN_COMMANDS, Screen, ScreenRejected

COMMANDS = {
    ("Bookings", "Put"),
    ("Bookings", "List"),
    ("Bookings", "Clear"),
    ("Dial",),
    ("HttpFeedback", "Register"),
    ("HttpFeedback", "Deregister"),
    *SCREEN_COMMANDS,
}


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
class Registration:
    """One HttpFeedback slot."""

    url: str
    expressions: tuple[str, ...]
    format: str


class CodecDevice:
    """What a codec holds (booking list, dial requests, feedback slots, screen) and its
    answers to xAPI commands."""

    def __init__(self, *, name: str, software_version: str = PUT_SOFTWARE) -> None:
        self.name = name
        self.software_version = software_version
        self.behaviour = CodecBehaviour()
        self.bookings: list[StoredBooking] = []
        self.last_updated = ""
        self.put_count = 0
        self.list_count = 0
        self.commands: list[str] = []
        self.dials: list[dict[str, str]] = []
        #: When each of ``dials`` arrived (UTC, ISO 8601), for the overview page.
        self.dialled_at: list[str] = []
        self.feedback: dict[int, Registration] = {}
        self.screen = Screen()
        self._call_ids = itertools.count(1)

    def stored(self) -> None:
        """Count a new booking list (Put or the legacy document) and stamp it."""
        self.put_count += 1
        self.last_updated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def status_document(self) -> bytes:
        """``GET /status.xml``: product and software version."""
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
        return xml_document(root)

    def putxml(self, body: bytes) -> bytes:
        """Run one ``/putxml`` command document; the answer document."""
        try:
            root = parse_untrusted_xml(body)
        except (XMLParseError, ValueError, DefusedXmlException):
            return xml_document(command_result("Result", "Error", "XML parse error"))
        if root.tag != "Command":
            return xml_document(command_result("Result", "Error", f"Unsupported root <{root.tag}>"))
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
            return xml_document(
                command_result("Result", "Error", "Unknown command", "/" + "/".join(unknown))
            )
        command = " ".join(path)
        self.commands.append(command)
        params: dict[str, list[str]] = {}
        for child in node:
            params.setdefault(child.tag, []).append(child.text or "")
        if tuple(path) in SCREEN_COMMANDS:
            try:
                name = self.screen.handle(tuple(path), params, time.monotonic())
            except ScreenRejected as exc:
                return xml_document(
                    command_result(f"Message{path[2]}{path[3]}Result", "Error", str(exc))
                )
            return xml_document(command_result(name))
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
            return xml_document(
                command_result("Result", "Error", "Unknown command", "/" + "/".join(path))
            )
        try:
            return xml_document(handler(params))
        except XapiRejected as exc:
            name = path[-1] + "Result" if path else "Result"
            if command.startswith("Bookings"):
                name = f"Bookings{path[-1]}Result"
            if command.startswith("HttpFeedback"):
                name = f"HttpFeedback{path[-1]}Result"
            return xml_document(command_result(name, "Error", str(exc)))

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
        self.stored()
        return command_result("BookingsPutResult")

    def _bookings_clear(self, params: dict[str, list[str]]) -> Element:
        self.bookings = []
        return command_result("BookingsClearResult")

    def _bookings_list(self, params: dict[str, list[str]]) -> Element:
        self.list_count += 1
        command = command_result("BookingsListResult")
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
            start = utc_time(b.start)
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
        command = command_result("DialResult")
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
        return command_result("HttpFeedbackRegisterResult")

    def _feedback_deregister(self, params: dict[str, list[str]]) -> Element:
        slot = int((params.get("FeedbackSlot") or ["1"])[0])
        self.feedback.pop(slot, None)
        return command_result("HttpFeedbackDeregisterResult")
