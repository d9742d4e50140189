"""The console's pure cores: forms ↔ objects, invitation detection, the preview, the rooms page's
rows and "why no Join button"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from otj.console.forms import form_fields, form_values, object_from_form
from otj.console.preview import detect, event_from_upload, preview, with_edit
from otj.console.rooms import room_lines, why_no_join
from otj.delivery.engine.plan import DeliveryState
from otj.invitation import InvitationError
from otj.model import CallRoutingRule, MeetingRule, Profile, TraceStep
from otj.store.values import Alarm, RoomStatus
from tests.unit.delivery.meetings import meeting

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MEET = "Join with Google Meet: https://meet.google.com/qxr-bnwt-kzp"


def test_forms_follow_the_model_and_convert_back() -> None:
    kinds = {f.name: f.kind for f in form_fields("endpoints")}
    assert kinds["api_password"] == "secret"
    assert kinds["use_https"] == "optbool"
    assert kinds["api_port"] == "int"
    assert kinds["type"] == "choice"
    value, problems = object_from_form(
        "endpoints",
        {"name": " Lake ", "group": "Rooms", "room_resource_email": "lake@example.com",
         "type": "CISCO", "api_port": "8443", "use_https": "", "verify_cert": "false",
         "api_password": "", "description": "a\r\nb"},
    )  # fmt: skip
    assert not problems
    assert value["name"] == "Lake"
    assert value["api_port"] == 8443
    assert "use_https" not in value  # the profile's default
    assert value["verify_cert"] is False
    assert "api_password" not in value  # blank: none
    assert value["description"] == "a\nb"
    # a number that is not one goes on as text, for the validator's own message
    assert (
        object_from_form("profiles", {"name": "P", "start_buffer": "soon"})[0]["start_buffer"]
        == "soon"
    )


def test_rule_checkboxes_and_integration_settings() -> None:
    rule, _ = object_from_form("meeting_processing_rules", {"name": "R", "meeting_type": "zoom"})
    assert rule["enabled"] is False  # an unchecked box is not posted
    settings, problems = object_from_form(
        "integrations", {"name": "I", "type": "ics", "settings": "url_template: x/{room}.ics"}
    )
    assert settings == {"name": "I", "type": "ics", "url_template": "x/{room}.ics"}
    assert not problems
    _, problems = object_from_form("integrations", {"name": "I", "type": "ics", "settings": "- a"})
    assert problems == ["settings: expected YAML key: value lines"]
    shown = form_values("integrations", settings)
    assert shown["settings"] == "url_template: x/{room}.ics\n"


def test_invitations_are_recognised_by_their_first_bytes() -> None:
    assert detect(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") == "ics"
    assert detect(b"From: a@example.com\r\nSubject: x\r\n\r\nbody") == "eml"
    assert detect(b"<html><body><a href='x'>y</a>") == "html"
    assert detect(b"Join: https://meet.google.com/abc") == "text"
    with pytest.raises(InvitationError, match="not UTF-8"):
        event_from_upload(b"\xff\xfe", kind="text", subject="", now=NOW)
    with pytest.raises(InvitationError, match="no VEVENT"):
        event_from_upload(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", kind="auto", subject="", now=NOW)


def test_the_preview_shows_both_sides_and_the_dial_plan() -> None:
    saved = [MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin", priority=10)]
    routing = [CallRoutingRule(name="Meet", match_string=r"[a-z\-]{10,12}@google\.pexip\.me")]
    event = event_from_upload(MEET.encode(), kind="auto", subject="Sync", now=NOW)
    disabled = MeetingRule(
        name="Meet", meeting_type="googlemeetsipguestjoin", priority=10, enabled=False
    )
    result = preview(
        event, saved_rules=saved, edited=disabled, original="Meet",
        profile=Profile(name="P"), routing=routing, now=NOW,
    )  # fmt: skip
    assert result.saved.meeting.alias == "qxr-bnwt-kzp@google.pexip.me"
    assert result.saved.routed_by == "Meet"
    assert result.edited is not None
    assert result.edited.meeting.alias is None
    assert result.differs
    unrouted = preview(
        event, saved_rules=saved, edited=None, original="", profile=Profile(name="P"),
        routing=[], now=NOW,
    )  # fmt: skip
    assert unrouted.saved.route_note.startswith("no call routing rule matches it")
    renamed = MeetingRule(name="Meet 2", meeting_type="zoom")
    assert [r.name for r in with_edit(saved, renamed, original="Meet")] == ["Meet 2"]


def test_why_no_join_button() -> None:
    assert why_no_join(meeting()) == ""
    assert why_no_join(meeting(listed=False, unlisted_reason="private")) == (
        "not shown on the endpoint: private"
    )
    failed = TraceStep(rule="Custom", meeting_type="custom", outcome="error", detail="bad template")
    assert why_no_join(meeting(alias=None, trace=(failed,))) == (
        "a rule failed: Custom: bad template"
    )
    assert why_no_join(meeting(alias=None, trace=())) == (
        "no enabled meeting processing rule applies to this room's profile"
    )


def _status(room: str, endpoints: tuple[str, ...], **changes: object) -> RoomStatus:
    values: dict[str, object] = {
        "room": room, "endpoints": endpoints, "profile": "P", "integration": "I",
        "last_poll_at": NOW, "last_success_at": NOW, "next_poll_at": NOW + timedelta(minutes=1),
        "meetings": 1, "last_error": "", "last_error_kind": "", "last_error_at": None,
        "consecutive_failures": 0, "polls": 1, "last_requests": 1, "last_duration_ms": 5,
        "full_sync": False, "delivery_pending": False, "leased_by": None,
    }  # fmt: skip
    values.update(changes)
    return RoomStatus(**values)  # type: ignore[arg-type]


def test_room_lines_join_search_and_filter() -> None:
    statuses = [
        _status("fjord@example.com", ("Fjord",)),
        _status("lake@example.com", ("Lake",), consecutive_failures=2, delivery_pending=True),
        _status("hill@example.com", ("Hill",)),
    ]
    alarm = Alarm(id=1, kind="delivery", subject="Hill", severity="error", message="down",
                  raised_at=NOW, updated_at=NOW)  # fmt: skip
    deliveries = [DeliveryState(endpoint="Fjord", last_result="ok")]
    lines = room_lines(statuses, deliveries, [alarm])
    assert [(line.name, line.sync, line.problem) for line in lines] == [
        ("Fjord", "in sync", False),
        ("Lake", "failing (2×)", True),
        ("Hill", "in sync", True),
    ]
    assert lines[0].deliveries[0].last_result == "ok"
    assert [line.name for line in room_lines(statuses, [], [alarm], query="LAK")] == ["Lake"]
    assert [line.name for line in room_lines(statuses, [], [alarm], show="alarms")] == ["Hill"]
    assert [line.name for line in room_lines(statuses, [], [], show="pending")] == ["Lake"]


def test_the_rooms_page_shows_each_endpoints_delivery_state() -> None:
    from otj.api.console_web import render

    deliveries = [
        DeliveryState(endpoint="Fjord", last_result="pushed", pushed_at=NOW),
        DeliveryState(endpoint="Lake", failures=3, last_error="unauthorised"),
        DeliveryState(endpoint="Hill", last_read_at=NOW),
    ]
    statuses = [_status("all@example.com", ("Fjord", "Lake", "Hill", "Dune"))]
    lines = room_lines(statuses, deliveries, [])
    page = render("rooms.html", None, lines=lines, q="", show="all", filters=("all",))
    body = bytes(page.body).decode()
    assert "Fjord: pushed 2026-03-02 09:00 UTC" in body
    assert 'Lake: <span class="error">failing: unauthorised</span>' in body
    assert "Hill: read 2026-03-02 09:00 UTC" in body
    assert "Dune: not delivered yet" in body
