"""vevent_to_event: RFC 5545 VEVENT → CalendarEvent, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calendars.base import MAX_BODY_CHARS, TRUNCATION_MARKER, MalformedCalendarData
from calendars.ical import vevent_to_event

ROOM = "Fjord@resource.example.com"
OSLO = ZoneInfo("Europe/Oslo")
BERLIN = ZoneInfo("Europe/Berlin")

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""


def parse(body: str, *, vtimezone: str = "") -> icalendar.cal.Component:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//otj//tests//EN\r\n"
        + vtimezone
        + "BEGIN:VEVENT\r\n"
        + body
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    cal = icalendar.Calendar.from_ical(text.replace("\r\n", "\n").replace("\n", "\r\n"))
    return cal.walk("VEVENT")[0]


FULL = """UID:abc@example.com
SUMMARY:Weekly sync
LOCATION:Fjord
DESCRIPTION:Join https://meet.google.com/abc-defg-hij
X-ALT-DESC;FMTTYPE=text/html:<p>Join <a href="https://x">here</a></p>
ORGANIZER;CN=Ann Organizer:mailto:Ann@Example.com
ATTENDEE;CN=Bob;PARTSTAT=TENTATIVE:mailto:bob@example.com
ATTENDEE;CN=Fjord;CUTYPE=RESOURCE;PARTSTAT=DECLINED:mailto:fjord@resource.example.com
DTSTART;TZID=Europe/Oslo:20260310T100000
DTEND;TZID=Europe/Oslo:20260310T110000
CLASS:CONFIDENTIAL
STATUS:TENTATIVE
LAST-MODIFIED:20260301T120000Z
"""


def test_full_event_fields() -> None:
    event = vevent_to_event(parse(FULL), room=ROOM)
    assert event.id == "abc@example.com"
    assert event.ical_uid == "abc@example.com"
    assert event.room == ROOM
    assert event.subject == "Weekly sync"
    assert event.location == "Fjord"
    assert event.body == "Join https://meet.google.com/abc-defg-hij"
    assert event.body_html == '<p>Join <a href="https://x">here</a></p>'
    assert (event.organizer_name, event.organizer_email) == ("Ann Organizer", "ann@example.com")
    assert event.start == datetime(2026, 3, 10, 10, tzinfo=OSLO)
    assert event.end == datetime(2026, 3, 10, 11, tzinfo=OSLO)
    assert event.all_day is False
    assert event.private is True
    assert event.status == "tentative"
    assert event.room_response == "declined"
    assert [a.email for a in event.attendees] == ["bob@example.com", "fjord@resource.example.com"]
    assert event.attendees[0].response == "tentative"
    assert event.attendees[1].resource is True
    assert event.recurring_id == ""
    assert event.updated == datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lines", "start", "end"),
    [
        pytest.param(
            "DTSTART;TZID=W. Europe Standard Time:20260310T100000\n"
            "DTEND;TZID=W. Europe Standard Time:20260310T110000\n",
            datetime(2026, 3, 10, 10, tzinfo=BERLIN),
            datetime(2026, 3, 10, 11, tzinfo=BERLIN),
            id="windows-zone-name",
        ),
        pytest.param(
            "DTSTART;TZID=Customized Time Zone:20260710T100000\n"
            "DTEND;TZID=Customized Time Zone:20260710T110000\n",
            datetime(2026, 7, 10, 8, tzinfo=UTC),
            datetime(2026, 7, 10, 9, tzinfo=UTC),
            id="vtimezone-definition",
        ),
        pytest.param(
            "DTSTART:20260310T100000Z\nDURATION:PT45M\n",
            datetime(2026, 3, 10, 10, tzinfo=UTC),
            datetime(2026, 3, 10, 10, 45, tzinfo=UTC),
            id="utc-duration",
        ),
        pytest.param(
            "DTSTART:20260310T100000\n",
            datetime(2026, 3, 10, 10, tzinfo=UTC),
            datetime(2026, 3, 10, 10, tzinfo=UTC),
            id="floating-no-end",
        ),
        pytest.param(
            "DTSTART;TZID=Nowhere/Special:20260310T100000\nDTEND;TZID=Nowhere/Special:20260310T110000\n",
            datetime(2026, 3, 10, 10, tzinfo=UTC),
            datetime(2026, 3, 10, 11, tzinfo=UTC),
            id="unknown-tzid-uses-default",
        ),
        pytest.param(
            "DTSTART;VALUE=DATE:20260310\n",
            datetime(2026, 3, 10, tzinfo=UTC),
            datetime(2026, 3, 11, tzinfo=UTC),
            id="all-day-no-end",
        ),
        pytest.param(
            "DTSTART;VALUE=DATE:20260310\nDTEND;VALUE=DATE:20260312\n",
            datetime(2026, 3, 10, tzinfo=UTC),
            datetime(2026, 3, 12, tzinfo=UTC),
            id="all-day-two-days",
        ),
    ],
)
def test_times(lines: str, start: datetime, end: datetime) -> None:
    event = vevent_to_event(parse("UID:t\n" + lines, vtimezone=VTIMEZONE), room=ROOM)
    assert event.start == start
    assert event.end == end
    assert event.start.utcoffset() is not None
    assert event.all_day is ("VALUE=DATE" in lines)


def test_default_tz_for_all_day_and_floating() -> None:
    event = vevent_to_event(
        parse("UID:t\nDTSTART;VALUE=DATE:20260310\n"), room=ROOM, default_tz=OSLO
    )
    assert event.start == datetime(2026, 3, 10, tzinfo=OSLO)
    assert event.start.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("lines", "private", "status"),
    [
        ("CLASS:PRIVATE\n", True, "confirmed"),
        ("CLASS:CONFIDENTIAL\n", True, "confirmed"),
        ("CLASS:PUBLIC\n", False, "confirmed"),
        ("STATUS:CANCELLED\n", False, "cancelled"),
        ("STATUS:CONFIRMED\n", False, "confirmed"),
        ("STATUS:whatever\n", False, "confirmed"),
    ],
)
def test_class_and_status(lines: str, private: bool, status: str) -> None:
    event = vevent_to_event(parse("UID:t\nDTSTART:20260310T100000Z\n" + lines), room=ROOM)
    assert (event.private, event.status) == (private, status)


@pytest.mark.parametrize(
    ("attendee", "response"),
    [
        ("", "accepted"),
        ("ATTENDEE:mailto:fjord@resource.example.com\n", "needsAction"),
        ("ATTENDEE;PARTSTAT=ACCEPTED:MAILTO:FJORD@resource.example.com\n", "accepted"),
        ("ATTENDEE;PARTSTAT=TENTATIVE:mailto:fjord@resource.example.com\n", "tentative"),
        ("ATTENDEE;PARTSTAT=DECLINED:mailto:other@resource.example.com\n", "accepted"),
    ],
)
def test_room_response(attendee: str, response: str) -> None:
    event = vevent_to_event(parse("UID:t\nDTSTART:20260310T100000Z\n" + attendee), room=ROOM)
    assert event.room_response == response


def test_occurrence_id_and_recurring_id() -> None:
    event = vevent_to_event(
        parse(
            "UID:series\nRECURRENCE-ID;TZID=Europe/Oslo:20260324T100000\n"
            "DTSTART;TZID=Europe/Oslo:20260324T150000\n"
        ),
        room=ROOM,
    )
    assert event.id == "series_20260324T090000Z"
    assert event.recurring_id == "series"
    assert event.start == datetime(2026, 3, 24, 14, tzinfo=UTC)
    explicit = vevent_to_event(parse("UID:x\nDTSTART:20260310T100000Z\n"), room=ROOM, event_id="E1")
    assert explicit.id == "E1"


def test_conference_from_google_export() -> None:
    event = vevent_to_event(
        parse(
            "UID:t\nDTSTART:20260310T100000Z\nX-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij\n"
        ),
        room=ROOM,
    )
    assert event.conference is not None
    assert event.conference.id == "abc-defg-hij"
    assert event.conference.entry_points[0].uri == "https://meet.google.com/abc-defg-hij"


def test_long_body_truncated() -> None:
    vevent = parse("UID:t\nDTSTART:20260310T100000Z\n")
    vevent.add("DESCRIPTION", "x" * (MAX_BODY_CHARS + 10))
    event = vevent_to_event(vevent, room=ROOM)
    assert event.body.endswith(TRUNCATION_MARKER)
    assert len(event.body) == MAX_BODY_CHARS + len(TRUNCATION_MARKER)


@pytest.mark.parametrize(
    "body", ["UID:t\n", "UID:t\nDTSTART:garbage\n", "DTSTART:20260310T100000Z\n"]
)
def test_malformed(body: str) -> None:
    with pytest.raises(MalformedCalendarData):
        vevent_to_event(parse(body), room=ROOM)


def test_fixed_offset_kept() -> None:
    vevent = parse("UID:t\n")
    vevent.add("DTSTART", datetime(2026, 3, 10, 10, tzinfo=timezone(timedelta(hours=5))))
    assert vevent_to_event(vevent, room=ROOM).start.utcoffset() == timedelta(hours=5)
