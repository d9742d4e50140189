"""The opaque sync state every adapter hands to the worker, and the window-drift rule.

A state records the server's change token and the window ``[start, end)`` of the last full read.
Change tokens (Google ``syncToken``, Graph ``deltaLink``, EWS ``SyncState``, CalDAV sync-token or
ctag, ICS ETag/hash) only report *changed* events, so an unchanged event that enters the window
as days pass would never be seen. ``needs_full_read`` therefore forces a full read of the window
once the requested window has moved more than ``full_resync_after`` (default one day) from the
window of the last full read. The rule compares windows only, so it needs no clock.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from calendars.base import CalendarEvent, SyncStateExpired

DEFAULT_FULL_RESYNC_AFTER = timedelta(days=1)
_PREFIX = "otj1."


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncState:
    """What an adapter needs to continue: its kind, the server token and the full-read window."""

    kind: str
    token: str
    window_start: datetime
    window_end: datetime
    extra: Mapping[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        """Serialise to the opaque string the worker stores."""
        payload = {
            "k": self.kind,
            "t": self.token,
            "s": self.window_start.isoformat(),
            "e": self.window_end.isoformat(),
            "x": dict(self.extra),
        }
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return _PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str, *, kind: str) -> SyncState:
        """Parse a stored state of this ``kind``; anything else raises ``SyncStateExpired``."""
        if not text.startswith(_PREFIX):
            raise SyncStateExpired(f"unrecognised sync state for {kind}")
        body = text[len(_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            data = json.loads(raw)
            state = cls(
                kind=str(data["k"]),
                token=str(data["t"]),
                window_start=datetime.fromisoformat(data["s"]),
                window_end=datetime.fromisoformat(data["e"]),
                extra={str(k): str(v) for k, v in dict(data.get("x", {})).items()},
            )
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise SyncStateExpired(f"unreadable sync state for {kind}") from exc
        if state.kind != kind:
            raise SyncStateExpired(f"sync state belongs to {state.kind}, not {kind}")
        if state.window_start.utcoffset() is None or state.window_end.utcoffset() is None:
            raise SyncStateExpired(f"sync state window without timezone for {kind}")
        return state


def needs_full_read(
    state: SyncState,
    *,
    start: datetime,
    end: datetime,
    full_resync_after: timedelta = DEFAULT_FULL_RESYNC_AFTER,
) -> bool:
    """True when the requested window drifted beyond ``full_resync_after`` from the stored one."""
    return (
        abs(start - state.window_start) > full_resync_after
        or abs(end - state.window_end) > full_resync_after
    )


def overlaps(event: CalendarEvent, start: datetime, end: datetime) -> bool:
    """Whether the event overlaps ``[start, end)`` (zero-length events at ``start`` count)."""
    return event.start < end and (event.end > start or event.start >= start)


def split_incremental(
    changed: Iterable[CalendarEvent], *, start: datetime, end: datetime
) -> tuple[tuple[CalendarEvent, ...], tuple[str, ...]]:
    """Changed events inside the window, and ids of changed events that left it (removed)."""
    kept: list[CalendarEvent] = []
    gone: list[str] = []
    for event in changed:
        if overlaps(event, start, end):
            kept.append(event)
        else:
            gone.append(event.id)
    return tuple(kept), tuple(gone)
