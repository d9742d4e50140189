"""Applying a configuration with an audit entry: who, when, through what, and the YAML diff.

Every writer of the configuration (the console, the REST API, ``otj config apply``) goes
through ``audited_apply``. The diff compares ``otj config export`` before and after, so it
shows secret references and ``stored:inline``, never a secret.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import TYPE_CHECKING

from otj.config.export import to_yaml

if TYPE_CHECKING:
    from otj.store import Database
    from otj.store.audit import Source
    from otj.store.values import ChangeReport, Configuration


def yaml_diff(before: str, after: str) -> str:
    """A unified diff of two exports (``before``/``after``), without the header comment."""
    strip = [line for line in before.splitlines(keepends=True) if not line.startswith("#")]
    strip_after = [line for line in after.splitlines(keepends=True) if not line.startswith("#")]
    return "".join(difflib.unified_diff(strip, strip_after, "before", "after", n=3))


def audited_apply(
    db: Database,
    configuration: Configuration,
    *,
    prune: bool,
    actor: str,
    source: Source,
    now: datetime,
) -> ChangeReport:
    """``db.config.apply``, then one audit entry when anything changed."""
    before = to_yaml(db.config.snapshot(secrets="sealed"))
    report = db.config.apply(configuration, prune=prune)
    if report.changed:
        after = to_yaml(db.config.snapshot(secrets="sealed"))
        db.audit.record(
            at=now,
            actor=actor,
            source=source,
            summary="; ".join(change.describe() for change in report.changes),
            diff=yaml_diff(before, after),
            revision=report.revision,
        )
    return report
