"""The worker's ``RulesProcessor``: which texts are prepared in a batch, and the same Meetings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calendars.base import CalendarEvent
from otj.model import MeetingRule, Profile
from otj.rules import RuleSet
from otj.rules.text import EventText
from otj.worker.plans import BATCH_MIN_BODY, RulesProcessor

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
RULES = [
    MeetingRule(name="Zoom", meeting_type="zoom", priority=20),
    MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin", priority=10),
]


def event(event_id: str, *, body: str = "", body_html: str = "") -> CalendarEvent:
    return CalendarEvent(
        id=event_id, room="r@example.com", start=NOW + timedelta(hours=1),
        end=NOW + timedelta(hours=2), subject="Review", body=body, body_html=body_html,
        organizer_name="Host", organizer_email="host@example.com",
    )  # fmt: skip


EVENTS = [
    event("html", body_html='<p>Join: <a href="https://meet.google.com/abc-defg-hij">Meet</a></p>'),
    event("long", body="Agenda\n" + "x" * BATCH_MIN_BODY + "\nhttps://zoom.us/j/123456789"),
    event("short", body="https://meet.google.com/xyz-abcd-efg"),
    event("empty"),
]


def test_only_html_and_long_bodies_are_prepared_in_the_batch() -> None:
    processor = RulesProcessor(RuleSet.compile(RULES))
    texts = processor.prepare(EVENTS)
    assert [isinstance(t, EventText) for t in texts] == [True, True, False, False]
    assert all(t is None or t.event is e for t, e in zip(texts, EVENTS, strict=True))
    assert processor.prepare([]) == []


def test_prepared_or_not_the_meetings_are_the_rule_sets() -> None:
    ruleset = RuleSet.compile(RULES)
    processor = RulesProcessor(ruleset)
    texts = processor.prepare(EVENTS)
    batched = [
        processor.process(e, Profile(name="p"), now=NOW, text=t)
        for e, t in zip(EVENTS, texts, strict=True)
    ]
    single = [ruleset.process(e, Profile(name="p"), now=NOW) for e in EVENTS]
    assert batched == single
    assert [m.alias for m in batched] == [
        "abc-defg-hij@google.pexip.me",
        "123456789@zoomcrc.com",
        "xyz-abcd-efg@google.pexip.me",
        None,
    ]
