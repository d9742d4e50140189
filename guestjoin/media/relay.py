"""Media relay through one or several rtpengines (the I/O edge of ``pool`` and ``commands``).

A new call's ``offer`` goes to the engines in the pool's order until one answers; the call then
sticks to that engine for its ``answer``s, re-offers and its ``delete``. An engine that does not
answer is marked down (alarm ``rtpengine_unreachable``), skipped by new calls, and pinged in the
background until it answers again (alarm cleared): no gateway restart is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from guestjoin.media import commands
from guestjoin.media.client import NgClient, NgTimeout
from guestjoin.media.commands import Encryption, MediaFigures, Side
from guestjoin.media.ng import NgError, NgReply
from guestjoin.media.pool import ALARM_KIND, Engine, EnginePool, Transition, parse_engine
from otj.model import RtpEngineAddress

log = logging.getLogger(__name__)


class AlarmSink(Protocol):
    """Where engine alarms go (the store's alarms in production)."""

    def raise_alarm(self, kind: str, subject: str, message: str) -> None:
        """Raise (or refresh) the alarm ``kind`` on ``subject``."""

    def clear_alarm(self, kind: str, subject: str) -> None:
        """Clear it."""


def engines_from(addresses: Sequence[RtpEngineAddress]) -> tuple[Engine, ...]:
    """The configured engines (addresses were validated when the configuration was saved; one
    that still does not parse is logged and left out)."""
    engines = []
    for entry in addresses:
        try:
            engines.append(parse_engine(entry.address, entry.weight))
        except ValueError as exc:
            log.warning("gateway.rtpengines: %s (left out)", exc)
    return tuple(engines)


class RelayUnavailable(Exception):
    """No engine could take the call's media (the call fails with this text as its cause)."""


class MediaRelay:
    """Offers, answers and deletes media sessions on the pool's engines."""

    def __init__(
        self,
        engines: Sequence[Engine],
        *,
        alarms: AlarmSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.5,
        tries: int = 2,
        probe_every: float = 1.0,
        check_every: float = 10.0,
    ) -> None:
        self.pool = EnginePool(engines, retry_after=probe_every)
        self.alarms = alarms
        self.clock = clock
        self.interval = interval
        self.tries = tries
        self.probe_every = probe_every
        self.check_every = check_every  # every engine pinged this often (alarm without calls)
        self._clients: dict[Engine, NgClient] = {}
        self._prober: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None

    def configure(self, engines: Sequence[Engine]) -> None:
        """Adopt a new engine list (live calls keep their engine)."""
        self.pool.configure(engines)

    def client(self, engine: Engine) -> NgClient:
        """The ng client of ``engine`` (one UDP socket each)."""
        client = self._clients.get(engine)
        if client is None:
            client = NgClient(engine.host, engine.port, interval=self.interval, tries=self.tries)
            self._clients[engine] = client
        return client

    async def offer(
        self,
        *,
        call_id: str,
        from_tag: str,
        sdp: str,
        from_side: Side = "inside",
        encryption: Encryption = "none",
    ) -> str:
        """The SDP to forward in place of ``sdp`` (a new call picks its engine here)."""
        command = commands.offer(
            call_id=call_id, from_tag=from_tag, sdp=sdp, from_side=from_side, encryption=encryption
        )
        engine = self.pool.engine_of(call_id)
        if engine is not None:
            return (await self._send(engine, command)).sdp
        tried: list[str] = []
        for engine in self.pool.candidates(call_id, self.clock()):
            try:
                reply = await self._send(engine, command)
            except NgTimeout as exc:
                tried.append(str(exc))
                continue
            self.pool.assign(call_id, engine)
            return reply.sdp
        if not tried:
            down = [f"{s.reason}" for s in self.pool.states() if not s.up]
            if not down:
                raise RelayUnavailable("no rtpengine is configured (gateway.rtpengines)")
            raise RelayUnavailable("no rtpengine is answering: " + "; ".join(down))
        raise RelayUnavailable("no rtpengine answered: " + "; ".join(tried))

    async def answer(self, *, call_id: str, from_tag: str, to_tag: str, sdp: str) -> str:
        """The SDP to forward in place of the answer ``sdp``."""
        engine = self.pool.engine_of(call_id)
        if engine is None:
            raise RelayUnavailable(f"{call_id}: no media session to answer")
        command = commands.answer(call_id=call_id, from_tag=from_tag, to_tag=to_tag, sdp=sdp)
        return (await self._send(engine, command)).sdp

    async def delete(self, *, call_id: str, room_tag: str) -> MediaFigures | None:
        """End the call's media session; its figures (None when it had none or the engine is
        gone: rtpengine then ends the session itself after its timeout)."""
        engine = self.pool.release(call_id)
        if engine is None:
            return None
        try:
            reply = await self._send(engine, commands.delete(call_id=call_id, from_tag=room_tag))
        except NgError as exc:
            log.warning("%s: media session not deleted: %s", call_id, exc)
            return None
        return commands.figures(reply.body, engine=engine.address, room_tag=room_tag)

    async def _send(self, engine: Engine, command: dict[str, object]) -> NgReply:
        try:
            reply = await self.client(engine).call(command)
        except NgTimeout as exc:
            self._report(self.pool.failed(engine, self.clock(), str(exc)))
            self._ensure_prober()
            raise
        self._report(self.pool.answered(engine))
        return reply

    def _report(self, transition: Transition | None) -> None:
        if transition is None:
            return
        subject = transition.engine.address
        if transition.change == "down":
            log.error("rtpengine %s is unreachable: %s", subject, transition.reason)
            if self.alarms is not None:
                message = f"rtpengine {subject} does not answer: {transition.reason}"
                self.alarms.raise_alarm(ALARM_KIND, subject, message)
        else:
            log.info("rtpengine %s answers again", subject)
            if self.alarms is not None:
                self.alarms.clear_alarm(ALARM_KIND, subject)

    def _ensure_prober(self) -> None:
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        """Ping down engines until every engine answers again."""
        while any(not s.up for s in self.pool.states()):
            await asyncio.sleep(self.probe_every)
            for engine in self.pool.due_probes(self.clock()):
                with contextlib.suppress(NgError):
                    await self._send(engine, {"command": "ping"})

    def start(self) -> None:
        """Ping every engine every ``check_every`` seconds, so an engine that stops is
        alarmed before a call needs it (the gateway calls this when it starts)."""
        if self._checker is None and self.check_every > 0:
            self._checker = asyncio.get_running_loop().create_task(self._check_loop())

    async def _check_loop(self) -> None:
        while True:
            for state in self.pool.states():
                if state.up:
                    with contextlib.suppress(NgError):
                        await self._send(state.engine, {"command": "ping"})
            await asyncio.sleep(self.check_every)

    async def close(self) -> None:
        """Stop pinging and probing, close the sockets."""
        for task in (self._checker, self._prober):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._checker = self._prober = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()
