"""Simulated Cisco codecs for ``otj serve``'s demo, so a new user can watch bookings arrive.

``start(rooms)`` runs one simulated codec per room on 127.0.0.1 in a background thread and
returns ``[(room, url), …]``; configure each room's endpoint with that URL and the credentials
:data:`USERNAME` / the password given to ``start``. Opening a codec's URL in a browser shows the
bookings it holds. ``stop()`` ends them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from otj.delivery.codec_simulator import PUT_SOFTWARE, ThreadedCodecFarm
from otj.model import Endpoint
from otj.secret import Secret

USERNAME = "admin"
_lock = threading.Lock()
_farm: ThreadedCodecFarm | None = None


def start(rooms: Sequence[str], *, password: str,
          software_version: str = PUT_SOFTWARE) -> list[tuple[str, str]]:
    """Start one simulated codec per room; returns ``(room, base URL)`` pairs."""
    global _farm  # noqa: PLW0603 (one demo farm per process)
    with _lock:
        if _farm is None:
            _farm = ThreadedCodecFarm()
        farm = _farm
    result = []
    for room in rooms:
        name = room.split("@", 1)[0]
        codec = farm.add(name, username=USERNAME, password=password,
                         software_version=software_version)
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
