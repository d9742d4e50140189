"""Store set-up for delivery tests: endpoints pointing at simulated codecs, meetings per room,
delivery outcomes written as the runner writes them, and a delivery cycle from async tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from otj.delivery.engine.plan import DeliveryState, after_failure, after_push
from otj.delivery.engine.report import DeliveryReport
from otj.delivery.engine.runner import DeliveryRunner
from otj.model import Endpoint, EndpointGroup, Meeting, Profile
from otj.secret import Secret
from otj.store import Database
from otj.store.values import Configuration, PollCommit

PROFILE = Profile(name="Head office", start_buffer=5, end_buffer=0)


def codec_endpoint(
    name: str, room: str, *, port: int, password: str = "secret", endpoint_type: str = "CISCO"
) -> Endpoint:
    """A CISCO endpoint whose xAPI is a simulated codec on 127.0.0.1."""
    return Endpoint(
        name=name,
        group="Rooms",
        room_resource_email=room,
        type=endpoint_type,  # type: ignore[arg-type]
        api_address="127.0.0.1" if endpoint_type == "CISCO" else "",
        api_port=port,
        use_https=False,
        verify_cert=False,
        api_username="admin",
        api_password=Secret(password),
    )


def configure(db: Database, endpoints: Sequence[Endpoint], *, profile: Profile = PROFILE) -> None:
    """Apply profile, group and endpoints."""
    db.config.apply(
        Configuration(
            sections=frozenset({"profiles", "endpoint_groups", "endpoints"}),
            profiles=(profile,),
            endpoint_groups=(EndpointGroup(name="Rooms", profile=profile.name),),
            endpoints=tuple(endpoints),
        )
    )


def store_meetings(db: Database, room: str, meetings: Sequence[Meeting], *, now: datetime) -> bool:
    """Commit a full poll of ``room`` with these meetings; True when its listing changed."""
    claim = db.rooms.claim(
        room.lower(), owner="test", now=now, ttl=timedelta(minutes=5), force=True
    )
    assert claim is not None, f"room {room} is not configured"
    outcome = db.rooms.commit_poll(
        PollCommit(
            room=room.lower(),
            owner="test",
            now=now,
            full=True,
            meetings=list(meetings),
            sync_state=None,
            sync_fingerprint="",
            window_start=now - timedelta(days=1),
            window_end=now + timedelta(days=7),
            display_end=now + timedelta(days=7),
            next_poll_at=now + timedelta(minutes=1),
        )
    )
    return outcome.changed


def _save(db: Database, before: DeliveryState, after: DeliveryState, *, now: datetime) -> None:
    db.delivery.save_many({before.endpoint: (before, after)}, now=now)


def record_push(db: Database, endpoint: str, *, digest: str, now: datetime) -> DeliveryState:
    """Store a successful push to ``endpoint`` as a delivery cycle does (the plan's
    ``after_push`` of its stored state); returns the state read back."""
    before = db.delivery.get(endpoint)
    _save(db, before, after_push(before, digest=digest, count=1, now=now), now=now)
    return db.delivery.get(endpoint)


def record_failure(
    db: Database, endpoint: str, *, kind: str, message: str, now: datetime
) -> DeliveryState:
    """Store a failed attempt on ``endpoint`` as a delivery cycle does (the plan's
    ``after_failure`` of its stored state); returns the state read back."""
    before = db.delivery.get(endpoint)
    _save(db, before, after_failure(before, kind=kind, message=message, now=now), now=now)
    return db.delivery.get(endpoint)


async def deliver(runner: DeliveryRunner, *, now: datetime) -> DeliveryReport:
    """One delivery cycle from an async test (``deliver_pending`` in a worker thread, so the
    test's event loop keeps serving the simulated codecs meanwhile)."""
    return await asyncio.to_thread(runner.deliver_pending, now=now)
