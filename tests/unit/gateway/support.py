"""Helpers the gateway tests share: a clock moved by hand, DTMF event payloads a room sends,
a TLS server context from PEM bytes, and look-ups into messages and recorded calls."""

from __future__ import annotations

import heapq
import itertools
import ssl
from collections.abc import Callable

from guestjoin.cdr import CallRecord, MemoryRecorder
from guestjoin.clock import TimerHandle
from guestjoin.reception.dtmf import EVENT_KEYS, DtmfError
from guestjoin.sip.headers import Via, parse_via
from guestjoin.sip.message import Message
from guestjoin.tlscert import load_pair


def _nothing() -> None:
    """A cancelled timer's callback."""


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # as asyncio's handles do: no reference to the owner left


class ManualClock:
    """A clock tests move by hand: ``advance(32)`` fires Timer B without waiting 32 s."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_767_225_600.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._heap: list[tuple[float, int, _ManualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """The current manual time."""
        return self._now

    def wall(self) -> float:
        """Epoch seconds moving with ``now``."""
        return self._now + self._wall_offset

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule on the manual heap."""
        timer = _ManualTimer(self._now + max(0.0, delay), callback)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, running every callback that falls due, in order."""
        end = self._now + seconds
        while self._heap and self._heap[0][0] <= end:
            when, _, timer = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback()
        self._now = end

    @property
    def pending(self) -> int:
        """Timers not yet fired or cancelled."""
        return sum(1 for _, _, t in self._heap if not t.cancelled)


def build_event(key: str, *, end: bool, duration: int, volume: int = 10) -> bytes:
    """A telephone-event payload for ``key`` (what a sender puts in its RTP packets)."""
    if key not in EVENT_KEYS or len(key) != 1:
        raise DtmfError(f"{key!r} is not a DTMF key")
    return bytes(
        [EVENT_KEYS.index(key), (0x80 if end else 0) | (volume & 0x3F)]
    ) + duration.to_bytes(2, "big")


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2+) from PEM bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load_pair(ctx, cert_pem, key_pem)
    return ctx


def vias(message: Message) -> list[Via]:
    """Every Via of ``message``, top first."""
    return [parse_via(v) for v in message.values("Via")]


def by_call_id(recorder: MemoryRecorder, call_id: str) -> CallRecord | None:
    """The latest record of a Call-ID."""
    return next((c for c in reversed(recorder.calls.values()) if c.call_id == call_id), None)
