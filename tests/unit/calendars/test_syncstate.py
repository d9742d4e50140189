"""The opaque sync state and the window-drift rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendars.base import CalendarEvent, SyncStateExpired
from calendars.syncstate import SyncState, needs_full_read, overlaps, split_incremental

T0 = datetime(2026, 3, 23, tzinfo=UTC)
STATE = SyncState(
    kind="google",
    token="tok/=+",
    window_start=T0,
    window_end=T0 + timedelta(7),
    extra={"mode": "sync-token"},
)


def test_round_trip() -> None:
    assert SyncState.decode(STATE.encode(), kind="google") == STATE


@pytest.mark.parametrize(
    "text", ["", "garbage", "otj1.", "otj1.!!!", "otj1.eyJ4IjoxfQ", "otj2." + STATE.encode()[5:]]
)
def test_unreadable_states_are_expired(text: str) -> None:
    with pytest.raises(SyncStateExpired):
        SyncState.decode(text, kind="google")


def test_state_of_another_kind_is_expired() -> None:
    with pytest.raises(SyncStateExpired, match="belongs to google"):
        SyncState.decode(STATE.encode(), kind="graph")


@given(st.text(max_size=200))
def test_any_text_decodes_or_expires(text: str) -> None:
    try:
        state = SyncState.decode(text, kind="google")
    except SyncStateExpired:
        return
    assert state.window_start.utcoffset() is not None


@pytest.mark.parametrize(
    ("shift_start", "shift_end", "full"),
    [
        (timedelta(0), timedelta(0), False),
        (timedelta(hours=23), timedelta(hours=23), False),
        (timedelta(days=1), timedelta(days=1), False),
        (timedelta(days=1, seconds=1), timedelta(days=1, seconds=1), True),
        (timedelta(0), timedelta(days=3), True),  # the window was widened
        (-timedelta(days=2), timedelta(0), True),
    ],
)
def test_drift_rule(shift_start: timedelta, shift_end: timedelta, full: bool) -> None:
    start = STATE.window_start + shift_start
    end = STATE.window_end + shift_end
    assert needs_full_read(STATE, start=start, end=end) is full


def test_drift_rule_is_configurable() -> None:
    start, end = T0 + timedelta(hours=2), STATE.window_end + timedelta(hours=2)
    assert needs_full_read(STATE, start=start, end=end, full_resync_after=timedelta(hours=1))
    assert not needs_full_read(STATE, start=start, end=end, full_resync_after=timedelta(hours=3))


def event(event_id: str, start: datetime, minutes: int) -> CalendarEvent:
    return CalendarEvent(
        id=event_id, room="r@x", start=start, end=start + timedelta(minutes=minutes)
    )


@pytest.mark.parametrize(
    ("start_offset", "minutes", "inside"),
    [
        (timedelta(hours=1), 30, True),
        (-timedelta(minutes=30), 60, True),  # started before, still running
        (-timedelta(hours=2), 60, False),  # ended before
        (timedelta(days=7), 30, False),  # starts at the end: outside [start, end)
        (timedelta(0), 0, True),  # zero-length at the start
    ],
)
def test_overlaps(start_offset: timedelta, minutes: int, inside: bool) -> None:
    assert overlaps(event("e", T0 + start_offset, minutes), T0, T0 + timedelta(days=7)) is inside


def test_split_incremental() -> None:
    kept, gone = split_incremental(
        [event("in", T0 + timedelta(hours=1), 30), event("out", T0 + timedelta(days=9), 30)],
        start=T0,
        end=T0 + timedelta(days=7),
    )
    assert [e.id for e in kept] == ["in"]
    assert gone == ("out",)
