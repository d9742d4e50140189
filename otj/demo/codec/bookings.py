"""What a simulated Cisco codec accepts as its booking list, checked as a codec checks it.

``Bookings Put`` carries a JSON document (Cisco xAPI reference, "xCommand Bookings Put": required
Id, Title, Number, Protocol, Organizer/Name, Time/StartTime in UTC, Time/Duration in minutes;
enumerated Privacy, MeetingPlatform, CallType); the legacy ``/bookingsputxml`` carries the
Cisco TMS ``<Bookings><Booking>…`` document (software before CE 9.15). A refusal raises
:class:`XapiRejected`, whose text becomes the answer's ``<Reason>``. Shares no parsing code with
the client it tests (``otj.delivery.devices``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

PUT_SOFTWARE = "ce11.14.1.5.b5a9b5d6d9e"
LEGACY_SOFTWARE = "ce9.12.4.a0d6f3d5e0c"
PROTOCOLS = {"SIP", "H323", "ISDN", "IP", "Spark", "WebRTC", "None"}
PLATFORMS = {"GoogleMeet", "MicrosoftTeams", "Zoom", "Webex", "Other", "None"}
PRIVACY = {"Public", "Private"}
CALL_TYPES = {"Audio", "Video"}
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


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


class XapiRejected(Exception):
    """A command the codec refuses; the message becomes the ``<Reason>``."""


def xml_document(root: Element) -> bytes:
    body = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0"?>\n' + bytes(body)


def command_result(name: str, status: str = "OK", reason: str = "", xpath: str = "") -> Element:
    command = Element("Command")
    result = SubElement(command, name, {"status": status})
    if reason:
        SubElement(result, "Reason").text = reason
    if xpath:
        SubElement(result, "XPath").text = xpath
    return command


def utc_time(text: str) -> datetime:
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
        minutes = int((utc_time(end) - utc_time(start)).total_seconds() // 60)
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
