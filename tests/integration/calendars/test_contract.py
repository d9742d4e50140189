"""One contract for all five sources: the same scenario gives the same normalised events.

Each peer gets the scenario in its own native form (Google Events resources, an Exchange
mailbox behind Graph and EWS, iCalendar objects in Radicale, an ``.ics`` file over HTTP), is
read through the real client library, and must produce the projections computed from the
scenario itself. Then: a no-change incremental read costs exactly one request, an update and
a deletion come through (as an incremental patch or a full re-read).
"""

from __future__ import annotations

from datetime import UTC, timedelta

from calendars.base import CalendarEvent, CalendarSource
from calendars.syncstate import SyncState
from tests.integration.calendars.peers import (
    DELETED_UID,
    ROOM,
    UPDATED_SUBJECT,
    UPDATED_UID,
    WINDOW_END,
    WINDOW_START,
    Peer,
    ScenarioEvent,
    _renamed,
    apply,
    dump,
    expected,
    project,
    scenario,
)


def read_all(source: CalendarSource, state: str | None) -> tuple[dict[str, CalendarEvent], str]:
    result = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=state)
    store: dict[str, CalendarEvent] = {}
    apply(store, result)
    assert result.sync_state is not None
    return store, result.sync_state


def projections(store: dict[str, CalendarEvent]) -> list[tuple[object, ...]]:
    return sorted((project(e) for e in store.values()), key=repr)


def test_full_read_matches_the_scenario(peer: Peer) -> None:
    events = scenario()
    peer.load(events)
    source = peer.source()
    try:
        result = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=None)
    finally:
        source.close()
    assert result.full is True
    got = sorted((project(e) for e in result.events), key=repr)
    assert got == expected(events), dump(list(result.events))
    for event in result.events:
        assert event.room == ROOM
        assert event.start.utcoffset() is not None
        assert event.end.utcoffset() is not None
        assert event.id
    assert len({e.id for e in result.events}) == len(result.events)
    assert result.requests >= 1


def test_dst_series_keeps_local_wall_time(peer: Peer) -> None:
    peer.load(scenario())
    source = peer.source()
    try:
        result = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=None)
    finally:
        source.close()
    dst = sorted(e.start.astimezone(UTC) for e in result.events if e.ical_uid == "dst-1@otj.test")
    # 10:00 in Oslo: UTC+1 on 28 March, UTC+2 from 29 March (EU summer time)
    assert [d.hour for d in dst] == [9, 8, 8]
    assert dst[1] - dst[0] == timedelta(hours=23)


def test_incremental_no_change_update_and_deletion(peer: Peer) -> None:
    events = scenario()
    peer.load(events)
    source = peer.source()
    try:
        store, state = read_all(source, None)

        unchanged = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=state)
        assert unchanged.full is False
        assert unchanged.events == ()
        assert unchanged.removed_ids == ()
        assert unchanged.requests == 1, f"{peer.name}: {unchanged.requests} requests"
        assert unchanged.sync_state is not None

        peer.update_subject(UPDATED_UID, UPDATED_SUBJECT)
        updated = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=unchanged.sync_state)
        apply(store, updated)
        events = [_renamed(e, UPDATED_UID, UPDATED_SUBJECT) for e in events]
        assert projections(store) == expected(events), dump(list(store.values()))
        if not updated.full:
            assert [e.ical_uid for e in updated.events] == [UPDATED_UID]

        peer.delete(DELETED_UID)
        assert updated.sync_state is not None
        deleted = source.sync(ROOM, start=WINDOW_START, end=WINDOW_END, state=updated.sync_state)
        apply(store, deleted)
        events = [e for e in events if e.uid != DELETED_UID]
        visible = [p for p in projections(store) if p[0] != "cancelled"]
        assert visible == [p for p in expected(events) if p[0] != "cancelled"]
        assert all(e.ical_uid != DELETED_UID or e.status == "cancelled" for e in store.values())
    finally:
        source.close()


def test_window_drift_forces_a_full_read(peer: Peer) -> None:
    """An event that enters the window as days pass is found: the drifted window is re-read."""
    early: list[ScenarioEvent] = scenario()
    peer.load(early)
    source = peer.source()
    try:
        first = source.sync(
            ROOM, start=WINDOW_START, end=WINDOW_START + timedelta(days=3), state=None
        )
        assert first.sync_state is not None
        state = SyncState.decode(first.sync_state, kind=peer.name)
        assert state.window_start == WINDOW_START
        later = source.sync(
            ROOM,
            start=WINDOW_START + timedelta(days=2),
            end=WINDOW_START + timedelta(days=5),
            state=first.sync_state,
        )
    finally:
        source.close()
    assert later.full is True
    assert "allday-1@otj.test" in {e.ical_uid for e in later.events}
