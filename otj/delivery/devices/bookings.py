"""Meetings → the Cisco booking list, and the device's booking list → values (pure).

Two wire formats replace the whole stored list on a Cisco codec:

* ``xCommand Bookings Put`` (multiline command, JSON payload, sent through ``/putxml`` inside
  ``<Command><Bookings><Put><body>…</body></Put></Bookings></Command>``). Cisco's published xAPI
  schemas list it from CE 9.15 (e.g. ce9.15.3.17) and in every RoomOS 10/11/26 release; CE 9.12
  does not have it. Required fields: Id, Title, Number, Protocol, Organizer/Name,
  Time/StartTime (UTC), Time/Duration (minutes); StartTimeBuffer/EndTimeBuffer are seconds.
* the legacy ``POST /bookingsputxml`` document used by Cisco TMS (``<Bookings><Booking>…``),
  for software older than CE 9.15.

``Bookings List`` answers with ``<BookingsListResult>``; :func:`parse_bookings_list` reads it
back so that a push can be verified.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.model import Meeting, Profile

BookingsMode = Literal["put", "legacy"]
Privacy = Literal["Public", "Private"]

#: Longest text we send in a booking field (Title, names); the device truncates beyond this.
MAX_TEXT = 255
#: Cisco booking ``Id`` is a String (0..128).
MAX_ID = 128
#: Values of ``MeetingPlatform`` and ``Protocol`` the xAPI schema accepts.
MEETING_PLATFORMS = ("GoogleMeet", "MicrosoftTeams", "Zoom", "Webex", "Other", "None")
PROTOCOLS = ("SIP", "H323", "ISDN", "IP", "Spark", "WebRTC", "None")

_SAFE_ID = re.compile(r"[A-Za-z0-9._@:+=-]{1,128}")
# Characters XML 1.0 cannot carry (§2.2 Char), plus lone surrogates that UTF-8 cannot encode.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(value: str, *, limit: int = MAX_TEXT) -> str:
    """One line of text every wire format carries unchanged: XML 1.0 characters only, runs of
    whitespace (tabs, CR, LF, NBSP…) folded to one space, at most ``limit`` code points."""
    text = _NOT_XML_CHAR.sub("", value)
    text = _WHITESPACE.sub(" ", text).strip()
    return text[:limit].rstrip()


def booking_id(event_id: str) -> str:
    """A stable booking ``Id`` for an event: the event id when it is short and plain, otherwise a
    digest of it (Graph and EWS ids are longer than the 128 characters a codec accepts)."""
    if _SAFE_ID.fullmatch(event_id):
        return event_id
    return "otj-" + hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def format_utc(moment: datetime) -> str:
    """``2024-06-04T08:40:42Z``: the UTC (Zulu) form the xAPI expects for StartTime/EndTime."""
    if moment.tzinfo is None:
        raise ValueError("booking times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    """Parse a device time (``…Z``, optionally with fractional seconds) to an aware datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Devices may print nanoseconds (``08:40:42.300000000Z``); Python takes at most microseconds.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class Booking:
    """One entry of a codec's booking list, in the device's terms."""

    id: str
    title: str
    privacy: Privacy
    organizer_name: str
    organizer_email: str
    start: datetime
    duration_minutes: int
    start_buffer_seconds: int
    end_buffer_seconds: int
    number: str
    protocol: str
    platform: str
    call_type: str = "Video"

    @property
    def end(self) -> datetime:
        """Scheduled end (StartTime + Duration)."""
        return self.start + timedelta(minutes=self.duration_minutes)

    @property
    def joinable(self) -> bool:
        """Whether the device shows a Join button (it has something to dial)."""
        return bool(self.number)


#: ``Protocol`` of a RoomOS native join: ``Number`` is the meeting's URL.
WEBRTC = "WebRTC"
#: Platforms a RoomOS device joins natively from a WebRTC booking.
WEBRTC_PLATFORMS = ("GoogleMeet", "MicrosoftTeams")
#: Longest join URL sent (Teams links run to several hundred characters).
MAX_URL = 1024


def booking_from_meeting(meeting: Meeting, *, profile: Profile) -> Booking:
    """The booking a codec gets for one listed meeting; buffers come from the profile.

    A meeting without an alias but with a Meet/Teams ``join_url`` becomes a native join
    (``Protocol: WebRTC``, the URL as ``Number``) when the profile has ``webrtc_join``;
    :func:`for_software` takes its number away again for a device that cannot join natively.
    """
    start = meeting.start.astimezone(UTC).replace(microsecond=0)
    seconds = (meeting.end - meeting.start).total_seconds()
    duration = max(1, math.ceil(seconds / 60))
    number = clean_text(meeting.alias or "")
    protocol, platform = meeting.protocol.value, meeting.platform.value
    if (
        not number
        and meeting.join_url
        and profile.webrtc_join
        and meeting.platform.value in WEBRTC_PLATFORMS
    ):
        number = clean_text(meeting.join_url, limit=MAX_URL)
        protocol = WEBRTC
    name = clean_text(meeting.organizer_name) or clean_text(meeting.organizer_email)
    return Booking(
        id=booking_id(meeting.event_id),
        title=clean_text(meeting.subject),
        privacy="Private" if meeting.private else "Public",
        organizer_name=name,
        organizer_email=clean_text(meeting.organizer_email),
        start=start,
        duration_minutes=duration,
        start_buffer_seconds=max(0, profile.start_buffer) * 60,
        end_buffer_seconds=max(0, profile.end_buffer) * 60,
        number=number,
        protocol=protocol,
        platform=platform,
    )


def is_native_join(booking: Booking) -> bool:
    """Whether a booking is a RoomOS native (WebRTC) join."""
    return booking.protocol == WEBRTC and bool(booking.number)


def for_software(bookings: Sequence[Booking], *, webrtc: bool) -> tuple[Booking, ...]:
    """The list as a device gets it: native joins kept where its software joins natively
    (``webrtc``), otherwise without a number (shown without a Join button, as before)."""
    if webrtc:
        return tuple(bookings)
    return tuple(
        replace(b, number="", protocol="SIP", platform="Other") if is_native_join(b) else b
        for b in bookings
    )


def bookings_for_room(meetings: Iterable[Meeting], *, profile: Profile) -> tuple[Booking, ...]:
    """The room's whole booking list: listed meetings only, ordered by start then Id.

    A meeting without an alias stays in the list without a number (the device shows it in its
    calendar but offers no Join button); unlisted meetings are left out entirely. Two events
    that map to the same Id (never expected) keep the first, so the device never rejects a list.
    """
    seen: set[str] = set()
    result: list[Booking] = []
    for meeting in sorted(meetings, key=lambda m: (m.start, m.event_id)):
        if not meeting.listed:
            continue
        booking = booking_from_meeting(meeting, profile=profile)
        if booking.id in seen:
            continue
        seen.add(booking.id)
        result.append(booking)
    return tuple(sorted(result, key=lambda b: (b.start, b.id)))


# --- xCommand Bookings Put (JSON) -------------------------------------------------------------


def put_payload(bookings: Sequence[Booking], *, include_platform: bool = True) -> dict[str, Any]:
    """The JSON document of ``xCommand Bookings Put`` as Python values."""
    entries: list[dict[str, Any]] = []
    for b in bookings:
        entry: dict[str, Any] = {
            "Id": b.id,
            "Title": b.title,
            "Agenda": "",
            "Privacy": b.privacy,
            "Organizer": {"Name": b.organizer_name, "Email": b.organizer_email},
            "Time": {
                "StartTime": format_utc(b.start),
                "Duration": b.duration_minutes,
                "StartTimeBuffer": b.start_buffer_seconds,
                "EndTimeBuffer": b.end_buffer_seconds,
            },
            "Number": b.number,
            "Protocol": b.protocol,
            "CallType": b.call_type,
        }
        if include_platform:
            entry["MeetingPlatform"] = b.platform
        entries.append(entry)
    return {"Bookings": entries}


def render_put_json(bookings: Sequence[Booking], *, include_platform: bool = True) -> str:
    """Serialise the ``Bookings Put`` payload (UTF-8 text, emoji kept as characters)."""
    return json.dumps(
        put_payload(bookings, include_platform=include_platform),
        ensure_ascii=False,
        separators=(",", ":"),
    )


def render_put_command(bookings: Sequence[Booking], *, include_platform: bool = True) -> bytes:
    """``<Command><Bookings><Put><body>JSON</body></Put></Bookings></Command>`` for ``/putxml``."""
    command = Element("Command")
    put = SubElement(SubElement(command, "Bookings"), "Put")
    SubElement(put, "body").text = render_put_json(bookings, include_platform=include_platform)
    return _document(command)


def bookings_from_put_json(text: str) -> tuple[Booking, ...]:
    """Parse a ``Bookings Put`` payload back into bookings (the inverse of render_put_json)."""
    data = json.loads(text)
    result = []
    for entry in data["Bookings"]:
        organizer = entry.get("Organizer", {})
        time = entry["Time"]
        result.append(
            Booking(
                id=str(entry["Id"]),
                title=str(entry["Title"]),
                privacy="Private" if entry.get("Privacy") == "Private" else "Public",
                organizer_name=str(organizer.get("Name", "")),
                organizer_email=str(organizer.get("Email", "")),
                start=parse_utc(str(time["StartTime"])),
                duration_minutes=int(time["Duration"]),
                start_buffer_seconds=int(time.get("StartTimeBuffer", 0)),
                end_buffer_seconds=int(time.get("EndTimeBuffer", 0)),
                number=str(entry["Number"]),
                protocol=str(entry["Protocol"]),
                platform=str(entry.get("MeetingPlatform", "Other")),
                call_type=str(entry.get("CallType", "Video")),
            )
        )
    return tuple(result)


# --- legacy POST /bookingsputxml (Cisco TMS format) --------------------------------------------


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def render_legacy_xml(bookings: Sequence[Booking]) -> bytes:
    """The ``<Bookings>`` document for ``POST /bookingsputxml`` (pre-CE 9.15 software)."""
    root = Element("Bookings", {"item": "1", "status": "OK"})
    for index, b in enumerate(bookings, start=1):
        booking = SubElement(root, "Booking", {"item": str(index)})
        _leaf(booking, "Id", b.id)
        _leaf(booking, "Title", b.title)
        _leaf(booking, "Agenda", "")
        _leaf(booking, "Privacy", b.privacy)
        organizer = SubElement(booking, "Organizer", {"item": "1"})
        first, last = _split_name(b.organizer_name)
        _leaf(organizer, "FirstName", first)
        _leaf(organizer, "LastName", last)
        _leaf(organizer, "Email", b.organizer_email)
        time = SubElement(booking, "Time", {"item": "1"})
        _leaf(time, "StartTime", format_utc(b.start))
        _leaf(time, "StartTimeBuffer", str(b.start_buffer_seconds))
        _leaf(time, "EndTime", format_utc(b.end))
        _leaf(time, "EndTimeBuffer", str(b.end_buffer_seconds))
        _leaf(booking, "MaximumMeetingExtension", "0")
        _leaf(booking, "BookingStatus", "OK")
        _leaf(booking, "BookingStatusMessage", "")
        webex = SubElement(booking, "Webex", {"item": "1"})
        _leaf(webex, "Enabled", "False")
        _leaf(booking, "Encryption", "BestEffort")
        _leaf(booking, "Role", "Master")
        _leaf(booking, "Recording", "Disabled")
        _leaf(booking, "MeetingPlatform", b.platform)
        dial = SubElement(booking, "DialInfo", {"item": "1"})
        calls = SubElement(dial, "Calls", {"item": "1"})
        if b.number:
            call = SubElement(calls, "Call", {"item": "1"})
            _leaf(call, "Number", b.number)
            _leaf(call, "Protocol", b.protocol)
            _leaf(call, "CallRate", "6000")
            _leaf(call, "CallType", b.call_type)
        _leaf(dial, "ConnectMode", "OBTP" if b.number else "Manual")
    return _document(root)


def _leaf(parent: Element, tag: str, text: str) -> None:
    SubElement(parent, tag, {"item": "1"}).text = text


def _document(root: Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(
        tostring(root, encoding="utf-8", xml_declaration=False)
    )


# --- reading bookings back (Bookings List, legacy document) -------------------------------------


class BookingsParseError(ValueError):
    """A booking document could not be read (malformed XML or missing required elements)."""


def _text(element: Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path)
    if found is None or found.text is None:
        return default
    return found.text


def _booking_from_element(item: Element) -> Booking:
    ident = _text(item, "Id")
    start_text = _text(item, "Time/StartTime")
    if not ident or not start_text:
        raise BookingsParseError("booking without Id or Time/StartTime")
    start = parse_utc(start_text)
    end_text = _text(item, "Time/EndTime")
    if end_text:
        minutes = round((parse_utc(end_text) - start).total_seconds() / 60)
    else:
        minutes = int(_text(item, "Time/Duration", "0") or 0)
    first = _text(item, "Organizer/FirstName")
    last = _text(item, "Organizer/LastName")
    name = _text(item, "Organizer/Name") or " ".join(p for p in (first, last) if p)
    call = item.find("DialInfo/Calls/Call")
    privacy: Privacy = "Private" if _text(item, "Privacy") == "Private" else "Public"
    return Booking(
        id=ident,
        title=_text(item, "Title"),
        privacy=privacy,
        organizer_name=name,
        organizer_email=_text(item, "Organizer/Email"),
        start=start,
        duration_minutes=minutes,
        start_buffer_seconds=int(_text(item, "Time/StartTimeBuffer", "0") or 0),
        end_buffer_seconds=int(_text(item, "Time/EndTimeBuffer", "0") or 0),
        number=_text(call, "Number"),
        protocol=_text(call, "Protocol", "SIP") if call is not None else "SIP",
        platform=_text(item, "MeetingPlatform", "Other"),
        call_type=_text(call, "CallType", "Video") if call is not None else "Video",
    )


def parse_bookings_list(document: bytes) -> tuple[Booking, ...]:
    """Bookings from a ``Bookings List`` answer (``<Command><BookingsListResult>``)."""
    try:
        root = parse_untrusted_xml(document)
    except (XMLParseError, ValueError, DefusedXmlException) as exc:
        raise BookingsParseError(f"booking list is not XML: {exc}") from exc
    result = root if root.tag == "BookingsListResult" else root.find("BookingsListResult")
    if result is None:
        raise BookingsParseError(f"no BookingsListResult in <{root.tag}>")
    try:
        return tuple(_booking_from_element(item) for item in result.findall("Booking"))
    except ValueError as exc:
        raise BookingsParseError(str(exc)) from exc


def parse_legacy_xml(document: bytes) -> tuple[Booking, ...]:
    """Bookings from a ``/bookingsputxml`` document (used by the codec simulator)."""
    try:
        root = parse_untrusted_xml(document)
    except (XMLParseError, ValueError, DefusedXmlException) as exc:
        raise BookingsParseError(f"bookings document is not XML: {exc}") from exc
    if root.tag != "Bookings":
        raise BookingsParseError(f"expected <Bookings>, got <{root.tag}>")
    try:
        return tuple(_booking_from_element(item) for item in root.findall("Booking"))
    except ValueError as exc:
        raise BookingsParseError(str(exc)) from exc


# --- idempotence and verification ---------------------------------------------------------------


def list_digest(bookings: Sequence[Booking], *, mode: BookingsMode) -> str:
    """A digest of exactly what would be sent: equal digests mean nothing to re-send."""
    canonical = json.dumps(
        {"mode": mode, **put_payload(bookings)}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _comparable(b: Booking) -> Mapping[str, object]:
    return {
        "Title": b.title,
        "StartTime": format_utc(b.start),
        "EndTime": format_utc(b.end),
        "Number": b.number,
        "Protocol": b.protocol.upper() if b.number else "",
    }


def compare_lists(expected: Sequence[Booking], actual: Sequence[Booking]) -> tuple[str, ...]:
    """Human-readable differences between what was pushed and what the device lists."""
    problems: list[str] = []
    want = {b.id: b for b in expected}
    have = {b.id: b for b in actual}
    problems.extend(f"missing on device: {ident}" for ident in sorted(want.keys() - have.keys()))
    problems.extend(f"not pushed by us: {ident}" for ident in sorted(have.keys() - want.keys()))
    for ident in sorted(want.keys() & have.keys()):
        a, b = _comparable(want[ident]), _comparable(have[ident])
        problems.extend(
            f"{ident}: {field} is {b[field]!r}, expected {a[field]!r}"
            for field in a
            if a[field] != b[field]
        )
    return tuple(problems)
