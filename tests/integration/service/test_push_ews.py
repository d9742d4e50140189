"""EWS streaming notifications end to end: the EWS fake (Subscribe, chunked GetStreamingEvents
closing after its timeout, ErrorInvalidSubscription, Unsubscribe), real exchangelib, the worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from otj.worker.notifications import NotificationHub
from otj.worker.push import PushState
from otj.worker.service import WorkerService
from otj.worker.setup import make_poller
from otj.worker.subscriptions import ALARM, PushManager
from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar_http import self_signed_certificate
from tests.fakes.graph_store import FakeEvent
from tests.integration.service.push_support import ROOM, Running, eventually, running
from tests.integration.service.support import apply

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def fake() -> Iterator[EwsFake]:
    with EwsFake() as ews:
        ews.store.add_mailbox(ROOM)
        ews.streaming.heartbeat = 0.5  # ConnectionStatus OK while idle
        yield ews


def config(fake: EwsFake) -> str:
    doc = {
        "integrations": [
            {
                "name": "EWS",
                "type": "exchange",
                "service_endpoint": fake.service_endpoint,
                "username": "EXAMPLE\\svc-otj",
                "password": "ews-password",
                "auth": "basic",
                "version": "Exchange2016",
                "max_wait": 2,
            }
        ],
        "profiles": [
            {
                "name": "Rooms",
                "integration": "EWS",
                "poll_interval": 600,
                "notification_safety_poll": 1800,
            }
        ],
        "endpoint_groups": [{"name": "All", "profile": "Rooms"}],
        "endpoints": [
            {"name": "fjord", "group": "All", "room_resource_email": ROOM, "type": "PULL"}
        ],
        "meeting_processing_rules": [
            {"name": "Meet", "meeting_type": "googlemeetsipguestjoin", "priority": 10}
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def booking(subject: str) -> FakeEvent:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    return FakeEvent(subject=subject, start=start, end=start + timedelta(hours=1))


def subjects(run: Running) -> list[str]:
    return [m.subject for m in run.db.meetings.list(ROOM)]


def healthy(run: Running) -> None:
    eventually(
        lambda: (s := run.push.subscription(ROOM)) is not None and s.healthy(datetime.now(UTC))
    )


def change_arrives(run: Running, fake: EwsFake, item: str, subject: str) -> float:
    fake.store.update(ROOM, item, subject=subject)
    seconds = eventually(lambda: subjects(run) == [subject], timeout=10)
    assert seconds < 5, f"change took {seconds:.1f} s"
    return seconds


def test_a_change_reaches_the_store_through_the_stream(
    db: Any, fake: EwsFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, booking("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        eventually(lambda: subjects(run) == ["Planning"])
        jobs = {job["id"]: job for job in run.service.jobs()}
        assert jobs[f"room:{ROOM}"]["trigger"].interval == 1800  # polling relaxed
        eventually(lambda: fake.streaming.connections == 1)
        change_arrives(run, fake, item, "Planning (moved)")
        assert fake.streaming.subscriptions(ROOM) == 1
    assert fake.streaming.subscriptions(ROOM) == 0  # Unsubscribe when the worker stopped
    assert fake.operation_count("Unsubscribe", ROOM) == 1


def test_the_listener_reconnects_when_the_server_closes_the_stream(
    db: Any, fake: EwsFake, tls: tuple[Path, Path]
) -> None:
    fake.streaming.minute = 0.02  # 29-minute streams close after 0.58 s
    item = fake.add_event(ROOM, booking("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        eventually(lambda: fake.streaming.closed >= 3)
        eventually(lambda: fake.streaming.connections >= 4)
        change_arrives(run, fake, item, "Planning (moved)")
        assert fake.operation_count("Subscribe", ROOM) == 1  # same subscription throughout
        assert run.push.subscription(ROOM).state is PushState.HEALTHY  # type: ignore[union-attr]


def test_an_invalid_subscription_is_subscribed_again(
    db: Any, fake: EwsFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, booking("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        eventually(lambda: fake.streaming.connections == 1)
        assert fake.streaming.invalidate(ROOM) == 1
        eventually(lambda: fake.operation_count("Subscribe", ROOM) == 2)
        eventually(lambda: fake.streaming.subscriptions(ROOM) == 1)
        change_arrives(run, fake, item, "Planning (moved)")
        assert run.push.subscription(ROOM).state is PushState.HEALTHY  # type: ignore[union-attr]


def test_a_server_refusing_streaming_raises_the_alarm_and_keeps_polling(
    db: Any, fake: EwsFake, tls: tuple[Path, Path]
) -> None:
    fake.streaming.refuse("ErrorInvalidRequest", "Streaming is disabled on this server.")
    fake.add_event(ROOM, booking("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        eventually(lambda: subjects(run) == ["Planning"])
        eventually(lambda: any(a.subject == ROOM for a in db.alarms.active(kind=ALARM)))
        (alarm,) = db.alarms.active(kind=ALARM)
        assert "Streaming is disabled on this server." in alarm.message
        assert run.push.subscription(ROOM).state is PushState.FAILED  # type: ignore[union-attr]
        jobs = {job["id"]: job for job in run.service.jobs()}
        assert jobs[f"room:{ROOM}"]["trigger"].interval == 600  # the normal interval


def test_a_stream_that_cannot_be_resumed_raises_the_alarm_and_polling_resumes(
    db: Any, fake: EwsFake, tls: tuple[Path, Path]
) -> None:
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        eventually(lambda: fake.streaming.connections == 1)
        fake.streaming.refuse("ErrorExceededSubscriptionCount", "Too many subscriptions.")
        fake.streaming.invalidate(ROOM)  # the subscription expires; a new one is refused
        eventually(lambda: any(a.subject == ROOM for a in db.alarms.active(kind=ALARM)))
        (alarm,) = db.alarms.active(kind=ALARM)
        assert "Too many subscriptions." in alarm.message
        assert run.push.subscription(ROOM).state is PushState.FAILED  # type: ignore[union-attr]
        assert ROOM not in run.push.healthy()
        job = f"room:{ROOM}"
        eventually(lambda: {j["id"]: j for j in run.service.jobs()}[job]["trigger"].interval == 600)


def test_exchange_rooms_stream_without_a_public_url(db: Any, fake: EwsFake) -> None:
    item = fake.add_event(ROOM, booking("Planning"))
    apply(db, config(fake))
    poller = make_poller(db, owner="push-test", timeout=15)
    push = PushManager(db, poller.plans, NotificationHub(), public_url="", clock=poller.clock)
    service = WorkerService(poller, push=push, threads=2)
    service.start()
    try:
        eventually(lambda: ROOM in push.healthy())
        listed = lambda: [m.subject for m in db.meetings.list(ROOM)]  # noqa: E731
        eventually(lambda: listed() == ["Planning"])
        fake.store.update(ROOM, item, subject="Planning (moved)")
        assert eventually(lambda: listed() == ["Planning (moved)"]) < 5
    finally:
        service.stop()
