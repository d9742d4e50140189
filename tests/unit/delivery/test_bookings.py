"""Meetings → Cisco booking lists: field mapping, serialisation round trips, verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.text import one_line
from otj.delivery.devices.booking_documents import (
    BookingsParseError,
    compare_lists,
    list_digest,
    parse_bookings_list,
    render_legacy_xml,
    render_put_command,
    render_put_json,
)
from otj.delivery.devices.bookings import (
    Booking,
    booking_from_meeting,
    booking_id,
    bookings_for_room,
    fit_text,
    parse_utc,
)
from otj.model import CallProtocol, Platform, Profile
from tests.unit.delivery.bookings_read_back import bookings_from_put_json, parse_legacy_xml
from tests.unit.delivery.meetings import T0, meeting

PROFILE = Profile(name="p", start_buffer=5, end_buffer=2)


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({}, "Id", "evt-1"),
        ({}, "Title", "Weekly sync"),
        ({}, "Privacy", "Public"),
        ({"private": True, "subject": "Ola Normann"}, "Privacy", "Private"),
        ({}, "Number", "abc-defg-hij@google.pexip.me"),
        ({"alias": None}, "Number", ""),
        ({"protocol": CallProtocol.H323, "alias": "1234@h323.example.com"}, "Protocol", "H323"),
        ({}, "MeetingPlatform", "GoogleMeet"),
        ({"platform": Platform.MICROSOFT_TEAMS}, "MeetingPlatform", "MicrosoftTeams"),
        ({}, "CallType", "Video"),
        ({}, "Organizer", {"Name": "Ola Normann", "Email": "ola@example.com"}),
        (
            {"organizer_name": ""},
            "Organizer",
            {"Name": "ola@example.com", "Email": "ola@example.com"},
        ),
        (
            {},
            "Time",
            {
                "StartTime": "2026-03-02T09:00:00Z",
                "Duration": 30,
                "StartTimeBuffer": 300,
                "EndTimeBuffer": 120,
            },
        ),
        # a start in another zone is sent in UTC; a 90.5 minute meeting lasts 91 minutes
        (
            {
                "start": datetime(2026, 3, 2, 10, 0, 30, tzinfo=timezone(timedelta(hours=1))),
                "end": datetime(2026, 3, 2, 11, 31, tzinfo=timezone(timedelta(hours=1))),
            },
            "Time",
            {
                "StartTime": "2026-03-02T09:00:30Z",
                "Duration": 91,
                "StartTimeBuffer": 300,
                "EndTimeBuffer": 120,
            },
        ),
        # a zero-length event still gets a valid duration
        (
            {"end": T0},
            "Time",
            {
                "StartTime": "2026-03-02T09:00:00Z",
                "Duration": 1,
                "StartTimeBuffer": 300,
                "EndTimeBuffer": 120,
            },
        ),
    ],
)
def test_put_fields(overrides: dict[str, object], field: str, expected: object) -> None:
    bookings = bookings_for_room([meeting(**overrides)], profile=PROFILE)
    payload = json.loads(render_put_json(bookings))
    assert payload["Bookings"][0][field] == expected


def test_every_required_put_field_is_present_even_without_alias() -> None:
    bookings = bookings_for_room([meeting(alias=None)], profile=PROFILE)
    entry = json.loads(render_put_json(bookings))["Bookings"][0]
    for key in ("Id", "Title", "Number", "Protocol"):
        assert key in entry
    assert "Name" in entry["Organizer"]
    assert {"StartTime", "Duration"} <= entry["Time"].keys()
    assert bookings[0].joinable is False


def test_unlisted_meetings_are_not_sent_and_order_is_by_start() -> None:
    late = meeting(event_id="late", start=T0 + timedelta(hours=2))
    early = meeting(event_id="early", start=T0)
    hidden = meeting(event_id="hidden", listed=False, unlisted_reason="private")
    bookings = bookings_for_room([late, hidden, early], profile=PROFILE)
    assert [b.id for b in bookings] == ["early", "late"]


def test_platform_can_be_left_out_for_older_software() -> None:
    bookings = bookings_for_room([meeting()], profile=PROFILE)
    entry = json.loads(render_put_json(bookings, include_platform=False))["Bookings"][0]
    assert "MeetingPlatform" not in entry


@pytest.mark.parametrize(
    ("event_id", "stable_plain"),
    [
        ("evt-1", True),
        ("abc123_20260302T090000Z", True),  # a Google recurring instance id
        ("AAMkAGI2TG93AAA=", True),
        ("x" * 129, False),
        ("id with spaces", False),
        ("ümlaut", False),
    ],
)
def test_booking_ids_are_stable_and_fit(event_id: str, stable_plain: bool) -> None:
    ident = booking_id(event_id)
    assert ident == booking_id(event_id)
    assert 1 <= len(ident) <= 128
    assert (ident == event_id) is stable_plain


def test_long_ids_from_different_events_differ() -> None:
    assert booking_id("A" * 200 + "1") != booking_id("A" * 200 + "2")


def test_put_command_wraps_json_in_body() -> None:
    bookings = bookings_for_room([meeting(subject="<&>\"' 🎉")], profile=PROFILE)
    document = render_put_command(bookings)
    root = SafeET.fromstring(document)
    assert root.tag == "Command"
    body = root.find("Bookings/Put/body")
    assert body is not None
    assert body.text is not None
    assert json.loads(body.text)["Bookings"][0]["Title"] == "<&>\"' 🎉"


def test_legacy_document_shape() -> None:
    bookings = bookings_for_room(
        [meeting(), meeting(event_id="2", alias=None, start=T0 + timedelta(hours=1))],
        profile=PROFILE,
    )
    root = SafeET.fromstring(render_legacy_xml(bookings))
    assert root.tag == "Bookings"
    first, second = root.findall("Booking")
    assert first.findtext("Organizer/FirstName") == "Ola"
    assert first.findtext("Organizer/LastName") == "Normann"
    assert first.findtext("Time/EndTime") == "2026-03-02T09:30:00Z"
    assert first.findtext("Time/StartTimeBuffer") == "300"
    assert first.findtext("DialInfo/Calls/Call/Number") == "abc-defg-hij@google.pexip.me"
    assert first.findtext("DialInfo/ConnectMode") == "OBTP"
    assert second.find("DialInfo/Calls/Call") is None
    assert second.findtext("DialInfo/ConnectMode") == "Manual"


# --- round trips with hostile text ------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    'Tom & Jerry\'s "quoted" <b>meeting</b>',
    "]]> <![CDATA[ x ]]>",
    "Emoji 🎉🚀 and 中文 and Ünïcödé",
    "tab\there\r\nnewline",
    "nul\x00and\x1bescape",
    "",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_round_trip_through_json_and_xml(title: str) -> None:
    # meetings hold text as the calendar edge made it (calendars.text.one_line)
    expected = one_line(title)
    bookings = bookings_for_room([meeting(subject=expected)], profile=PROFILE)
    assert bookings[0].title == expected
    assert bookings_from_put_json(render_put_json(bookings))[0].title == expected
    assert parse_legacy_xml(render_legacy_xml(bookings))[0].title == expected
    inner = SafeET.fromstring(render_put_command(bookings)).findtext("Bookings/Put/body")
    assert inner is not None
    assert bookings_from_put_json(inner) == bookings


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(max_size=300),
    name=st.text(max_size=60),
    alias=st.one_of(st.none(), st.text(max_size=80)),
)
def test_any_text_round_trips(title: str, name: str, alias: str | None) -> None:
    # any text as the calendar edge passes it on (an alias is a rule's one-line output)
    clean = meeting(
        subject=one_line(title),
        organizer_name=one_line(name),
        alias=None if alias is None else one_line(alias),
    )
    bookings = bookings_for_room([clean], profile=PROFILE)
    assert bookings_from_put_json(render_put_json(bookings)) == bookings
    inner = SafeET.fromstring(render_put_command(bookings)).findtext("Bookings/Put/body")
    assert inner is not None
    assert bookings_from_put_json(inner) == bookings
    legacy = parse_legacy_xml(render_legacy_xml(bookings))[0]
    assert legacy.title == bookings[0].title
    assert legacy.number == bookings[0].number
    assert len(bookings[0].title) <= 255


def test_texts_are_cut_to_the_field_length() -> None:
    assert fit_text("x" * 300) == "x" * 255
    assert fit_text("x" * 254 + " y") == "x" * 254
    assert fit_text("a b") == "a b"
    long_subject = meeting(subject="s" * 300, organizer_name="n" * 300)
    booking = bookings_for_room([long_subject], profile=PROFILE)[0]
    assert (len(booking.title), len(booking.organizer_name)) == (255, 255)


# --- Bookings List and verification ------------------------------------------------------------

LIST_ANSWER = b"""<?xml version="1.0"?>
<Command><BookingsListResult status="OK">
 <ResultInfo><TotalRows>1</TotalRows></ResultInfo>
 <LastUpdated>2026-03-02T08:00:00Z</LastUpdated>
 <Booking item="1">
  <Id>evt-1</Id><Title>Weekly sync</Title><Agenda/><Privacy>Public</Privacy>
  <Organizer><FirstName>Ola</FirstName><LastName>Normann</LastName><Email>ola@example.com</Email></Organizer>
  <Time><StartTime>2026-03-02T09:00:00Z</StartTime><StartTimeBuffer>300</StartTimeBuffer>
        <EndTime>2026-03-02T09:30:00Z</EndTime><EndTimeBuffer>120</EndTimeBuffer></Time>
  <MeetingPlatform>GoogleMeet</MeetingPlatform>
  <DialInfo><Calls><Call item="1"><Number>abc-defg-hij@google.pexip.me</Number>
   <Protocol>SIP</Protocol><CallRate>6000</CallRate><CallType>Video</CallType></Call></Calls>
   <ConnectMode>OBTP</ConnectMode></DialInfo>
 </Booking>
</BookingsListResult></Command>"""


def test_parse_bookings_list_matches_what_was_rendered() -> None:
    pushed = bookings_for_room([meeting()], profile=PROFILE)
    listed = parse_bookings_list(LIST_ANSWER)
    assert listed == pushed
    assert compare_lists(pushed, listed) == ()


def test_compare_reports_every_difference() -> None:
    pushed = bookings_for_room(
        [meeting(), meeting(event_id="gone", start=T0 + timedelta(hours=3))], profile=PROFILE
    )
    listed = parse_bookings_list(
        LIST_ANSWER.replace(b"Weekly sync", b"Other").replace(b"SIP", b"H323")
    )
    problems = compare_lists(pushed, listed)
    assert "missing on device: gone" in problems
    assert "evt-1: Title is 'Other', expected 'Weekly sync'" in problems
    assert any("Protocol" in p for p in problems)


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"not xml",
        b"<Command><Other/></Command>",
        (
            b"<Command><BookingsListResult status='OK'><Booking><Title>x</Title></Booking>"
            b"</BookingsListResult></Command>"
        ),
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Command/>',
    ],
)
def test_parse_bookings_list_rejects_garbage(document: bytes) -> None:
    with pytest.raises(BookingsParseError):
        parse_bookings_list(document)


def test_digest_changes_only_with_content() -> None:
    a = bookings_for_room([meeting()], profile=PROFILE)
    b = bookings_for_room([meeting()], profile=PROFILE)
    c = bookings_for_room([meeting(subject="Changed")], profile=PROFILE)
    assert list_digest(a, mode="put") == list_digest(b, mode="put")
    assert list_digest(a, mode="put") != list_digest(c, mode="put")
    assert list_digest(a, mode="put") != list_digest(a, mode="legacy")
    assert list_digest((), mode="put") == list_digest((), mode="put")


def test_parse_utc_accepts_device_forms() -> None:
    assert parse_utc("2024-06-04T08:40:42.300000000Z") == datetime(
        2024, 6, 4, 8, 40, 42, 300000, tzinfo=UTC
    )
    assert parse_utc("2024-06-04T08:40:42Z").tzinfo is not None


def test_booking_end() -> None:
    b = booking_from_meeting(meeting(), profile=PROFILE)
    assert isinstance(b, Booking)
    assert b.end == T0 + timedelta(minutes=30)
