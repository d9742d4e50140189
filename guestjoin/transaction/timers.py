"""Transaction timer values (RFC 3261 §17.1.1.1, Table 4) and the states of §17 plus the
Accepted state of RFC 6026 (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MAGIC = "z9hG4bK"  # the branch prefix of RFC 3261 transactions (§8.1.1.7)


@dataclass(frozen=True, kw_only=True, slots=True)
class Timers:
    """RFC 3261 §17.1.1.1 and Table 4 values (seconds)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def b(self) -> float:
        """Timer B/F/H/J: 64*T1."""
        return 64 * self.t1


DEFAULT_TIMERS = Timers()


class State(Enum):
    """Transaction states of §17 (plus RFC 6026 Accepted)."""

    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"
