"""The poll interval in force: profile, quota floor, push safety net."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from otj.worker.intervals import push_healthy
from otj.worker.quota import interval_in_force, quota_floor

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_the_quota_floor_keeps_polling_below_the_80_percent_alarm() -> None:
    # the estate: 2,000 rooms on Google's default 900,000 requests a day
    floor = quota_floor(900_000, 2_000)
    assert floor == 240
    assert 2_000 * 86_400 / floor <= 0.8 * 900_000
    assert quota_floor(1_000_000, 0) == 0
    assert quota_floor(0, 10) == 0


def test_interval_in_force_and_why() -> None:
    profile = interval_in_force(
        poll_interval=60, floor=2.0, integration="Workspace", rooms=20, daily_quota=1_000_000
    )
    assert (profile.seconds, profile.reason) == (60, "profile poll_interval 60 s")
    quota = interval_in_force(
        poll_interval=20, floor=240, integration="Workspace", rooms=2000, daily_quota=900_000
    )
    assert quota.seconds == 240
    assert quota.reason == (
        "quota: 900,000 requests/day of Workspace for 2000 room(s) allow one poll per 240 s "
        "(poll_interval 20 s)"
    )
    push = interval_in_force(
        poll_interval=20,
        floor=240,
        integration="Workspace",
        rooms=2000,
        daily_quota=900_000,
        safety=900,
    )
    assert (push.seconds, push.reason) == (
        900,
        "push notifications healthy: notification_safety_poll 900 s",
    )
    slower = interval_in_force(
        poll_interval=1800, floor=0, integration="x", rooms=1, daily_quota=1, safety=900
    )
    assert slower.seconds == 1800


def test_published_push_state_counts_only_while_unexpired() -> None:
    later = (NOW + timedelta(hours=1)).isoformat()
    published = {
        "a@x": {"state": "healthy", "expires_at": later},
        "b@x": {"state": "failed", "expires_at": None},
        "c@x": {"state": "healthy", "expires_at": (NOW - timedelta(seconds=1)).isoformat()},
        "d@x": {"state": "healthy", "expires_at": "garbage"},
    }
    assert push_healthy(published, "a@x", NOW)
    assert not push_healthy(published, "b@x", NOW)
    assert not push_healthy(published, "c@x", NOW)
    assert not push_healthy(published, "d@x", NOW)
    assert not push_healthy(None, "a@x", NOW)
