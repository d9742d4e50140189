"""Declarative configuration: load and validate a YAML file, apply it to the store, export it.

``load_file`` → ``validate`` (pure, against a snapshot of the store) → ``Database.config.apply``
(one transaction). ``apply_file`` does all three. See ``otj.config.schema`` for the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from otj.config.schema import ValidatedConfig, validate_document
from otj.config.yamlsrc import Located, Problem, YamlError, load_yaml

if TYPE_CHECKING:
    from otj.store import Database
    from otj.store.values import ChangeReport, Configuration

__all__ = [
    "ApplyResult",
    "Problem",
    "apply_file",
    "apply_text",
    "load_file",
    "read_database_setting",
    "validate",
]

log = logging.getLogger(__name__)


def load_file(path: Path) -> tuple[Located, list[Problem]]:
    """Parse a configuration file (``YamlError`` for a syntax error, with its line)."""
    return load_yaml(path.read_text(encoding="utf-8"), source=str(path))


def read_database_setting(path: Path) -> str | None:
    """The ``database:`` of a configuration file, if it has one (used before opening a store)."""
    try:
        located, _ = load_file(path)
    except (OSError, YamlError):
        return None
    data = located.data
    value = data.get("database") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def validate(
    located: Located,
    parse_problems: Sequence[Problem],
    *,
    existing: Configuration,
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    now: datetime | None = None,
) -> ValidatedConfig:
    """Validate a parsed document against the current configuration (nothing is written).

    A valid document is also checked against the dial plan (``otj.config.dialplan``): each
    meeting rule's sample alias that no call routing rule routes is a warning, or an error when
    ``strict``.
    """
    from otj.config.dialplan import dial_plan_problems
    from otj.rules import validate_profile, validate_rules

    result = validate_document(
        located,
        existing=existing,
        prune=prune,
        environ=environ,
        rules_validator=validate_rules,
        profile_validator=validate_profile,
    )
    if result.configuration is not None and not parse_problems:
        dial_plan = dial_plan_problems(
            located,
            result.configuration,
            existing=existing,
            prune=prune,
            now=now or datetime.now(UTC),
            strict=strict,
        )
        if dial_plan:
            problems = tuple(
                sorted((*result.problems, *dial_plan), key=lambda p: (p.line, p.path, p.warning))
            )
            failed = any(not p.warning for p in dial_plan)
            return ValidatedConfig(
                configuration=None if failed else result.configuration,
                problems=problems,
                database=result.database,
            )
    if not parse_problems:
        return result
    problems = tuple(sorted((*parse_problems, *result.problems), key=lambda p: (p.line, p.path)))
    return ValidatedConfig(configuration=None, problems=problems, database=result.database)


@dataclass(frozen=True, kw_only=True, slots=True)
class ApplyResult:
    """What ``apply`` did: problems (nothing written when there are errors) and changes."""

    problems: tuple[Problem, ...]
    report: ChangeReport | None

    @property
    def ok(self) -> bool:
        """True when the file was valid and applied."""
        return self.report is not None


def apply_text(
    db: Database,
    text: str,
    *,
    source: str = "",
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    actor: str = "",
) -> ApplyResult:
    """Validate a whole document, then apply it in one transaction (or write nothing).

    With ``strict``, a sample alias no call routing rule routes is an error (see ``validate``).
    A change is written to the audit log as made by ``actor`` (the OS user by default) with
    ``otj config apply`` (``otj.config.audit``).
    """
    try:
        located, parse_problems = load_yaml(text, source=source)
    except YamlError as exc:
        return ApplyResult(problems=(exc.problem,), report=None)
    existing = db.config.snapshot(secrets="sealed")
    checked = validate(
        located, parse_problems, existing=existing, prune=prune, environ=environ, strict=strict
    )
    if checked.configuration is None:
        return ApplyResult(problems=checked.problems, report=None)
    from otj.config.audit import audited_apply

    now = datetime.now(UTC)
    report = audited_apply(
        db,
        checked.configuration,
        prune=prune,
        actor=actor or _os_user(),
        source="cli",
        now=now,
    )
    if report.changed:
        log.info(
            "configuration %s applied: %d change(s), revision %d",
            source or "(text)",
            len(report.changes),
            report.revision,
        )
    return ApplyResult(problems=checked.problems, report=report)


def apply_file(
    db: Database,
    path: Path,
    *,
    prune: bool = False,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> ApplyResult:
    """``apply_text`` of a file."""
    return apply_text(
        db,
        path.read_text(encoding="utf-8"),
        source=str(path),
        prune=prune,
        environ=environ,
        strict=strict,
    )


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container without /etc/passwd entry)
        return "unknown"
