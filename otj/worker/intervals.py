"""Each room's poll interval in force and why, from the store (for ``otj status rooms``).

The same rules as the worker's plans: the profile's ``poll_interval``, raised to the shortest
interval the integration's daily quota allows for its number of rooms, relaxed to
``notification_safety_poll`` while the room's push subscription (as the worker process holding
its lease records it in ``push_leases``) is healthy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from otj.worker.quota import PollInterval, interval_in_force, quota_floor

if TYPE_CHECKING:
    from otj.store import Database
    from otj.store.push import PushLease

DEFAULT_QUOTA = 1_000_000


def push_healthy(leases: Mapping[str, PushLease], room: str, now: datetime) -> bool:
    """True when a live lease holder records the room's subscription healthy now."""
    lease = leases.get(room)
    return lease is not None and lease.healthy(now)


def room_intervals(db: Database, *, now: datetime) -> dict[str, PollInterval]:
    """Every configured room's poll interval in force and why."""
    assignments = db.config.room_assignments(secrets="sealed")
    rooms = Counter(a.integration.name for a in assignments if a.integration is not None)
    leases = db.push.leases()
    out: dict[str, PollInterval] = {}
    for a in assignments:
        name = a.integration.name if a.integration is not None else ""
        quota = (a.integration.daily_request_quota if a.integration else None) or DEFAULT_QUOTA
        count = rooms[name] if name else 0
        safety = a.profile.notification_safety_poll
        out[a.room] = interval_in_force(
            poll_interval=float(a.profile.poll_interval),
            floor=quota_floor(quota, count),
            integration=name,
            rooms=count,
            daily_quota=quota,
            safety=float(safety) if push_healthy(leases, a.room, now) else None,
        )
    return out
