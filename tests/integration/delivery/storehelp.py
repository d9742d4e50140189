"""Store set-up for delivery tests: endpoints pointing at simulated codecs, meetings per room."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

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
