"""The configuration audit log: every change made by the console, the API or ``otj config
apply`` with who made it, when, and the diff of the exported YAML (secrets never appear: the
export writes references or ``stored:inline``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select

from otj.store.tables.console import AuditRow

if TYPE_CHECKING:
    from otj.store.db import Database

Source = Literal["console", "api", "cli"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEntry:
    """One configuration change."""

    id: int
    at: datetime
    actor: str
    source: str
    summary: str
    diff: str
    revision: int


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        source=row.source,
        summary=row.summary,
        diff=row.diff,
        revision=row.revision,
    )


class AuditRepository:
    """Write and read audit entries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self, *, at: datetime, actor: str, source: Source, summary: str, diff: str, revision: int
    ) -> AuditEntry:
        """Add one entry."""
        with self._db.transaction() as session:
            row = AuditRow(
                at=at, actor=actor, source=source, summary=summary, diff=diff, revision=revision
            )
            session.add(row)
            session.flush()
            return _entry(row)

    def recent(self, *, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        with self._db.reading() as session:
            rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> AuditEntry | None:
        """One entry."""
        with self._db.reading() as session:
            row = session.get(AuditRow, entry_id)
            return _entry(row) if row else None
