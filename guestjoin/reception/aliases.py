"""PURE: which Virtual Reception answers an alias, and which alias typed digits mean.

Aliases and ID rules are regexes run like call routing rules' ``match_string`` (the ``regex``
module, full match, ASCII-only case folding, a time limit per evaluation); the alias is the
dialled URI without scheme and parameters (``guestjoin.routing.alias_of``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

from guestjoin.routing import DEFAULT_TIMEOUT, FLAGS, alias_of
from otj.model import VirtualReception

PROMPTS_DIR = Path(__file__).parent / "prompts"
MAX_DIGITS = 32


@dataclass(frozen=True, kw_only=True, slots=True)
class ReceptionProblem:
    """A configuration problem of one reception; ``path`` is relative to its entry."""

    path: tuple[str | int, ...]
    message: str
    warning: bool = False


@lru_cache(maxsize=512)
def _compile(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, flags=FLAGS)


def _full_match(pattern: str, text: str) -> regex.Match[str] | None:
    try:
        return _compile(pattern).fullmatch(text, timeout=DEFAULT_TIMEOUT)
    except (regex.error, TimeoutError):
        return None


def find_reception(receptions: Sequence[VirtualReception], uri: str) -> VirtualReception | None:
    """The first reception (by name) one of whose aliases fully matches the dialled ``uri``."""
    alias = alias_of(uri)
    if not alias.isascii():
        return None
    user = alias.partition("@")[0]
    for reception in sorted(receptions, key=lambda r: r.name):
        for pattern in reception.aliases:
            if _full_match(pattern, alias) or (user != alias and _full_match(pattern, user)):
                return reception
    return None


def map_digits(reception: VirtualReception, digits: str) -> str | None:
    """The alias the first ID rule fully matching ``digits`` produces (None: no rule matched).

    A rule with a blank ``replace`` dials the digits unchanged.
    """
    if not digits or len(digits) > MAX_DIGITS:
        return None
    for rule in reception.id_rules:
        match = _full_match(rule.match, digits)
        if match is None:
            continue
        if not rule.replace:
            return digits
        try:
            return match.expand(rule.replace)
        except (regex.error, IndexError):
            return None
    return None


def languages() -> frozenset[str]:
    """The prompt languages shipped (a directory of ``prompts/`` per language)."""
    if not PROMPTS_DIR.is_dir():
        return frozenset()
    return frozenset(p.name for p in PROMPTS_DIR.iterdir() if p.is_dir())


def validate_reception(reception: VirtualReception) -> list[ReceptionProblem]:
    """Check a reception when it is saved: patterns compile, group references exist."""
    problems: list[ReceptionProblem] = []
    if not reception.aliases:
        problems.append(ReceptionProblem(path=("aliases",), message="needs at least one alias"))
    for index, pattern in enumerate(reception.aliases):
        try:
            regex.compile(pattern, flags=FLAGS)
        except regex.error as exc:
            problems.append(
                ReceptionProblem(path=("aliases", index), message=f"invalid regex: {exc}")
            )
    for index, rule in enumerate(reception.id_rules):
        try:
            compiled = regex.compile(rule.match, flags=FLAGS)
        except regex.error as exc:
            problems.append(
                ReceptionProblem(path=("id_rules", index, "match"), message=f"invalid regex: {exc}")
            )
            continue
        problems.extend(
            ReceptionProblem(
                path=("id_rules", index, "replace"),
                message=f"refers to group {ref.group(1)} but the regex has {compiled.groups}",
            )
            for ref in regex.finditer(r"\\(\d{1,2})", rule.replace)
            if int(ref.group(1)) > compiled.groups
        )
    if not reception.id_rules and not reception.calendar_join:
        problems.append(
            ReceptionProblem(
                path=("id_rules",),
                message="no id_rules and calendar_join is false: callers can join nothing",
                warning=True,
            )
        )
    if reception.language not in languages():
        problems.append(
            ReceptionProblem(
                path=("language",),
                message=f"no prompts for {reception.language!r} (shipped: "
                f"{', '.join(sorted(languages())) or 'none'}); English is played",
                warning=True,
            )
        )
    return problems
