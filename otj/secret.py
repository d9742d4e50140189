"""A string that never shows itself in reprs, logs or API output."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


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


class SecretRefError(ValueError):
    """A secret reference could not be resolved (unset variable, unreadable file)."""


def resolve_secret(value: str, *, environ: Mapping[str, str] | None = None) -> Secret:
    """Resolve a configuration secret: inline text, ``env:NAME`` or ``file:PATH``.

    The returned ``Secret`` keeps the reference (``ref``) so that an export can write it back
    instead of the value; inline secrets have an empty ``ref``.
    """
    env = os.environ if environ is None else environ
    if value.startswith("env:"):
        name = value[4:]
        if name not in env:
            raise SecretRefError(f"environment variable {name} is not set")
        return Secret(env[name], ref=value)
    if value.startswith("file:"):
        path = Path(value[5:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretRefError(f"cannot read secret file {path}: {exc.strerror}") from exc
        return Secret(text.strip() if not text.lstrip().startswith("{") else text, ref=value)
    return Secret(value)
