"""What stalls an asyncio loop: garbage collector pauses (``gc.callbacks``) and loop lag (a
timer every 5 ms, how late it ran). ``StallMonitor.report()`` is a few lines for a log."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from typing import Any


class StallMonitor:
    """Collects gc pauses per generation and loop lag over the process's life."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = 0.005) -> None:
        self.loop = loop
        self.interval = interval
        self.gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.lags: list[float] = []
        self.collected: dict[int, int] = {0: 0, 1: 0, 2: 0}
        self._gc_start = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._schedule()

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._handle is not None:
            self._handle.cancel()

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            gen = int(info["generation"])
            self.gc_pauses[gen].append(time.perf_counter() - self._gc_start)
            self.collected[gen] += int(info["collected"])

    def _schedule(self) -> None:
        self._due = self.loop.time() + self.interval
        self._handle = self.loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        self.lags.append(self.loop.time() - self._due)
        self._schedule()

    def report(self) -> str:
        lines = []
        for gen, pauses in self.gc_pauses.items():
            if pauses:
                lines.append(
                    f"gc gen{gen}: {len(pauses)} collections, max {max(pauses) * 1000:.1f} ms, "
                    f"total {sum(pauses) * 1000:.0f} ms, {self.collected[gen]} objects freed"
                )
        if self.lags:
            buckets = Counter(
                ">50ms" if lag > 0.05 else ">20ms" if lag > 0.02 else ">10ms"
                for lag in self.lags
                if lag > 0.01
            )
            lines.append(
                f"loop lag: {len(self.lags)} samples, max {max(self.lags) * 1000:.1f} ms, "
                + ", ".join(f"{k} {v}" for k, v in sorted(buckets.items()))
            )
        types = Counter(type(o).__name__ for o in gc.get_objects())
        top = ", ".join(f"{name} {n}" for name, n in types.most_common(12))
        lines.append(f"gc tracked at the end: {sum(types.values())} ({top})")
        return "\n".join(lines)
