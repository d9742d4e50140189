"""The labels invitations write before a meeting's details, as data: one table per language.

Each table maps a kind of value to the labels that vendors' invitation templates put before it
(compared ignoring case; a label is followed by optional punctuation such as ``:``, ``：`` or
``#``, then the value). ``label_pattern(kind, value)`` is the one regular expression of a kind
over every language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

KINDS = ("meeting_id", "passcode", "conference_id", "meeting_number", "tenant_key")

LANGUAGES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "en": {
        "meeting_id": ("meeting id",),
        "passcode": ("passcode", "password"),
        "conference_id": (
            "video conference id", "vtc conference id", "video id", "conference id",
        ),
        "meeting_number": ("meeting number (access code)", "meeting number", "access code"),
    },
}  # fmt: skip
"""Labels per language code (ISO 639-1) and kind."""


def labels(kind: str) -> tuple[str, ...]:
    """Every language's labels of ``kind``, longest first (so that a longer label wins)."""
    found = {label for table in LANGUAGES.values() for label in table.get(kind, ())}
    return tuple(sorted(found, key=len, reverse=True))


def label_pattern(kind: str, value: str, *, only: tuple[str, ...] = ()) -> re.Pattern[str]:
    """``<label> [:：#]* <value>`` for every label of ``kind`` (or only the given labels).

    ``value`` is a regular expression with one group; label words may be separated by any
    whitespace, and the match is case-insensitive.
    """
    chosen = only or labels(kind)
    alternatives = "|".join(r"\s+".join(map(re.escape, label.split())) for label in chosen)
    return re.compile(
        rf"(?<!\w)(?:{alternatives})[ \t\u00a0]*[:：#]?[ \t\u00a0]*(?:\n[ \t\u00a0]*)?{value}",
        re.IGNORECASE,
    )
