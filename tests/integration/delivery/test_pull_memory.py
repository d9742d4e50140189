"""The pull API answers a warm request from memory (no SQL at all) and makes its
once-a-second checks ahead, in the background, before they are due."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from otj.api.pull.documents import Rendered, RoomDocuments, RoomFeeds
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.sqlcount import Statements
from tests.integration.delivery.storehelp import codec_endpoint, configure, store_meetings
from tests.unit.delivery.meetings import meeting

FJORD = "fjord@rooms.example.com"
BERG = "berg@rooms.example.com"


async def settled(feeds: RoomFeeds) -> None:
    """Wait for the background check under way (the first request starts one)."""
    if feeds.ahead is not None:
        await feeds.ahead
    assert feeds.ahead is None


@pytest.fixture
def token(db: Database, clock: FakeClock) -> str:
    configure(db, [codec_endpoint("fjord", FJORD, port=1), codec_endpoint("berg", BERG, port=2)])
    store_meetings(
        db, FJORD, [meeting(room=FJORD, start=clock.now() + timedelta(hours=1))], now=clock.now()
    )
    return db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="fjord")[0]


async def test_a_warm_request_reads_nothing(db: Database, clock: FakeClock, token: str) -> None:
    feeds = RoomFeeds(db, clock=clock.now)
    first = await feeds.serve("json", FJORD, token, now=clock.now())
    await settled(feeds)
    assert isinstance(first, Rendered)
    statements = Statements(db)
    assert await feeds.serve("json", FJORD, token, now=clock.now()) is first
    forbidden = await feeds.serve("json", BERG, token, now=clock.now())
    assert not isinstance(forbidden, Rendered)
    assert forbidden.status_code == 403
    assert statements.seen == []
    assert feeds.ahead is None


async def test_checks_are_made_ahead_of_time(db: Database, clock: FakeClock, token: str) -> None:
    feeds = RoomFeeds(db, clock=clock.now)
    first = await feeds.serve("json", FJORD, token, now=clock.now())
    await settled(feeds)
    half = RoomDocuments.RECHECK - RoomFeeds.LEAD
    clock.advance(half.total_seconds())
    statements = Statements(db)
    # due within LEAD: answered from memory, one background read of what is due soon
    assert await feeds.serve("json", FJORD, token, now=clock.now()) is first
    ahead = feeds.ahead
    assert ahead is not None
    assert await feeds.serve("json", FJORD, token, now=clock.now()) is first
    assert feeds.ahead is ahead  # one at a time
    await ahead
    assert feeds.ahead is None
    assert any("FROM settings" in s for s in statements.seen)  # token and config revisions
    assert any("meetings_hash" in s for s in statements.seen)  # listing hashes
    read = statements.count
    # past the first checks' RECHECK, within the ahead checks': still from memory
    clock.advance(half.total_seconds() + 0.1)
    assert await feeds.serve("json", FJORD, token, now=clock.now()) is first
    assert statements.count == read
    assert statements.token_lookups == 0


async def test_a_change_is_served_after_the_recheck(
    db: Database, clock: FakeClock, token: str
) -> None:
    feeds = RoomFeeds(db, clock=clock.now)
    first = await feeds.serve("json", FJORD, token, now=clock.now())
    await settled(feeds)
    assert isinstance(first, Rendered)
    store_meetings(
        db,
        FJORD,
        [meeting(room=FJORD, subject="Moved", start=clock.now() + timedelta(hours=2))],
        now=clock.now(),
    )
    clock.advance(RoomDocuments.RECHECK.total_seconds())
    changed = await feeds.serve("json", FJORD, token, now=clock.now())
    assert isinstance(changed, Rendered)
    assert b"Moved" in changed.body
    assert changed.etag != first.etag
    if feeds.ahead is not None:
        await feeds.ahead


def test_listing_markers_match_the_single_room_read(
    db: Database, clock: FakeClock, token: str
) -> None:
    markers = db.rooms.listing_markers()
    assert markers[FJORD] == db.rooms.listing_marker(FJORD)
    assert markers[FJORD]
    assert set(markers) == {FJORD, BERG}


async def test_a_failed_check_ahead_is_logged_once_a_minute(
    db: Database,
    clock: FakeClock,
    token: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds = RoomFeeds(db, clock=clock.now)
    first = await feeds.serve("json", FJORD, token, now=clock.now())
    await settled(feeds)

    def unavailable() -> dict[str, str]:
        raise OSError("database unavailable")

    monkeypatch.setattr(db.rooms, "listing_markers", unavailable)
    warnings = []
    for step in (RoomDocuments.RECHECK - RoomFeeds.LEAD, timedelta(milliseconds=100)):
        clock.advance(step.total_seconds())  # still answered from memory; due soon
        with caplog.at_level(logging.DEBUG, logger="otj.api.pull"):
            assert await feeds.serve("json", FJORD, token, now=clock.now()) is first
            ahead = feeds.ahead
            assert ahead is not None
            with pytest.raises(OSError, match="unavailable"):
                await ahead
        warnings.append([r.levelno for r in caplog.records if "checking ahead" in r.message])
        caplog.clear()
    assert warnings == [[logging.WARNING], [logging.DEBUG]]
