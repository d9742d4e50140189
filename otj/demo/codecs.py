"""Simulated Cisco codecs for ``otj serve``'s demo, so a new user can watch bookings arrive.

``start(rooms)`` runs one simulated codec per room on 127.0.0.1 in a background thread and
returns ``[(room, url), …]``; configure each room's endpoint with that URL and the credentials
:data:`USERNAME` / the password given to ``start``. ``attach(db)`` does both for the bundled demo
rooms (a CISCO endpoint "<room> codec" next to each demo PULL endpoint). Opening a codec's URL in
a browser shows the bookings it holds. ``stop()`` ends
them.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from otj.demo import demo_rooms
from otj.demo.codec.bookings import PUT_SOFTWARE
from otj.demo.codec.farm import ThreadedCodecFarm
from otj.model import Endpoint
from otj.secret import Secret
from otj.store.values import Configuration

if TYPE_CHECKING:
    from otj.store import Database

USERNAME = "admin"
DEMO_GROUP = "Demo rooms"
_lock = threading.Lock()
_farm: ThreadedCodecFarm | None = None


def start(
    rooms: Sequence[str], *, password: str, software_version: str = PUT_SOFTWARE
) -> list[tuple[str, str]]:
    """Start one simulated codec per room; returns ``(room, base URL)`` pairs."""
    global _farm  # noqa: PLW0603 (one demo farm per process)
    with _lock:
        if _farm is None:
            _farm = ThreadedCodecFarm()
        farm = _farm
    result = []
    for room in rooms:
        name = room.split("@", 1)[0]
        codec = farm.add(
            name, username=USERNAME, password=password, software_version=software_version
        )
        codec.public_overview = True  # people watching the demo open it in a browser
        result.append((room, codec.url))
    return result


def endpoint_for(room: str, url: str, *, name: str, group: str, password: str) -> Endpoint:
    """An endpoint configuration pointing at a demo codec."""
    parts = urlsplit(url)
    return Endpoint(
        name=name,
        group=group,
        room_resource_email=room,
        type="CISCO",
        api_address=parts.hostname or "127.0.0.1",
        api_port=parts.port or 80,
        use_https=False,
        verify_cert=False,
        api_username=USERNAME,
        api_password=Secret(password),
        description=f"Demo codec for {room}",
    )


def stop() -> None:
    """Stop every demo codec."""
    global _farm
    with _lock:
        farm, _farm = _farm, None
    if farm is not None:
        farm.close()


def attach(db: Database, *, group: str = DEMO_GROUP) -> list[tuple[str, str, str]]:
    """Start a codec for every demo room and point a CISCO endpoint of ``group`` at it.

    Returns ``(room, url, password)`` per room. The endpoints are marked for a sync, so the
    next delivery cycle pushes each room's list to its fresh (empty) codec.
    """
    now = datetime.now(UTC)
    rooms = demo_rooms(now)
    password = secrets.token_urlsafe(12)
    started = start([room.email for room in rooms], password=password)
    endpoints = tuple(
        endpoint_for(email, url, name=f"{room.name} codec", group=group, password=password)
        for room, (email, url) in zip(rooms, started, strict=True)
    )
    db.config.apply(Configuration(sections=frozenset({"endpoints"}), endpoints=endpoints))
    for endpoint in endpoints:
        db.delivery.update(endpoint.name, now=now, sync_required=True)
        db.rooms.mark_pending(endpoint.room_resource_email)
    return [(email, url, password) for email, url in started]
