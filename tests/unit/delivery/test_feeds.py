"""Pull feeds: JSON entries, entity tags, If-None-Match, iCalendar (RFC 5545/7986)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from otj.delivery.pull.feeds import (
    dial_uri,
    ics_feed,
    meeting_json,
    meetings_body,
    not_modified,
    strong_etag,
)
from otj.model import CallProtocol
from tests.unit.delivery.meetings import T0, meeting

STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_json_entry_fields() -> None:
    entry = meeting_json(meeting())
    assert entry == {
        "id": "evt-1",
        "subject": "Weekly sync",
        "organizerName": "Ola Normann",
        "organizerEmail": "ola@example.com",
        "startTime": "2026-03-02T09:00:00Z",
        "endTime": "2026-03-02T09:30:00Z",
        "joinFrom": "2026-03-02T08:55:00Z",
        "joinUntil": "2026-03-02T09:30:00Z",
        "alias": "abc-defg-hij@google.pexip.me",
        "protocol": "SIP",
        "platform": "GoogleMeet",
    }


def test_body_lists_only_listed_meetings_in_order_and_is_stable() -> None:
    items = [
        meeting(event_id="b", start=T0 + timedelta(hours=1)),
        meeting(event_id="a"),
        meeting(event_id="hidden", listed=False),
    ]
    body = meetings_body(items)
    assert [e["id"] for e in json.loads(body)] == ["a", "b"]
    assert meetings_body(reversed(items)) == body
    assert strong_etag(body) == strong_etag(meetings_body(items))
    assert strong_etag(body) != strong_etag(meetings_body(items[:1]))


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x"', False),
        ("*", True),
        ('"ab"', False),
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert not_modified(header, '"abc"') is matches


@pytest.mark.parametrize(
    ("alias", "protocol", "uri"),
    [
        ("abc-defg-hij@google.pexip.me", CallProtocol.SIP, "sip:abc-defg-hij@google.pexip.me"),
        ("sip:x@y", CallProtocol.SIP, "sip:x@y"),
        ("sips:x@y", CallProtocol.SIP, "sips:x@y"),
        ("1234@gk.example.com", CallProtocol.H323, "h323:1234@gk.example.com"),
        ("10.0.0.1:5061", CallProtocol.SIP, "sip:10.0.0.1:5061"),
    ],
)
def test_dial_uri(alias: str, protocol: CallProtocol, uri: str) -> None:
    assert dial_uri(alias, protocol) == uri


def test_ics_feed_round_trips_through_icalendar() -> None:
    items = [
        meeting(subject="Café; <&>, \\ 🎉", ical_uid="uid-1@google.com"),
        meeting(event_id="no-video", alias=None, start=T0 + timedelta(hours=2), private=True),
        meeting(event_id="hidden", listed=False),
    ]
    feed = ics_feed("fjord@resource.example.com", items, stamp=STAMP, name="Oslo Fjord")
    assert feed == ics_feed("fjord@resource.example.com", items, stamp=STAMP, name="Oslo Fjord")
    calendar = icalendar.Calendar.from_ical(feed)
    assert str(calendar["name"]) == "Oslo Fjord"
    events = calendar.walk("VEVENT")
    assert len(events) == 2
    first, second = events
    assert str(first["summary"]) == "Café; <&>, \\ 🎉"
    assert str(first["uid"]) == "uid-1@google.com"
    assert first.decoded("dtstart") == T0
    assert str(first["conference"]) == "sip:abc-defg-hij@google.pexip.me"
    assert first["conference"].params["FEATURE"] == "VIDEO"
    assert first["conference"].params["VALUE"] == "URI"
    assert str(first["location"]) == "sip:abc-defg-hij@google.pexip.me"
    assert str(first["organizer"]) == "mailto:ola@example.com"
    assert first["organizer"].params["CN"] == "Ola Normann"
    assert "conference" not in second
    assert str(second["class"]) == "PRIVATE"
    assert b"\r\n" in feed
