"""Reading pushed booking lists back in tests: the inverses of
:func:`otj.delivery.devices.booking_documents.render_put_json` and ``render_legacy_xml`` (the
product never reads these documents, a codec does)."""

from __future__ import annotations

import json

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.delivery.devices.booking_documents import BookingsParseError, booking_from_element
from otj.delivery.devices.bookings import Booking, parse_utc


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


def parse_legacy_xml(document: bytes) -> tuple[Booking, ...]:
    """Bookings from a ``/bookingsputxml`` document."""
    try:
        root = parse_untrusted_xml(document)
    except (XMLParseError, ValueError, DefusedXmlException) as exc:
        raise BookingsParseError(f"bookings document is not XML: {exc}") from exc
    if root.tag != "Bookings":
        raise BookingsParseError(f"expected <Bookings>, got <{root.tag}>")
    try:
        return tuple(booking_from_element(item) for item in root.findall("Booking"))
    except ValueError as exc:
        raise BookingsParseError(str(exc)) from exc
