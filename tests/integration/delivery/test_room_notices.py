"""The worker's room notices against the store and simulated codecs: each ending is told once
(several workers share the database), only recent ones, only to a room the gateway named."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from otj.delivery.engine.runner import DeliveryRunner
from otj.store import Database
from otj.worker.service import NOTICE_EVERY, RoomNotifier, WorkerService
from otj.worker.setup import make_poller
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import CodecFarm
from tests.integration.delivery.storehelp import codec_endpoint, configure


@pytest.fixture
async def farm() -> AsyncIterator[CodecFarm]:
    async with CodecFarm() as codec_farm:
        yield codec_farm


def _ended(db: Database, clock: FakeClock, endpoint: str, cause: str, ago: float) -> int:
    now = clock.now()
    record = db.calls.start(
        call_id=f"{endpoint}-{cause}-{ago}",
        direction="inbound",
        caller_uri="sip:room@rooms.example.com",
        invite_at=now - timedelta(seconds=ago + 31),
        endpoint_name=endpoint,
        dialled_alias="abc-defg-hij@google.pexip.me",
    )
    db.calls.update(record.id, answer_at=now - timedelta(seconds=ago + 30))
    db.calls.finish(record.id, end_at=now - timedelta(seconds=ago), cause=cause, final_code=200)
    return record.id


async def test_each_ending_is_told_once_by_one_of_several_workers(
    db: Database, farm: CodecFarm, clock: FakeClock
) -> None:
    fjord, bay = await farm.add_many(["fjord", "bay"])
    configure(
        db,
        [
            codec_endpoint("fjord", "fjord@rooms.example.com", port=fjord.port),
            codec_endpoint("bay", "bay@rooms.example.com", port=bay.port),
        ],
    )
    told = _ended(db, clock, "fjord", "not_admitted", ago=2)
    _ended(db, clock, "bay", "call_rejected", ago=1)
    _ended(db, clock, "bay", "completed", ago=1)  # a normal ending: nothing to say
    _ended(db, clock, "bay", "not_admitted", ago=600)  # long ago (a worker was down): stale
    _ended(db, clock, "", "not_admitted", ago=1)  # the gateway could not name the room
    first, second = DeliveryRunner(db, deadline=3.0), DeliveryRunner(db, deadline=3.0)
    try:
        counts = await asyncio.gather(
            asyncio.to_thread(first.notify_rooms, now=clock.now()),
            asyncio.to_thread(second.notify_rooms, now=clock.now()),
        )
        assert sum(counts) == 2  # between them: each ending once
        assert fjord.screen.prompt is not None
        assert fjord.screen.prompt.feedback_id == f"otj-lobby-{told}"
        assert bay.screen.alert is not None
        assert [len(c.screen.shown) for c in (fjord, bay)] == [1, 1]
        async with httpx.AsyncClient(auth=("admin", "secret"), trust_env=False) as http:
            overview = (await http.get(f"{fjord.url}/")).text  # what the demo's page shows
        assert "Messages shown (1)" in overview
        assert "Prompt: <b>Not admitted to the meeting</b>" in overview
        assert "[Try again | Close]" in overview
        clock.advance(NOTICE_EVERY)
        assert await asyncio.to_thread(first.notify_rooms, now=clock.now()) == 0
        # an unreachable codec: logged, never retried (the notice would come too late)
        await bay.stop()
        _ended(db, clock, "bay", "call_rejected", ago=0)
        assert await asyncio.to_thread(first.notify_rooms, now=clock.now()) == 0
        await bay.start()
        assert await asyncio.to_thread(first.notify_rooms, now=clock.now()) == 0
        assert len(bay.screen.shown) == 1
    finally:
        first.close()
        second.close()


def test_the_worker_looks_every_second_when_its_deliverer_can_tell_rooms(db: Database) -> None:
    runner = DeliveryRunner(db)
    assert isinstance(runner, RoomNotifier)
    service = WorkerService(make_poller(db), deliverer=runner)
    service.start()
    try:
        job = service.scheduler.get_job("room-notices")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=NOTICE_EVERY)
        assert job.executor == "notices"
    finally:
        service.stop()
