"""A string that never shows itself in reprs, logs or API output."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value; ``reveal()`` is the only way to read it. ``ref`` tells where it came from."""

    _value: str = field(repr=False)
    ref: str = ""

    def reveal(self) -> str:
        """Return the plain value (for the one call that needs it)."""
        return self._value

    def __str__(self) -> str:
        return "********"

    def __repr__(self) -> str:
        return f"Secret(ref={self.ref!r})" if self.ref else "Secret(********)"

    def __bool__(self) -> bool:
        return bool(self._value)
