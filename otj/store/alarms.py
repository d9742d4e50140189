"""Alarms: raised once per (kind, subject) while active, updated in place, cleared explicitly."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, text

from otj.store.tables.console import AlarmRow
from otj.store.values import Alarm, Severity

if TYPE_CHECKING:
    from otj.store.db import Database


def _lock_key(kind: str, subject: str) -> int:
    """A signed 64-bit advisory lock key for one (kind, subject)."""
    digest = hashlib.sha256(f"alarm\0{kind}\0{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _alarm(row: AlarmRow) -> Alarm:
    return Alarm(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        severity=cast(Any, row.severity),
        message=row.message,
        raised_at=row.raised_at,
        updated_at=row.updated_at,
        cleared_at=row.cleared_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by or "",
    )


class AlarmRepository:
    """Raise, clear and list alarms."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def raise_alarm(
        self,
        kind: str,
        subject: str,
        message: str,
        *,
        now: datetime,
        severity: Severity = "error",
    ) -> Alarm:
        """Raise (or refresh the message of) the active alarm of this kind on this subject."""
        with self._db.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                # two workers raising the same alarm at once must not both insert it
                # (SQLite serialises writers already)
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(kind, subject)}
                )
            row = session.scalars(
                select(AlarmRow)
                .where(
                    AlarmRow.kind == kind,
                    AlarmRow.subject == subject,
                    AlarmRow.cleared_at.is_(None),
                )
                .with_for_update()
            ).first()
            if row is None:
                row = AlarmRow(
                    kind=kind,
                    subject=subject,
                    severity=severity,
                    message=message,
                    raised_at=now,
                    updated_at=now,
                )
                session.add(row)
            elif row.message != message or row.severity != severity:
                row.message = message
                row.severity = severity
                row.updated_at = now
            session.flush()
            return _alarm(row)

    def clear(self, kind: str | None, subject: str, *, now: datetime) -> int:
        """Clear the active alarms on a subject (of one kind, or every kind); returns how many."""
        with self._db.transaction() as session:
            query = select(AlarmRow).where(
                AlarmRow.subject == subject, AlarmRow.cleared_at.is_(None)
            )
            if kind is not None:
                query = query.where(AlarmRow.kind == kind)
            rows = session.scalars(query).all()
            for row in rows:
                row.cleared_at = now
                row.updated_at = now
            return len(rows)

    def active(self, *, subject: str | None = None, kind: str | None = None) -> list[Alarm]:
        """Active alarms, newest first."""
        query = select(AlarmRow).where(AlarmRow.cleared_at.is_(None))
        if subject is not None:
            query = query.where(AlarmRow.subject == subject)
        if kind is not None:
            query = query.where(AlarmRow.kind == kind)
        with self._db.reading() as session:
            rows = session.scalars(query.order_by(AlarmRow.raised_at.desc(), AlarmRow.id.desc()))
            return [_alarm(r) for r in rows]

    def recent(self, *, limit: int = 100) -> list[Alarm]:
        """Active and cleared alarms, newest first."""
        with self._db.reading() as session:
            rows = session.scalars(
                select(AlarmRow)
                .order_by(AlarmRow.raised_at.desc(), AlarmRow.id.desc())
                .limit(limit)
            )
            return [_alarm(r) for r in rows]

    def acknowledge(self, alarm_id: int, *, by: str, now: datetime) -> Alarm | None:
        """Mark an alarm as seen by ``by`` (it stays active until its cause clears it);
        None when there is no such alarm. Acknowledging twice keeps the first acknowledgement."""
        with self._db.transaction() as session:
            row = session.get(AlarmRow, alarm_id)
            if row is None:
                return None
            if row.acknowledged_at is None:
                row.acknowledged_at = now
                row.acknowledged_by = by
            session.flush()
            return _alarm(row)
