"""Licences across gateway processes: one heartbeat row per process in ``gateway_licences``.

Each process publishes how many licences it holds and until when the figure stands
(``expires_at``); everyone adds up the rows that have not expired. A process that dies stops
publishing, and its row no longer counts once it expires (and is deleted by the next publisher).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from otj.store.tables.gateway import GatewayLicenceRow

if TYPE_CHECKING:
    from otj.store.db import Database


class LicenceBoard:
    """Publish this process's licence count; read the other live processes' counts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def publish(self, process: str, in_use: int, *, now: datetime, expires_at: datetime) -> int:
        """Store ``in_use`` for ``process`` until ``expires_at``; return what the other live
        processes hold (one transaction: expired rows are deleted on the way)."""
        with self._db.transaction() as session:
            session.execute(delete(GatewayLicenceRow).where(GatewayLicenceRow.expires_at <= now))
            done = session.execute(
                update(GatewayLicenceRow)
                .where(GatewayLicenceRow.process == process)
                .values(in_use=in_use, expires_at=expires_at, updated_at=now)
            )
            if not getattr(done, "rowcount", 0):
                session.add(
                    GatewayLicenceRow(
                        process=process, in_use=in_use, expires_at=expires_at, updated_at=now
                    )
                )
            others = session.scalar(
                select(func.coalesce(func.sum(GatewayLicenceRow.in_use), 0)).where(
                    GatewayLicenceRow.process != process, GatewayLicenceRow.expires_at > now
                )
            )
            return int(others or 0)

    def withdraw(self, process: str) -> None:
        """Remove a stopping process's row (its licences are free at once)."""
        with self._db.transaction() as session:
            session.execute(delete(GatewayLicenceRow).where(GatewayLicenceRow.process == process))

    def live(self, *, now: datetime) -> dict[str, int]:
        """Licences held per live process (for status output and tests)."""
        with self._db.reading() as session:
            rows = session.execute(
                select(GatewayLicenceRow.process, GatewayLicenceRow.in_use).where(
                    GatewayLicenceRow.expires_at > now
                )
            )
            return {process: int(in_use) for process, in_use in rows}
