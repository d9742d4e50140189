"""Many simulated codecs at once: one event loop (:class:`CodecFarm`), or that loop in a daemon
thread for synchronous callers (:class:`ThreadedCodecFarm`: the demo of ``otj serve``, benches).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any, TypeVar

from otj.demo.codec.server import SimulatedCodec

T = TypeVar("T")


class CodecFarm:
    """Many simulated codecs in one event loop (async context manager)."""

    def __init__(self) -> None:
        self.codecs: list[SimulatedCodec] = []

    async def add(self, name: str, **kwargs: Any) -> SimulatedCodec:
        """Create and start one codec."""
        codec = SimulatedCodec(name=name, **kwargs)
        await codec.start()
        self.codecs.append(codec)
        return codec

    async def add_many(self, names: Iterable[str], **kwargs: Any) -> list[SimulatedCodec]:
        """Create and start one codec per name."""
        return [await self.add(name, **kwargs) for name in names]

    async def close(self) -> None:
        """Stop every codec."""
        await asyncio.gather(*(codec.stop() for codec in self.codecs))

    async def __aenter__(self) -> CodecFarm:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class ThreadedCodecFarm:
    """A :class:`CodecFarm` on its own event loop in a daemon thread (for sync callers)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.farm = CodecFarm()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="codec-simulator", daemon=True
        )
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T] | Awaitable[T], timeout: float = 30.0) -> T:
        """Run a coroutine on the farm's loop and wait for its result."""

        async def runner() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def add(self, name: str, **kwargs: Any) -> SimulatedCodec:
        """Create and start one codec."""
        return self.call(self.farm.add(name, **kwargs))

    def close(self) -> None:
        """Stop the codecs and the loop."""
        with contextlib.suppress(RuntimeError):
            self.call(self.farm.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
