"""PURE choice of the rtpengine for a call: weighted rendezvous hashing of the Call-ID over the
engines (a call sticks to one; adding or losing an engine moves only that engine's share),
engines that did not answer skipped until their retry time, up/down transitions reported so
the caller can raise and clear the ``rtpengine_unreachable`` alarm. Time is passed in."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

ALARM_KIND = "rtpengine_unreachable"


@dataclass(frozen=True, kw_only=True, slots=True)
class Engine:
    """One configured engine (``gateway.rtpengines`` entry)."""

    host: str
    port: int
    weight: int = 1

    @property
    def address(self) -> str:
        """``host:port`` (``[v6]:port`` for IPv6), the alarm's subject."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineState:
    """Whether an engine answers, and when one that did not is tried again."""

    engine: Engine
    up: bool = True
    retry_at: float = 0.0
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Transition:
    """An engine went down or came back (the caller raises or clears the alarm)."""

    engine: Engine
    change: Literal["down", "up"]
    reason: str = ""


def parse_engine(text: str, weight: int = 1) -> Engine:
    """``192.0.2.1:2223`` / ``[2001:db8::1]:2223`` as an ``Engine``; ``ValueError`` otherwise."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65_535:
        raise ValueError(f"an rtpengine address is HOST:PORT (its listen-ng), got {text!r}")
    if weight < 1:
        raise ValueError(f"an rtpengine weight is at least 1, got {weight}")
    return Engine(host=host, port=int(port), weight=weight)


def _score(engine: Engine, call_id: str) -> float:
    """Weighted rendezvous score: the highest wins; a weight-2 engine wins twice as often."""
    digest = hashlib.sha256(f"{engine.address}\0{call_id}".encode()).digest()
    unit = (int.from_bytes(digest[:8], "big") + 1) / (2**64 + 1)  # in (0, 1)
    return -engine.weight / math.log(unit)


class EnginePool:
    """The engines' states and each live call's engine."""

    def __init__(self, engines: Sequence[Engine], *, retry_after: float = 2.0) -> None:
        self.retry_after = retry_after
        self._states: dict[Engine, EngineState] = {}
        self._calls: dict[str, Engine] = {}
        self.configure(engines)

    def configure(self, engines: Sequence[Engine]) -> None:
        """Adopt a new engine list; known engines keep their state, calls keep their engine."""
        self._states = {e: self._states.get(e) or EngineState(engine=e) for e in engines}

    @property
    def engines(self) -> tuple[Engine, ...]:
        """The configured engines."""
        return tuple(self._states)

    def states(self) -> tuple[EngineState, ...]:
        """Every engine's state."""
        return tuple(self._states.values())

    def candidates(self, call_id: str, now: float) -> tuple[Engine, ...]:
        """Engines to try for a new call, best first: answering ones, then ones due a retry."""
        ranked = sorted(self._states.values(), key=lambda s: -_score(s.engine, call_id))
        up = [s.engine for s in ranked if s.up]
        due = [s.engine for s in ranked if not s.up and s.retry_at <= now]
        return (*up, *due)

    def engine_of(self, call_id: str) -> Engine | None:
        """The engine a call's media session lives on."""
        return self._calls.get(call_id)

    def assign(self, call_id: str, engine: Engine) -> None:
        """The call's session was created on ``engine``."""
        self._calls[call_id] = engine

    def release(self, call_id: str) -> Engine | None:
        """Forget the call (its session was deleted); its engine."""
        return self._calls.pop(call_id, None)

    def calls_on(self, engine: Engine) -> int:
        """Live calls on ``engine``."""
        return sum(1 for e in self._calls.values() if e == engine)

    def answered(self, engine: Engine) -> Transition | None:
        """The engine answered; ``up`` when it had been down."""
        state = self._states.get(engine)
        if state is None or state.up:
            return None
        self._states[engine] = EngineState(engine=engine)
        return Transition(engine=engine, change="up")

    def failed(self, engine: Engine, now: float, reason: str) -> Transition | None:
        """The engine did not answer; ``down`` when it had been up."""
        state = self._states.get(engine)
        if state is None:
            return None
        self._states[engine] = replace(
            state, up=False, retry_at=now + self.retry_after, reason=reason
        )
        return Transition(engine=engine, change="down", reason=reason) if state.up else None

    def due_probes(self, now: float) -> tuple[Engine, ...]:
        """Down engines whose retry time has come (pinged in the background)."""
        return tuple(s.engine for s in self._states.values() if not s.up and s.retry_at <= now)
