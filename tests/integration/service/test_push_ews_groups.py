"""EWS streaming for many rooms: one ``GetStreamingEvents`` connection per group of up to
``GROUP_SIZE`` subscriptions (impersonating the group's anchor mailbox), not one per room."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import calendars.sources.exchange_stream
from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar_http import self_signed_certificate
from tests.integration.service.push_support import eventually, running
from tests.integration.service.test_push_ews import booking, config

pytestmark = pytest.mark.timeout(120)

ROOMS = [f"room{i}@example.com" for i in range(5)]


@pytest.fixture
def fake() -> Iterator[EwsFake]:
    with EwsFake() as ews:
        for room in ROOMS:
            ews.store.add_mailbox(room)
        ews.streaming.heartbeat = 0.5
        yield ews


def rooms_config(fake: EwsFake) -> str:
    doc = yaml.safe_load(config(fake))
    doc["endpoints"] = [
        {"name": r.split("@")[0], "group": "All", "room_resource_email": r, "type": "PULL"}
        for r in ROOMS
    ]
    return yaml.safe_dump(doc, sort_keys=False)


def subject(db: Any, room: str) -> list[str]:
    return [m.subject for m in db.meetings.list(room)]


def test_every_room_streams_on_one_connection(db: Any, fake: EwsFake, tmp_path: Path) -> None:
    items = {room: fake.add_event(room, booking("v0")) for room in ROOMS}
    with running(
        db, fake, self_signed_certificate(tmp_path), rooms=ROOMS, config=rooms_config(fake)
    ) as run:
        eventually(lambda: run.push.healthy() == frozenset(ROOMS), timeout=30)
        eventually(lambda: fake.streaming.open_streams == 1)
        for room in ROOMS:
            fake.store.update(room, items[room], subject=f"{room} moved")
        for room in ROOMS:
            assert eventually(lambda r=room: subject(db, r) == [f"{r} moved"], timeout=10) < 10
        assert fake.streaming.subscriptions() == len(ROOMS)
        assert fake.streaming.open_streams == 1
        assert fake.streaming.peak_streams == 1  # never one per room, even while subscribing
        # one room's subscription expires: only it is subscribed again, on the same group
        fake.streaming.invalidate(ROOMS[2])
        eventually(lambda: fake.operation_count("Subscribe", ROOMS[2]) == 2)
        assert all(fake.operation_count("Subscribe", r) == 1 for r in ROOMS if r != ROOMS[2])
        fake.store.update(ROOMS[2], items[ROOMS[2]], subject="again")
        assert eventually(lambda: subject(db, ROOMS[2]) == ["again"], timeout=10) < 10
        assert fake.streaming.open_streams == 1
    assert fake.streaming.subscriptions() == 0  # every room unsubscribed at stop


def test_groups_hold_at_most_group_size_subscriptions(
    db: Any, fake: EwsFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendars.sources.exchange_stream, "GROUP_SIZE", 2)
    items = {room: fake.add_event(room, booking("v0")) for room in ROOMS}
    with running(
        db, fake, self_signed_certificate(tmp_path), rooms=ROOMS, config=rooms_config(fake)
    ) as run:
        eventually(lambda: run.push.healthy() == frozenset(ROOMS), timeout=30)
        eventually(lambda: fake.streaming.open_streams == 3)  # 2 + 2 + 1
        fake.store.update(ROOMS[4], items[ROOMS[4]], subject="last")
        assert eventually(lambda: subject(db, ROOMS[4]) == ["last"], timeout=10) < 10
