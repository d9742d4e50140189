"""The worker against the Google fake (real google-api-python-client) on SQLite and PostgreSQL.

Time is injected: the fake clock drives the worker's "now", back-off sleeps and lease expiry.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from otj.cli import main
from otj.store import Database
from otj.worker.cycle import run_cycle
from otj.worker.plans import PlanBook
from otj.worker.poller import PollerSettings, RoomPoller
from otj.worker.service import WorkerService
from otj.worker.setup import registry_source_factory
from tests.conftest import FakeClock
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.service.support import (
    apply,
    config_text,
    google_integration,
    meet_event,
    processor_factory,
    room_name,
)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake(now=clock.now) as server:
        yield server


def make_poller(
    db: Database, clock: FakeClock, owner: str = "w1", *, timeout: float = 5.0, ttl: float = 120.0
) -> RoomPoller:
    plans = PlanBook(
        db,
        source_factory=registry_source_factory(timeout=timeout),
        processor_factory=processor_factory,
    )
    return RoomPoller(
        db,
        plans,
        settings=PollerSettings(owner=owner, lease_ttl=timedelta(seconds=ttl)),
        clock=clock,
        rng=random.Random(7),
    )


def setup_rooms(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock, n: int = 3, **kw
) -> list[str]:
    rooms = [room_name(i) for i in range(n)]
    for i, room in enumerate(rooms):
        fake.add_calendar(room)
        fake.put_event(room, meet_event(clock.now() + timedelta(hours=2 + i), event_id=f"ev{i}"))
    apply(db, config_text(google_integration(fake, **kw), rooms))
    return rooms


def test_first_cycle_reads_everything_then_incremental_costs_one_request(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock)
    poller = make_poller(db, clock)
    first = run_cycle(poller, threads=2)
    assert first.ok, first.summary()
    assert {r.room for r in first.results.values() if r.full} == set(rooms)
    meeting = db.meetings.list(rooms[1])[0]
    assert meeting.alias == "abc-defg-hij@google.pexip.me"
    assert {p.room for p in db.rooms.pending_delivery()} == set(rooms)
    for pending in db.rooms.pending_delivery():
        db.rooms.mark_delivered(pending.room, pending.generation)

    clock.advance(30)
    assert run_cycle(poller).results == {}  # nothing due yet
    clock.advance(31)
    fake.reset_counters()
    second = run_cycle(poller)
    assert second.ok
    assert len(second.results) == 3
    assert all(not r.full and r.requests == 1 and not r.changed for r in second.results.values())
    assert sum(fake.requests_by_room.values()) == 3
    assert db.rooms.pending_delivery() == []

    fake.patch_event(rooms[0], "ev0", summary="Moved review")
    clock.advance(61)
    third = run_cycle(poller)
    assert third.results[rooms[0]].changed
    assert not third.results[rooms[1]].changed
    assert [p.room for p in db.rooms.pending_delivery()] == [rooms[0]]
    assert db.meetings.list(rooms[0])[0].subject == "Moved review"


def test_deleted_event_is_removed_and_expired_sync_state_reads_again_without_duplicates(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    (room,) = setup_rooms(db, fake, clock, n=1)
    fake.put_event(
        room, meet_event(clock.now() + timedelta(hours=5), code="xyz-abcd-efg", event_id="second")
    )
    poller = make_poller(db, clock)
    assert run_cycle(poller).ok
    assert db.meetings.count(room) == 2
    fake.delete_event(room, "second")
    clock.advance(61)
    assert run_cycle(poller).ok
    assert [m.event_id for m in db.meetings.list(room)] == ["ev0"]

    fake.expire_sync_tokens(room)
    fake.put_event(room, meet_event(clock.now() + timedelta(hours=6), event_id="third"))
    clock.advance(61)
    report = run_cycle(poller)
    assert report.ok
    assert report.results[room].full
    assert sorted(m.event_id for m in db.meetings.list(room)) == ["ev0", "third"]


def test_unavailable_backs_off_as_the_server_asks_then_succeeds(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=2)
    fake.fail(503, retry_after=7, room=rooms[0], times=1)
    poller = make_poller(db, clock)
    report = run_cycle(poller)
    assert report.ok, report.summary()
    assert 7.0 in clock.slept  # the retry waited exactly as long as Retry-After said
    assert db.meetings.count(rooms[0]) == 1


def test_retries_are_bounded_and_the_failure_is_recorded(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=2)
    fake.fail(503, room=rooms[0], times=None)
    poller = make_poller(db, clock)
    report = run_cycle(poller)
    assert not report.ok
    assert report.results[rooms[0]].outcome == "failed"
    assert report.results[rooms[1]].ok
    assert len(clock.slept) == 3  # three retries, exponential: 2, 4, 8 s (with jitter)
    assert all(a < b for a, b in zip(clock.slept, clock.slept[1:], strict=False))
    assert sum(clock.slept) < 60 * 0.8 * 3
    status = {s.room: s for s in db.rooms.status()}
    assert status[rooms[0]].consecutive_failures == 4
    assert status[rooms[0]].last_error_kind == "unavailable"
    assert status[rooms[1]].last_error == ""


def test_retry_after_longer_than_the_interval_is_honoured(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=1)
    fake.fail(429, retry_after=300, room=rooms[0], times=None)
    poller = make_poller(db, clock)
    assert not run_cycle(poller).ok
    assert clock.slept == []
    fake.clear_failures()
    clock.advance(120)
    assert run_cycle(poller).results == {}  # the server said 300 s
    clock.advance(181)
    assert run_cycle(poller).ok


def test_auth_failure_raises_an_alarm_that_clears_when_fixed(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=2)
    fake.fail(401, times=None)
    poller = make_poller(db, clock)
    report = run_cycle(poller)
    assert {r.kind for r in report.results.values()} == {"auth"}
    assert clock.slept == []  # no retries for refused credentials
    alarms = db.alarms.active(kind="calendar_auth")
    assert [a.subject for a in alarms] == ["Workspace"]
    fake.clear_failures()
    clock.advance(61)
    assert run_cycle(poller).ok
    assert db.alarms.active() == []
    assert len(rooms) == 2


def test_missing_calendar_alarm_names_the_room(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=2)
    apply(db, config_text(google_integration(fake), [*rooms, "ghost@resource.example.com"]))
    report = run_cycle(make_poller(db, clock))
    assert report.results["ghost@resource.example.com"].kind == "not_found"
    assert [a.subject for a in db.alarms.active(kind="calendar_not_found")] == [
        "ghost@resource.example.com"
    ]
    assert all(report.results[r].ok for r in rooms)


def test_quota_alarm_at_80_percent_and_deferral_when_exhausted(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=5, quota=5)
    poller = make_poller(db, clock)
    first = run_cycle(poller)
    assert first.ok
    assert [a.subject for a in db.alarms.active(kind="quota")] == ["Workspace"]
    clock.advance(61)
    # the rooms are not due (5 rooms on 5 requests a day: one poll per 30 h at most); forced,
    # the token bucket still refuses what the quota cannot pay
    second = run_cycle(poller, force=True)
    assert {r.outcome for r in second.results.values()} == {"deferred"}
    assert db.alarms.active(kind="quota_exhausted")
    assert len(rooms) == 5


def test_quota_aware_interval_never_polls_faster_than_the_quota_allows(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # 8 rooms on 7,200 requests a day, 80 % of it for polling: one poll per 120 s per room
    rooms = setup_rooms(db, fake, clock, n=8, quota=7_200)
    poller = make_poller(db, clock)
    plan = poller.plans.get(rooms[0])
    assert plan is not None
    assert plan.interval == 120
    assert "7,200 requests/day of Workspace for 8 room(s)" in plan.in_force.reason
    assert run_cycle(poller).ok
    clock.advance(61)  # the profile's poll_interval (60 s) passed, the quota's did not
    assert run_cycle(poller).results == {}
    clock.advance(60)
    assert len(run_cycle(poller).results) == 8
    assert main(["status", "rooms", "--json", "--database", db.url]) == 0
    listed = {r["room"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[rooms[0]]["poll_interval"] == 120
    assert listed[rooms[0]]["poll_interval_reason"].startswith("quota: 7,200 requests/day")
    assert main(["status", "rooms", "--database", db.url]) == 0
    assert "120 s" in capsys.readouterr().out


def test_token_bucket_spreads_a_burst(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    # 86 400 requests a day = 1 per second, a burst of at most 60
    rooms = setup_rooms(db, fake, clock, n=70, quota=86_400)
    poller = make_poller(db, clock)
    report = run_cycle(poller)
    outcomes = [r.outcome for r in report.results.values()]
    assert outcomes.count("ok") == 60
    assert outcomes.count("deferred") == 10
    clock.advance(10)
    assert sum(r.ok for r in run_cycle(poller).results.values()) == 10
    assert len(rooms) == 70


def test_changed_rules_force_a_full_read(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=1)
    poller = make_poller(db, clock)
    assert run_cycle(poller).ok
    clock.advance(61)
    assert not run_cycle(poller).results[rooms[0]].full
    apply(
        db,
        config_text(
            google_integration(fake),
            rooms,
            rules=[{"name": "Meet", "meeting_type": "googlemeetsipguestjoin", "priority": 20}],
        ),
    )
    clock.advance(61)
    assert run_cycle(poller).results[rooms[0]].full


def test_lease_of_a_dead_worker_expires(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=1)
    dead = make_poller(db, clock, owner="dead", ttl=120)
    assert db.rooms.claim(rooms[0], owner="dead", now=clock.now(), ttl=timedelta(seconds=120))
    alive = make_poller(db, clock, owner="alive", ttl=120)
    assert run_cycle(alive).results == {}
    clock.advance(119)
    assert run_cycle(alive).results == {}
    clock.advance(2)
    assert run_cycle(alive).ok
    assert db.meetings.count(rooms[0]) == 1
    assert dead.owner == "dead"


def test_scheduler_jobs_one_per_room_with_profile_interval(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=3)
    apply(db, config_text(google_integration(fake), rooms, poll_interval=90))
    service = WorkerService(make_poller(db, clock), rng=random.Random(1))
    service.poller.plans.refresh(force=True)
    service._reconcile_jobs()
    jobs = service.jobs()
    assert len(jobs) == 3
    assert {j["coalesce"] for j in jobs} == {True}
    assert {j["max_instances"] for j in jobs} == {1}
    assert {j["trigger"].interval for j in jobs} == {90.0}
    assert {j["trigger"].jitter for j in jobs} == {9.0}
    apply(db, config_text(google_integration(fake), rooms[:2], poll_interval=90), prune=True)
    service._reconcile()
    assert len(service.jobs()) == 2


def test_loop_mode_jobs_of_two_workers_poll_each_room_once_per_interval(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock
) -> None:
    rooms = setup_rooms(db, fake, clock, n=4)
    one = WorkerService(make_poller(db, clock, owner="w1"), rng=random.Random(1))
    two = WorkerService(make_poller(db, clock, owner="w2"), rng=random.Random(2))
    polls: list[tuple[float, str, str]] = []
    for service in (one, two):
        original = service.poller.poll_claimed

        def traced(claim, _orig=original, _owner=service.poller.owner):  # type: ignore[no-untyped-def]
            polls.append((clock.now().timestamp(), claim.room, _owner))
            return _orig(claim)

        service.poller.poll_claimed = traced  # type: ignore[method-assign]
    rng = random.Random(5)
    start = clock.now().timestamp()
    # each process's job for each room fires every ~60 s, at its own phase
    phases = {(s.poller.owner, r): rng.uniform(0, 60) for s in (one, two) for r in rooms}
    events = sorted(
        (phase + 60 * k + rng.uniform(-6, 6), owner, room)
        for (owner, room), phase in phases.items()
        for k in range(10)
    )
    for when, owner, room in events:
        clock.advance(max(0.0, start + when - clock.now().timestamp()))
        (one if owner == "w1" else two)._poll_job(room)
    for room in rooms:
        times = sorted(t for t, r, _ in polls if r == room)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) >= 9  # about one poll per interval ...
        assert min(gaps) >= 30  # ... and never twice within half an interval
    assert {o for _, _, o in polls} == {"w1", "w2"}
