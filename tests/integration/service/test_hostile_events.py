"""One hostile calendar event never costs a room its other meetings (SQLite and PostgreSQL).

Events come from the Google fake through the real client and the real rules engine. Hostile
data: a NUL in a subject (PostgreSQL text refuses it), a lone UTF-16 surrogate (UTF-8 cannot
encode it), an organizer address and an event id longer than their columns, and an event whose
processing raises (a fault injected around the rules engine's ``process``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import pytest

from calendars.base import CalendarEvent
from otj.model import Meeting, MeetingRule, Profile
from otj.rules import RuleSet
from otj.store import Database
from otj.store.storable import storable_event_id
from otj.worker.cycle import run_cycle
from otj.worker.plans import MeetingProcessor, PlanBook, rules_processor
from otj.worker.poller import PollerSettings, RoomPoller
from otj.worker.setup import registry_source_factory
from tests.conftest import FakeClock
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.service.support import (
    apply,
    config_text,
    google_integration,
    meet_event,
    room_name,
)

BOMB = "\U0001f4a3"
LONG_ID = "b" * 1500


class Faulty:
    """The real rules processor, except that ``process`` raises for subjects with a bomb; it
    records the events it was given."""

    def __init__(self, inner: MeetingProcessor) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def process(self, event: CalendarEvent, profile: Profile, *, now: datetime) -> Meeting:
        self.seen.append(event.id)
        if BOMB in event.subject:
            raise RecursionError(f"simulated failure on {event.subject!r}")
        return self.inner.process(event, profile, now=now)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake(now=clock.now) as server:
        yield server


def poller_for(db: Database, clock: FakeClock, processors: list[Faulty]) -> RoomPoller:
    def factory(rules: Sequence[MeetingRule]) -> MeetingProcessor:
        processor = Faulty(rules_processor(rules))
        processors.append(processor)
        return processor

    plans = PlanBook(
        db, source_factory=registry_source_factory(timeout=5.0), processor_factory=factory
    )
    return RoomPoller(
        db, plans, settings=PollerSettings(owner="w1"), clock=clock, rng=random.Random(3)
    )


HTML = '<p>Join with Google Meet: <a href="https://meet.google.com/abc-defg-hij">here</a></p>'


def hostile_room(fake: GoogleCalendarFake, clock: FakeClock, room: str) -> None:
    at = clock.now() + timedelta(hours=2)
    fake.add_calendar(room)
    good = meet_event(at, event_id="good", subject="Design review")
    good["description"] = HTML
    fake.put_event(room, good)
    fake.put_event(room, meet_event(at, event_id="bomb", subject=f"Quarterly {BOMB}"))
    nul = meet_event(at, event_id="nul", subject="Null\x00byte")
    nul["description"] = HTML + "<p>\x00</p>"
    fake.put_event(room, nul)
    fake.put_event(room, meet_event(at, event_id="surrogate", subject="Half \ud800 a pair"))
    long_mail = meet_event(at, event_id="mail", subject="Long address")
    long_mail["organizer"] = {"email": "x" * 400 + "@example.com", "displayName": "X"}
    fake.put_event(room, long_mail)
    long_id = meet_event(at, event_id=LONG_ID, subject="Long id")
    long_id["description"] += "\nAgenda: " + "review the roadmap " * 120
    fake.put_event(room, long_id)


def test_every_event_of_a_room_survives_its_hostile_neighbours(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    hostile, calm = room_name(0), room_name(1)
    hostile_room(fake, clock, hostile)
    fake.add_calendar(calm)
    fake.put_event(calm, meet_event(clock.now() + timedelta(hours=3), event_id="calm"))
    apply(db, config_text(google_integration(fake), [hostile, calm]))
    processors: list[Faulty] = []
    poller = poller_for(db, clock, processors)

    report = run_cycle(poller, threads=2)
    assert report.ok, report.summary()
    meetings = {m.event_id: m for m in db.meetings.list(hostile)}
    assert set(meetings) == {"good", "bomb", "nul", "surrogate", "mail", storable_event_id(LONG_ID)}
    good = meetings["good"]
    assert (good.listed, good.alias) == (True, "abc-defg-hij@google.pexip.me")
    bomb = meetings["bomb"]
    assert not bomb.listed
    assert bomb.unlisted_reason.startswith("processing failed: RecursionError: simulated")
    assert [s.outcome for s in bomb.trace] == ["error"]
    assert meetings["nul"].subject == "Nullbyte"
    assert meetings["surrogate"].subject == "Half \ufffd a pair"
    assert len(meetings["mail"].organizer_email) == 320
    assert all(
        m.alias == "abc-defg-hij@google.pexip.me" for k, m in meetings.items() if k != "bomb"
    )
    assert len(storable_event_id(LONG_ID)) <= 1024
    assert [m.event_id for m in db.meetings.list(calm)] == ["calm"]

    # every event of both rooms went through the engine's public API
    assert len({e for p in processors for e in p.seen}) == 7

    # the next poll finds the same ids (stable mapping): nothing changed, nothing duplicated
    for pending in db.rooms.pending_delivery():
        db.rooms.mark_delivered(pending.room, pending.generation)
    fake.patch_event(hostile, LONG_ID, summary="Long id, moved")
    clock.advance(61)
    second = run_cycle(poller)
    assert second.ok, second.summary()
    assert second.results[hostile].changed
    assert db.meetings.get(hostile, storable_event_id(LONG_ID)).subject == (  # type: ignore[union-attr]
        "Long id, moved"
    )
    assert db.meetings.count(hostile) == 6

    # an incremental read that deletes the long-id event removes its stored meeting
    fake.delete_event(hostile, LONG_ID)
    clock.advance(61)
    third = run_cycle(poller)
    assert third.ok
    assert db.meetings.get(hostile, storable_event_id(LONG_ID)) is None
    assert db.meetings.count(hostile) == 5


def test_the_default_processor_is_the_rules_engine() -> None:
    processor = rules_processor([MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin")])
    assert isinstance(processor, RuleSet)
