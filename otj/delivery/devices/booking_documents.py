"""The Cisco booking list on the wire (pure): the documents that replace it, the answer that
lists it, and what a push is checked against.

Two wire formats replace the whole stored list on a Cisco codec:

* ``xCommand Bookings Put`` (multiline command, JSON payload, sent through ``/putxml`` inside
  ``<Command><Bookings><Put><body>…</body></Put></Bookings></Command>``). Cisco's published xAPI
  schemas list it from CE 9.15 (e.g. ce9.15.3.17) and in every RoomOS 10/11/26 release; CE 9.12
  does not have it. Required fields: Id, Title, Number, Protocol, Organizer/Name,
  Time/StartTime (UTC), Time/Duration (minutes); StartTimeBuffer/EndTimeBuffer are seconds.
* the legacy ``POST /bookingsputxml`` document used by Cisco TMS (``<Bookings><Booking>…``),
  for software older than CE 9.15.

``Bookings List`` answers with ``<BookingsListResult>``; :func:`parse_bookings_list` reads it
back so that a push can be verified (:func:`compare_lists`); :func:`list_digest` says whether a
list differs from the one last sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.delivery.devices.bookings import Booking, BookingsMode, Privacy, format_utc, parse_utc

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


def booking_from_element(item: Element) -> Booking:
    """A ``<Booking>`` of a ``Bookings List`` answer or of a legacy document."""
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
        return tuple(booking_from_element(item) for item in result.findall("Booking"))
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
