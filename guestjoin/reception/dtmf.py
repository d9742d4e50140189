"""PURE: DTMF keys from RFC 4733 telephone-event payloads and SIP INFO bodies.

RFC 4733 §2.3: an event payload is 4 bytes (event, E bit, volume, duration); one key press is
several packets with the same RTP timestamp, the last ones with E set. ``EventTracker`` turns a
stream of packets into one key per press (retransmitted end packets and reordering included).
SIP INFO carries keys as ``application/dtmf-relay`` (``Signal=5``/``Duration=160`` lines) or
``application/dtmf`` (the key alone).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: RFC 4733 §3.2 event codes 0-15.
EVENT_KEYS = "0123456789*#ABCD"


class DtmfError(ValueError):
    """A telephone-event payload or INFO body that names no key."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 event payload (§2.3)."""

    key: str
    end: bool
    volume: int
    duration: int


def parse_event(payload: bytes) -> TelephoneEvent:
    """Parse the first event of a telephone-event payload (redundant ones follow it)."""
    if len(payload) < 4:
        raise DtmfError(f"telephone-event payload of {len(payload)} bytes (needs 4)")
    event = payload[0]
    if event >= len(EVENT_KEYS):
        raise DtmfError(f"telephone-event {event} is not a DTMF key")
    return TelephoneEvent(
        key=EVENT_KEYS[event],
        end=bool(payload[1] & 0x80),
        volume=payload[1] & 0x3F,
        duration=int.from_bytes(payload[2:4], "big"),
    )


class EventTracker:
    """One key per press: the first packet of a new event timestamp reports the key."""

    def __init__(self, remember: int = 16) -> None:
        self._seen: deque[int] = deque(maxlen=remember)

    def feed(self, timestamp: int, payload: bytes) -> str | None:
        """The key pressed when this packet starts a new event, else None."""
        event = parse_event(payload)
        if timestamp in self._seen:
            return None
        self._seen.append(timestamp)
        return event.key


def parse_info(content_type: str, body: bytes) -> str:
    """The key of a SIP INFO body (``application/dtmf-relay`` or ``application/dtmf``)."""
    kind = content_type.partition(";")[0].strip().lower()
    text = body.decode("ascii", "replace").strip()
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                return _key(value.strip())
        raise DtmfError("application/dtmf-relay body without a Signal= line")
    if kind == "application/dtmf":
        return _key(text)
    raise DtmfError(f"INFO with {kind or 'no'} body carries no DTMF")


def _key(value: str) -> str:
    if value.isdigit() and 10 <= int(value) <= 15:
        return EVENT_KEYS[int(value)]  # Signal=10 is *, 11 is # (RFC 4733 codes)
    if len(value) == 1 and value.upper() in EVENT_KEYS:
        return value.upper()
    raise DtmfError(f"{value!r} is not a DTMF key")
