"""The DeliveryRunner with the real store (SQLite, and PostgreSQL in CI) and simulated codecs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from otj.delivery.engine.runner import ALARM_DELIVERY, DeliveryRunner
from otj.model import Meeting
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import CodecFarm
from tests.integration.delivery.storehelp import codec_endpoint, configure, deliver, store_meetings
from tests.unit.delivery.meetings import meeting


@pytest.fixture
async def farm() -> AsyncIterator[CodecFarm]:
    async with CodecFarm() as codec_farm:
        yield codec_farm


@pytest.fixture
def runner(db: Database) -> Iterator[DeliveryRunner]:
    delivery = DeliveryRunner(
        db, concurrency=4, deadline=3.0, feedback_base_url="http://127.0.0.1:9"
    )
    yield delivery
    delivery.close()


def room_meetings(room: str, clock: FakeClock, subject: str = "Weekly sync") -> list[Meeting]:
    start = clock.now() + timedelta(hours=1)
    return [
        meeting(room=room, event_id=f"{room}-1", subject=subject, start=start),
        meeting(room=room, event_id=f"{room}-2", alias=None, start=start + timedelta(hours=2)),
        meeting(room=room, event_id=f"{room}-3", listed=False, unlisted_reason="private"),
    ]


async def test_changed_rooms_are_pushed_once(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    codecs = await farm.add_many(["fjord", "berg", "idle"])
    configure(
        db, [codec_endpoint(c.name, f"{c.name}@rooms.example.com", port=c.port) for c in codecs]
    )
    for codec in codecs[:2]:
        store_meetings(
            db,
            f"{codec.name}@rooms.example.com",
            room_meetings(f"{codec.name}@rooms.example.com", clock),
            now=clock.now(),
        )

    report = await deliver(runner, now=clock.now())
    # the idle room's calendar was never read: pushing it would wipe what its codec shows
    assert report.pushed == 2
    assert report.failed == 0
    assert codecs[2].requests == []
    # once its calendar has been read (no meetings), it gets its empty list once
    store_meetings(db, "idle@rooms.example.com", [], now=clock.now())
    idle = await deliver(runner, now=clock.now())
    assert idle.pushed == 1
    assert set(report.rooms_delivered) == {"fjord@rooms.example.com", "berg@rooms.example.com"}
    fjord = codecs[0]
    assert [b.title for b in fjord.bookings] == ["Weekly sync", "Weekly sync"]
    assert fjord.bookings[1].number == ""
    assert fjord.feedback[1].url.startswith("http://127.0.0.1:9/api/v1/endpoints/fjord/feedback/")
    assert codecs[2].bookings == []
    state = db.delivery.get("fjord")
    assert state.pushed_digest
    assert state.failures == 0
    assert state.software_version

    # nothing changed: no endpoint is even looked at, no request reaches any codec
    requests = [len(c.requests) for c in codecs]
    clock.advance(60)
    quiet = await deliver(runner, now=clock.now())
    assert (quiet.considered, quiet.pushed) == (0, 0)
    assert [len(c.requests) for c in codecs] == requests

    # a change in one room reaches only that room's codec
    store_meetings(
        db,
        "berg@rooms.example.com",
        room_meetings("berg@rooms.example.com", clock, subject="Moved"),
        now=clock.now(),
    )
    clock.advance(60)
    again = await deliver(runner, now=clock.now())
    assert again.pushed == 1
    assert codecs[1].bookings[0].title == "Moved"
    assert codecs[0].put_count == 1


async def test_failure_raises_alarm_and_recovery_clears_it(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    codec = await farm.add("fjord")
    room = "fjord@rooms.example.com"
    configure(db, [codec_endpoint("fjord", room, port=codec.port, password="wrong")])
    store_meetings(db, room, room_meetings(room, clock), now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert report.failed == 1
    assert report.rooms_delivered == ()
    alarms = db.alarms.active(subject="fjord", kind=ALARM_DELIVERY)
    assert len(alarms) == 1
    assert "unauthorised" in alarms[0].message
    assert db.delivery.get("fjord").failures == 1

    # within the back-off the endpoint is left alone
    clock.advance(5)
    assert (await deliver(runner, now=clock.now())).considered == 0

    # the administrator fixes the password; after the back-off the list arrives
    configure(db, [codec_endpoint("fjord", room, port=codec.port)])
    clock.advance(60)
    fixed = await deliver(runner, now=clock.now())
    assert fixed.pushed == 1
    assert fixed.rooms_delivered == (room,)
    assert db.alarms.active(subject="fjord", kind=ALARM_DELIVERY) == []
    assert len(codec.bookings) == 2


async def test_sync_required_state_repushes_unchanged_list(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    codec = await farm.add("fjord")
    room = "fjord@rooms.example.com"
    configure(db, [codec_endpoint("fjord", room, port=codec.port)])
    store_meetings(db, room, room_meetings(room, clock), now=clock.now())
    await deliver(runner, now=clock.now())
    await codec.reboot()
    db.delivery.update("fjord", now=clock.now(), sync_required=True)
    clock.advance(30)
    report = await deliver(runner, now=clock.now())
    assert report.pushed == 1
    assert "SyncRequired" in report.endpoints[0].reason
    assert len(codec.bookings) == 2
    assert db.delivery.get("fjord").sync_required is False


async def test_pull_only_rooms_are_marked_delivered(
    db: Database, runner: DeliveryRunner, clock: FakeClock
) -> None:
    room = "panel@rooms.example.com"
    configure(db, [codec_endpoint("panel", room, port=0, endpoint_type="PULL")])
    store_meetings(db, room, room_meetings(room, clock), now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert report.considered == 0
    assert report.rooms_delivered == (room,)
    assert db.rooms.pending_delivery() == []


def test_runner_is_the_workers_deliverer(db: Database) -> None:
    from otj.worker.delivery import Deliverer, default_deliverer

    deliverer: Deliverer = default_deliverer(db)
    assert isinstance(deliverer, DeliveryRunner)
    deliverer.close()
