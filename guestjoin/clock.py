"""Injectable clocks: every SIP timer (RFC 3261 §17) runs on one of these."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None:
        """Stop the callback from running (no-op when it already ran)."""


class Clock(Protocol):
    """Monotonic time plus scheduling, and wall-clock time for records."""

    def now(self) -> float:
        """Monotonic seconds."""

    def wall(self) -> float:
        """Seconds since the epoch (CDR times)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` after ``delay`` seconds."""


class LoopClock:
    """The running asyncio loop's clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()

    def now(self) -> float:
        """``loop.time()``."""
        return self._loop.time()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """``loop.call_later``."""
        return self._loop.call_later(delay, callback)


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
