"""Resource limits for everything administrators can write: templates and regular expressions.

A render or a regex search gets a ``Budget`` (a deadline on the monotonic clock plus an output
cap); the sandbox hooks, the bounded ``range`` and loop iterators, and every filter check it. The
clock read here is only a guard against runaway work: results never depend on it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

TEMPLATE_SECONDS = 0.25
"""Wall-clock budget of one template render."""
REGEX_SECONDS = 0.1
"""Time limit of one ``regex`` search (rules and ``pex_regex_*`` in templates)."""
MAX_OUTPUT_CHARS = 64 * 1024
"""Rendered template output beyond this is an error."""
MAX_VALUE_CHARS = 4 * 1024 * 1024
"""No string or sequence built inside a template may grow beyond this."""
MAX_RANGE = 100_000
"""Largest ``range`` a template may create."""
MAX_FORMAT_WIDTH = 1000
"""Largest width/precision in a format specification (``%9999s`` would build a huge string)."""
MAX_ALIAS_CHARS = 255


class LimitExceeded(Exception):
    """A template or regex used more time or memory than allowed."""


@dataclass(kw_only=True, slots=True)
class Budget:
    """The limits of one template render, with what the render collected on the side."""

    deadline: float
    now: datetime
    seed: str
    debug: list[str] = field(default_factory=list)
    uuid_count: int = 0

    def check(self) -> None:
        """Raise ``LimitExceeded`` when the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"template took longer than {TEMPLATE_SECONDS * 1000:.0f} ms")

    def remaining(self) -> float:
        """Seconds left, at least one millisecond (regex timeouts must be positive)."""
        return max(0.001, self.deadline - time.monotonic())


CURRENT_BUDGET: ContextVar[Budget | None] = ContextVar("otj_rules_budget", default=None)


def new_budget(*, now: datetime, seed: str, seconds: float = TEMPLATE_SECONDS) -> Budget:
    """A budget whose deadline is ``seconds`` from now on the monotonic clock."""
    return Budget(deadline=time.monotonic() + seconds, now=now, seed=seed)


def check_budget() -> None:
    """Check the current render's deadline (no-op outside a render)."""
    budget = CURRENT_BUDGET.get()
    if budget is not None:
        budget.check()


def regex_timeout() -> float:
    """Timeout for one regex search: ``REGEX_SECONDS`` or less when the render ends sooner."""
    budget = CURRENT_BUDGET.get()
    if budget is None:
        return REGEX_SECONDS
    return min(REGEX_SECONDS, budget.remaining())


def weight(value: object, limit: int = MAX_VALUE_CHARS) -> int:
    """About how many characters ``value`` makes as text, counted up to just past ``limit``.

    Strings and bytes count their length, containers their items (each counts at least one:
    ``str([s] * 1000)`` repeats ``s`` a thousand times), anything else one. Counting stops as
    soon as ``limit`` is passed, so that weighing a huge value costs little.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 * len(item) + 2
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item) + 2
            if total <= limit:
                stack.extend(item)
        else:
            total += 1
    return total


def check_size(value: object) -> None:
    """Raise ``LimitExceeded`` when ``value`` as text would exceed ``MAX_VALUE_CHARS``."""
    if isinstance(value, (str, bytes)):
        size = len(value)
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        size = weight(value)
    else:
        return
    if size > MAX_VALUE_CHARS:
        raise LimitExceeded(f"value of about {size} characters exceeds {MAX_VALUE_CHARS}")
