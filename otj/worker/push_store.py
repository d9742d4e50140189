"""The edges of ``PushManager`` towards the store: a room's subscription state in its lease row,
a previous holder's subscription closed on take-over, and the ``push_subscription`` alarm."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from calendars.push import Channel, PushSource
from otj.store import Database
from otj.store.push import PushLease
from otj.worker.push import Subscription

log = logging.getLogger(__name__)

ALARM = "push_subscription"


def publish(db: Database, sub: Subscription, *, owner: str, token: str | None) -> None:
    """Record ``sub`` in the room's lease row (``token``: a new subscription's secret, stored
    hashed; None keeps the stored hash)."""
    channel = sub.channel
    try:
        db.push.publish(
            sub.room,
            owner=owner,
            kind=sub.kind,
            state=str(sub.state),
            channel_id=channel.id if channel else "",
            resource_id=channel.resource_id if channel else "",
            channel_expires_at=channel.expires_at if channel else None,
            token=token if channel else "",
            reason=sub.reason,
        )
    except Exception:
        log.exception("%s: cannot store the push subscription state", sub.room)


def close_inherited(
    db: Database, source: PushSource, lease: PushLease, *, owner: str, now: datetime
) -> None:
    """A subscription of the room's previous holder (a process that died, or this one before a
    restart): close it at the service, forget it in the store."""
    room = lease.room
    log.info("%s: taking over from %s", room, lease.owner)
    try:
        source.unsubscribe(
            room,
            Channel(
                id=lease.channel_id,
                expires_at=lease.channel_expires_at or now,
                resource_id=lease.resource_id,
            ),
        )
    except Exception as exc:  # noqa: BLE001 (it expires on its own)
        log.info("%s: closing the previous subscription failed: %s", room, exc)
    db.push.publish(room, owner=owner, kind=source.push_kind, state="unsubscribed", token="")


def alarm_message(sub: Subscription, *, streaming: bool, public_url: str) -> str:
    """Why the room is polled at its normal interval, and when push is tried again."""
    what = (
        f"{sub.kind} streaming notifications"
        if streaming
        else f"push notifications to {public_url}/notifications/{sub.kind}"
    )
    retry = f"{sub.retry_at:%H:%M:%S} UTC" if sub.retry_at else "soon"
    return (
        f"{sub.room}: {what} could not be subscribed ({sub.reason}); "
        f"polling at the normal interval, next attempt at {retry}"
    )


def keep_alarms(
    db: Database,
    failing: list[Subscription],
    message: Callable[[Subscription], str],
    *,
    now: datetime,
) -> None:
    """Raise the alarm again for each failing room whose alarm was cleared."""
    if not failing:
        return
    try:
        active = {a.subject for a in db.alarms.active(kind=ALARM)}
    except Exception:
        log.exception("cannot read the %s alarms", ALARM)
        return
    for sub in failing:
        if sub.room not in active:
            raise_alarm(db, sub.room, message(sub), now=now)


def raise_alarm(db: Database, room: str, message: str, *, now: datetime) -> None:
    """Raise the room's ``push_subscription`` alarm (logged when the store refuses)."""
    try:
        db.alarms.raise_alarm(ALARM, room, message, now=now)
    except Exception:
        log.exception("%s: cannot raise alarm %s", room, ALARM)
