"""Google and Graph JSON → CalendarEvent: field tables, and hostile input never escapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.base import MalformedCalendarData
from calendars.sources.google_events import google_event_to_event
from calendars.sources.graph_events import graph_event_to_event

ROOM = "fjord@resource.example.com"
OSLO = ZoneInfo("Europe/Oslo")

GOOGLE = {
    "id": "e1_20260324T090000Z",
    "iCalUID": "e1@google.com",
    "status": "confirmed",
    "summary": "Weekly",
    "location": "Fjord",
    "description": 'Join <a href="https://meet.google.com/abc-defg-hij">here</a>',
    "organizer": {"email": "Ann@Example.com", "displayName": "Ann"},
    "start": {"dateTime": "2026-03-24T10:00:00+01:00", "timeZone": "Europe/Oslo"},
    "end": {"dateTime": "2026-03-24T11:00:00+01:00", "timeZone": "Europe/Oslo"},
    "visibility": "confidential",
    "recurringEventId": "e1",
    "updated": "2026-03-01T12:00:00.000Z",
    "attendees": [
        {"email": "ann@example.com", "responseStatus": "accepted"},
        {"email": ROOM, "resource": True, "responseStatus": "tentative", "displayName": "Fjord"},
    ],
    "conferenceData": {
        "conferenceId": "abc-defg-hij",
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}},
        "entryPoints": [
            {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij"},
            {"entryPointType": "phone", "uri": "tel:+47-21-00-00-00", "pin": "123456789"},
            {"entryPointType": "sip", "uri": "sip:123@meet.google.com", "passcode": "42"},
        ],
    },
}


def test_google_full_resource() -> None:
    event = google_event_to_event(GOOGLE, room=ROOM, default_tz=UTC)
    assert event is not None
    assert event.id == "e1_20260324T090000Z"
    assert event.ical_uid == "e1@google.com"
    assert event.start == datetime(2026, 3, 24, 9, tzinfo=UTC)
    assert event.body == ""
    assert event.body_html.startswith("Join <a href")
    assert (event.organizer_name, event.organizer_email) == ("Ann", "ann@example.com")
    assert event.private is True
    assert event.room_response == "tentative"
    assert event.recurring_id == "e1"
    assert event.updated == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert event.conference is not None
    assert event.conference.solution == "hangoutsMeet"
    assert [p.type for p in event.conference.entry_points] == ["video", "phone", "sip"]
    assert event.conference.entry_points[1].pin == "123456789"
    assert event.conference.entry_points[2].passcode == "42"


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"description": "plain text"}, lambda e: e.body == "plain text" and not e.body_html),
        (
            {"start": {"date": "2026-03-24"}, "end": {"date": "2026-03-25"}},
            lambda e: e.all_day and e.end - e.start == timedelta(days=1),
        ),
        (
            {"start": {"dateTime": "2026-03-24T10:00:00", "timeZone": "Europe/Oslo"}},
            lambda e: e.start == datetime(2026, 3, 24, 10, tzinfo=OSLO),
        ),
        ({"visibility": "default"}, lambda e: not e.private),
        ({"attendees": []}, lambda e: e.room_response == "accepted"),
        (
            {"conferenceData": None, "hangoutLink": "https://meet.google.com/xyz-abcd-efg"},
            lambda e: e.conference is not None and e.conference.id == "xyz-abcd-efg",
        ),
        ({"end": {"dateTime": "2026-03-24T08:00:00+01:00"}}, lambda e: e.end == e.start),
    ],
)
def test_google_variants(changes: dict[str, Any], check: Any) -> None:
    event = google_event_to_event({**GOOGLE, **changes}, room=ROOM, default_tz=UTC)
    assert event is not None
    assert check(event)


def test_google_cancelled_exception_with_few_fields() -> None:
    item = {
        "id": "e1_20260326T080000Z",
        "status": "cancelled",
        "recurringEventId": "e1",
        "originalStartTime": {"dateTime": "2026-03-26T09:00:00+01:00"},
    }
    event = google_event_to_event(item, room=ROOM, default_tz=UTC)
    assert event is not None
    assert event.status == "cancelled"
    assert event.start == datetime(2026, 3, 26, 8, tzinfo=UTC)
    assert (
        google_event_to_event({"id": "gone", "status": "cancelled"}, room=ROOM, default_tz=UTC)
        is None
    )


GRAPH = {
    "id": "AAMkAD1",
    "iCalUId": "040000008200E00074C5B7101A82E008",
    "subject": "Weekly",
    "body": {"contentType": "html", "content": "<html><body>Join</body></html>"},
    "start": {"dateTime": "2026-03-24T09:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2026-03-24T10:00:00.0000000", "timeZone": "UTC"},
    "isAllDay": False,
    "isCancelled": False,
    "sensitivity": "private",
    "seriesMasterId": "AAMkADmaster",
    "type": "occurrence",
    "lastModifiedDateTime": "2026-03-01T12:00:00.1234567Z",
    "location": {"displayName": "Fjord"},
    "organizer": {"emailAddress": {"name": "Ann", "address": "Ann@Example.com"}},
    "responseStatus": {"response": "accepted"},
    "attendees": [
        {
            "type": "resource",
            "status": {"response": "declined"},
            "emailAddress": {"name": "Fjord", "address": ROOM},
        },
    ],
    "onlineMeetingProvider": "teamsForBusiness",
    "onlineMeeting": {
        "joinUrl": "https://teams.microsoft.com/l/meetup-join/x",
        "conferenceId": "123456",
        "tollNumber": "+47 21 00 00 00",
    },
}


def test_graph_full_resource() -> None:
    event = graph_event_to_event(GRAPH, room=ROOM, default_tz=UTC)
    assert event is not None
    assert event.start == datetime(2026, 3, 24, 9, tzinfo=UTC)
    assert event.body_html == "<html><body>Join</body></html>"
    assert event.private is True
    assert event.room_response == "declined"
    assert event.recurring_id == "AAMkADmaster"
    assert event.location == "Fjord"
    assert event.organizer_email == "ann@example.com"
    assert event.updated is not None
    assert event.conference is not None
    assert event.conference.solution == "teamsForBusiness"
    assert event.conference.entry_points[1].uri == "tel:+47 21 00 00 00"


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        (
            {"start": {"dateTime": "2026-03-24T10:00:00", "timeZone": "W. Europe Standard Time"}},
            lambda e: e.start.utcoffset() == timedelta(hours=1),
        ),
        (
            {
                "isAllDay": True,
                "start": {"dateTime": "2026-03-24T00:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-25T00:00:00", "timeZone": "UTC"},
            },
            lambda e: e.all_day and e.start == datetime(2026, 3, 24, tzinfo=UTC),
        ),
        ({"isCancelled": True}, lambda e: e.status == "cancelled"),
        (
            {"attendees": [], "responseStatus": {"response": "tentativelyAccepted"}},
            lambda e: e.room_response == "tentative",
        ),
        ({"body": {"contentType": "text", "content": "hi"}}, lambda e: e.body == "hi"),
        ({"onlineMeeting": None}, lambda e: e.conference is None),
    ],
)
def test_graph_variants(changes: dict[str, Any], check: Any) -> None:
    event = graph_event_to_event({**GRAPH, **changes}, room=ROOM, default_tz=UTC)
    assert event is not None
    assert check(event)


def test_graph_series_master_is_skipped() -> None:
    assert (
        graph_event_to_event({**GRAPH, "type": "seriesMaster"}, room=ROOM, default_tz=UTC) is None
    )


def test_fixed_offset_default_tz_for_all_day() -> None:
    tz = timezone(timedelta(hours=2))
    event = google_event_to_event(
        {**GOOGLE, "start": {"date": "2026-03-24"}, "end": {"date": "2026-03-25"}},
        room=ROOM,
        default_tz=tz,
    )
    assert event is not None
    assert event.start == datetime(2026, 3, 24, tzinfo=tz)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
keys = st.sampled_from(
    [
        "id",
        "status",
        "start",
        "end",
        "summary",
        "attendees",
        "organizer",
        "conferenceData",
        "originalStartTime",
        "visibility",
        "updated",
        "description",
        "hangoutLink",
        "isAllDay",
        "body",
        "onlineMeeting",
        "responseStatus",
        "type",
        "location",
        "lastModifiedDateTime",
        "isCancelled",
        "sensitivity",
        "dateTime",
        "date",
        "timeZone",
        "entryPoints",
    ]
)
hostile = st.dictionaries(keys, json_values, max_size=10) | json_values


def _valid_moment() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "dateTime": st.sampled_from(
                ["2026-03-24T10:00:00Z", "2026-03-24T10:00:00", "2026-13-01T00:00:00Z", "x"]
            ),
            "timeZone": st.sampled_from(
                ["UTC", "Europe/Oslo", "Nowhere/X", "W. Europe Standard Time"]
            ),
        }
    )


@settings(max_examples=300, deadline=None)
@given(item=hostile, start=_valid_moment())
def test_google_normaliser_never_leaks_other_errors(item: Any, start: dict[str, Any]) -> None:
    for candidate in (
        item,
        {**item, "id": "x", "start": start} if isinstance(item, dict) else item,
    ):
        try:
            event = google_event_to_event(candidate, room=ROOM, default_tz=UTC)
        except MalformedCalendarData:
            continue
        assert event is None or event.start.utcoffset() is not None


@settings(max_examples=300, deadline=None)
@given(item=hostile, start=_valid_moment())
def test_graph_normaliser_never_leaks_other_errors(item: Any, start: dict[str, Any]) -> None:
    for candidate in (
        item,
        {**item, "id": "x", "start": start, "end": start} if isinstance(item, dict) else item,
    ):
        try:
            event = graph_event_to_event(candidate, room=ROOM, default_tz=UTC)
        except MalformedCalendarData:
            continue
        assert event is None or event.start.utcoffset() is not None
