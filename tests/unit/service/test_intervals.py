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


def _lease(room: str, *, state: str, owner: str | None, lease_in: float, channel_in: float):  # type: ignore[no-untyped-def]
    from otj.store.push import PushLease

    return PushLease(
        room=room,
        kind="graph",
        owner=owner,
        lease_expires_at=NOW + timedelta(seconds=lease_in),
        state=state,
        channel_id="c",
        resource_id="",
        channel_expires_at=NOW + timedelta(seconds=channel_in),
        token_sha256="",
        reason="",
    )


def test_a_push_lease_counts_only_while_held_live_healthy_and_unexpired() -> None:
    leases = {
        "a@x": _lease("a@x", state="healthy", owner="w1", lease_in=60, channel_in=3600),
        "b@x": _lease("b@x", state="failed", owner="w1", lease_in=60, channel_in=3600),
        "c@x": _lease("c@x", state="healthy", owner="w1", lease_in=60, channel_in=-1),
        "d@x": _lease("d@x", state="healthy", owner="w1", lease_in=-1, channel_in=3600),
        "e@x": _lease("e@x", state="healthy", owner=None, lease_in=60, channel_in=3600),
    }
    assert push_healthy(leases, "a@x", NOW)
    for room in ("b@x", "c@x", "d@x", "e@x", "z@x"):
        assert not push_healthy(leases, room, NOW), room
