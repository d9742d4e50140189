"""Reliability: killed workers, a dropped PostgreSQL backend, hanging calendars, two workers.

Worker processes are real ``otj worker --once`` subprocesses against a real database and the
Google fake (real google-api-python-client). Moments are awaited through hooks in the fake, not
by sleeping.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from otj.store import Database, SecretBox
from otj.worker.clock import SystemClock
from otj.worker.cycle import run_cycle
from otj.worker.plans import PlanBook
from otj.worker.poller import PollerSettings, PollResult, RoomPoller
from otj.worker.setup import registry_source_factory
from tests.conftest import FakeClock
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_calendar_http import Response
from tests.integration.service.support import (
    apply,
    config_text,
    google_integration,
    meet_event,
    processor_factory,
    room_name,
)

pytestmark = pytest.mark.slow


class HookedFake(GoogleCalendarFake):
    """The Google fake with a callback on every ``events.list`` request (before answering)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.on_events: Callable[[str], None] | None = None

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if "/events" in path and self.on_events is not None:
            self.on_events(path)
        return super().route(method, path, headers, body)


def open_db(url: str, key_file: Path, application_name: str = "otj-test") -> Database:
    db = Database(
        url, box=SecretBox(key_file=key_file, environ={}), application_name=application_name
    )
    db.upgrade()
    return db


def fill(fake: GoogleCalendarFake, n: int, *, events: int = 2) -> list[str]:
    rooms = [room_name(i) for i in range(n)]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for i, room in enumerate(rooms):
        for j in range(events):
            fake.put_event(
                room, meet_event(start + timedelta(hours=1 + j + i % 5), event_id=f"r{i}e{j}")
            )
    return rooms


def worker_env(url: str, key_file: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    env.update(OTJ_DATABASE_URL=url, OTJ_SECRET_KEY_FILE=str(key_file), OTJ_DATA_DIR=str(data))
    return env


def worker(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otj",
            "--log-level",
            "WARNING",
            "worker",
            "--once",
            "--no-delivery",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expected(fake: GoogleCalendarFake, room: str) -> set[str]:
    return {e["id"] for e in fake.events(room)}


def stored(db: Database, room: str) -> list[str]:
    return [m.event_id for m in db.meetings.list(room)]


@pytest.fixture
def fake() -> Iterator[HookedFake]:
    with HookedFake() as server:
        yield server


# --- kill -9 in the middle of a cycle ---------------------------------------------------------


def test_kill_9_mid_cycle_then_restart_loses_and_duplicates_nothing(
    database_url: str, tmp_path: Path, fake: HookedFake
) -> None:
    key = tmp_path / "secret.key"
    db = open_db(database_url, key)
    rooms = fill(fake, 40)
    apply(db, config_text(google_integration(fake), rooms))
    fake.delay(0.05, path_contains="/events")  # a cycle long enough to be interrupted
    fifteen = threading.Event()
    seen: list[str] = []

    def count(path: str) -> None:
        seen.append(path)
        if len(seen) == 15:
            fifteen.set()

    fake.on_events = count
    env = worker_env(database_url, key, tmp_path)
    first = worker(env, "--threads", "4", "--worker-id", "w1")
    assert fifteen.wait(60), first.communicate()
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert first.returncode == -signal.SIGKILL

    done = [r for r in rooms if db.rooms.sync_state(r) is not None]
    assert 0 < len(done) < len(rooms)
    for room in rooms:  # every room is all-or-nothing: meetings and sync state together
        if room in done:
            assert set(stored(db, room)) == expected(fake, room)
        else:
            assert stored(db, room) == []
    fake.reset_counters()
    fake.on_events = None

    second = worker(env, "--threads", "4", "--worker-id", "w1")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    for room in rooms:
        ids = stored(db, room)
        assert len(ids) == len(set(ids))
        assert set(ids) == expected(fake, room)
        assert db.rooms.sync_state(room) is not None
    assert not any(fake.requests_by_room[r] for r in done)  # finished rooms not polled again
    with db.engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM meetings")).scalar()
        assert total == 2 * len(rooms)
    db.close()


# --- PostgreSQL backend terminated during a cycle ---------------------------------------------


def test_terminated_postgres_backends_are_replaced_and_the_next_cycle_succeeds(
    pg_url: str, tmp_path: Path, fake: HookedFake
) -> None:
    name = f"otj-test-{uuid.uuid4().hex[:8]}"
    db = open_db(pg_url, tmp_path / "secret.key", application_name=name)
    rooms = fill(fake, 12)
    apply(db, config_text(google_integration(fake), rooms))
    clock = FakeClock(start=datetime.now(UTC))
    poller = RoomPoller(
        db,
        PlanBook(
            db,
            source_factory=registry_source_factory(timeout=5),
            processor_factory=processor_factory,
        ),
        settings=PollerSettings(owner="pg"),
        clock=clock,
        rng=random.Random(1),
    )
    admin = sa.create_engine(pg_url.split("?", maxsplit=1)[0], poolclass=sa.pool.NullPool)
    terminated: list[int] = []

    def terminate_once(_path: str) -> None:
        """Kill every backend of the worker's pool, at the first request that finds some.

        (Whether the pool holds a connection at the cycle's very first calendar request
        depends on thread timing; a later room's request always finds the busy ones.)
        """
        if terminated:
            return
        with admin.begin() as conn:
            pids = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": name},
            ).all()
        if pids:
            terminated.append(len(pids))

    assert run_cycle(poller, threads=1).ok  # a warm pool: connections to be killed
    for room in rooms:
        fake.put_event(room, meet_event(clock.now() + timedelta(hours=9), event_id="later"))
    fake.on_events = terminate_once
    clock.advance(61)
    run_cycle(poller, threads=4)  # some rooms may fail: their connection died under them
    assert terminated, "no backend of the worker was found to terminate"
    fake.on_events = None
    clock.advance(61)
    report = run_cycle(poller, threads=4)
    assert report.ok, report.summary()
    clock.advance(61)
    assert run_cycle(poller, threads=4).ok
    for room in rooms:
        assert set(stored(db, room)) == expected(fake, room)
    admin.dispose()
    db.close()


# --- a hanging or failing calendar does not delay the others ----------------------------------


def test_hanging_and_failing_rooms_do_not_delay_the_others(
    db: Database, fake: HookedFake, tmp_path: Path
) -> None:
    rooms = fill(fake, 24, events=1)
    hanging, failing = rooms[3], rooms[7]
    apply(db, config_text(google_integration(fake), rooms))
    timeout = 2.0
    poller = RoomPoller(
        db,
        PlanBook(
            db,
            source_factory=registry_source_factory(timeout=timeout),
            processor_factory=processor_factory,
        ),
        settings=PollerSettings(owner="t"),
        clock=_RealTimeFakeSleep(),
        rng=random.Random(2),
    )
    assert run_cycle(poller, threads=4, force=True).ok  # tokens fetched, connections warm
    fake.hang(60, room=hanging, times=None)
    fake.fail(500, room=failing, times=None)
    finished: dict[str, float] = {}
    original = poller.poll_claimed

    def timed(claim: Any) -> PollResult:
        result = original(claim)
        finished.setdefault(claim.room, time.monotonic())
        return result

    poller.poll_claimed = timed  # type: ignore[method-assign]
    began = time.monotonic()
    report = run_cycle(poller, threads=4, force=True)
    assert report.results[hanging].outcome == "failed"
    assert report.results[hanging].kind == "unavailable"
    assert report.results[failing].outcome == "failed"
    healthy = [r for r in rooms if r not in (hanging, failing)]
    assert all(report.results[r].ok for r in healthy)
    slowest = max(finished[r] for r in healthy) - began
    assert slowest < timeout, f"healthy rooms took {slowest:.2f} s"
    assert finished[hanging] - began >= timeout
    fake.stop()


class _RealTimeFakeSleep(SystemClock):
    """Real time (socket timeouts are real) but retries do not wait."""

    def sleep(self, seconds: float) -> None:
        return


# --- two workers on one PostgreSQL database ---------------------------------------------------


def test_two_workers_split_200_rooms_without_polling_any_twice(
    pg_url: str, tmp_path: Path, fake: HookedFake
) -> None:
    key = tmp_path / "secret.key"
    db = open_db(pg_url, key)
    rooms = fill(fake, 200, events=1)
    apply(db, config_text(google_integration(fake), rooms))
    fake.delay(0.03, path_contains="/events")
    env = worker_env(pg_url, key, tmp_path)
    workers = [worker(env, "--threads", "6", "--worker-id", f"w{i}") for i in (1, 2)]
    outputs = [w.communicate(timeout=180) for w in workers]
    for w, (out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, out + err
    polled = [int(out.split(" polled")[0].split()[-1]) for out, _ in outputs]
    assert sum(polled) == 200
    assert min(polled) > 20, polled  # really shared
    assert all(fake.requests_by_room[r] == 1 for r in rooms)  # no room read twice
    statuses = db.rooms.status()
    assert {s.polls for s in statuses} == {1}
    assert db.meetings.count() == 200
    db.close()
