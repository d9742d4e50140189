"""Meetings → the Cisco booking list (pure): one :class:`Booking` per listed meeting, in the
device's terms (Cisco xAPI reference, "xCommand Bookings Put": Id String(0..128), Title,
Organizer, Time in UTC, Number/Protocol/MeetingPlatform). Texts arrive clean (one line, XML 1.0
characters: :mod:`calendars.text`); here they are only cut to the device's field lengths.

The documents that carry the list to and from a device are in
:mod:`otj.delivery.devices.booking_documents`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

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


def fit_text(value: str, *, limit: int = MAX_TEXT) -> str:
    """``value`` cut to a booking field's ``limit`` (code points), without a trailing space."""
    return value if len(value) <= limit else value[:limit].rstrip()


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
    number = fit_text(meeting.alias or "")
    protocol, platform = meeting.protocol.value, meeting.platform.value
    if (
        not number
        and meeting.join_url
        and profile.webrtc_join
        and meeting.platform.value in WEBRTC_PLATFORMS
    ):
        number = fit_text(meeting.join_url, limit=MAX_URL)
        protocol = WEBRTC
    name = fit_text(meeting.organizer_name or meeting.organizer_email)
    return Booking(
        id=booking_id(meeting.event_id),
        title=fit_text(meeting.subject),
        privacy="Private" if meeting.private else "Public",
        organizer_name=name,
        organizer_email=fit_text(meeting.organizer_email),
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
