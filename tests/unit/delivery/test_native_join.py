"""Finding the Meet/Teams URL for a RoomOS native join, and the bookings made from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from calendars.base import CalendarEvent, Conference, EntryPoint
from otj.delivery.devices.bookings import bookings_for_room, for_software, is_native_join
from otj.delivery.devices.native_join import find_native_join, with_native_join
from otj.delivery.devices.xapi import parse_software_version
from otj.model import Platform, Profile
from tests.unit.delivery.meetings import meeting

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MEET = "https://meet.google.com/abc-defg-hij"
TEAMS = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ2%40thread.v2/0"
    "?context=%7b%22Tid%22%3a%22a1%22%7d"
)
WEBRTC = Profile(name="Native", webrtc_join=True)


def event(**values: Any) -> CalendarEvent:
    return CalendarEvent(
        id="evt-1",
        room="fjord@rooms.example.com",
        start=START,
        end=START + timedelta(minutes=30),
        subject="Sync",
        **values,
    )


def test_meet_from_conference_data() -> None:
    conference = Conference(
        solution="hangoutsMeet",
        id="abc-defg-hij",
        entry_points=(
            EntryPoint(type="phone", uri="tel:+47-22-00-00-00"),
            EntryPoint(type="video", uri=MEET),
        ),
    )
    assert find_native_join(event(conference=conference)) == (Platform.GOOGLE_MEET, MEET)


def test_teams_link_in_html_behind_safe_links() -> None:
    wrapped = (
        "https://eur01.safelinks.protection.outlook.com/?url="
        + quote(TEAMS, safe="")
        + "&amp;data=05%7C01&amp;reserved=0"
    )
    body = f'<p>Join:</p><a href="{wrapped}">Click here to join the meeting</a>'
    assert find_native_join(event(body_html=body)) == (Platform.MICROSOFT_TEAMS, TEAMS)


def test_short_teams_link_and_trailing_punctuation() -> None:
    link = "https://teams.microsoft.com/meet/3141592653589?p=AbCdEf"
    assert find_native_join(event(body=f"Join ({link}).")) == (Platform.MICROSOFT_TEAMS, link)


def test_no_meet_or_teams_link() -> None:
    assert find_native_join(event(body="https://zoom.us/j/123456789 and meet.google.com")) is None


def test_with_native_join_only_without_an_alias_and_when_the_profile_asks() -> None:
    source = event(location=MEET)
    bare = meeting(alias=None, platform=Platform.OTHER, rule=None)
    joined = with_native_join(bare, source, WEBRTC)
    assert (joined.join_url, joined.platform) == (MEET, Platform.GOOGLE_MEET)
    assert joined.trace[-1].rule == "webrtc"
    assert "native GoogleMeet join" in joined.trace[-1].detail
    # the profile does not ask for it; or the rules gave an alias (SIP Guest Join wins)
    assert with_native_join(bare, source, Profile(name="SIP only")) == bare
    aliased = meeting()
    assert with_native_join(aliased, source, WEBRTC) == aliased


def test_bookings_carry_the_url_as_a_webrtc_number() -> None:
    joined = meeting(alias=None, platform=Platform.GOOGLE_MEET, join_url=MEET, rule=None)
    [booking] = bookings_for_room([joined], profile=WEBRTC)
    assert (booking.number, booking.protocol, booking.platform) == (MEET, "WebRTC", "GoogleMeet")
    assert is_native_join(booking)
    # without webrtc_join (profile turned off since): no number, as before
    [plain] = bookings_for_room([joined], profile=Profile(name="SIP only"))
    assert (plain.number, plain.protocol) == ("", "SIP")


def test_software_without_native_join_gets_no_number() -> None:
    joined = meeting(alias=None, platform=Platform.MICROSOFT_TEAMS, join_url=TEAMS, rule=None)
    sip = meeting(event_id="evt-2")
    bookings = bookings_for_room([joined, sip], profile=WEBRTC)
    new, old = parse_software_version("ce11.14.1.5"), parse_software_version("ce10.19.1.2")
    assert new.supports_webrtc_join
    assert not old.supports_webrtc_join
    assert for_software(bookings, webrtc=True) == bookings
    stripped = for_software(bookings, webrtc=False)
    assert (stripped[0].number, stripped[0].protocol) == ("", "SIP")
    assert stripped[1] == bookings[1]  # SIP bookings are untouched
