"""Requests made to each calendar integration per UTC day, shared by every worker process."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from otj.store.tables.calendars import IntegrationUsageRow

_USAGE = cast(Table, IntegrationUsageRow.__table__)
_UPSERT_USAGE: dict[str, Any] = {}


def _usage_upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE requests = requests + excluded.requests``."""
    statement = _UPSERT_USAGE.get(dialect)
    if statement is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        insert = module.insert(_USAGE).values(
            integration=bindparam("integration"), day=bindparam("day"), requests=bindparam("n")
        )
        statement = insert.on_conflict_do_update(
            index_elements=["integration", "day"],
            set_={"requests": _USAGE.c.requests + insert.excluded.requests},
        )
        _UPSERT_USAGE[dialect] = statement
    return statement


def add_usage(session: Session, integration: str, day: date, requests: int) -> None:
    """Add requests to an integration's daily counter (atomic upsert on both backends)."""
    if requests <= 0:
        return
    dialect = session.get_bind().dialect.name
    session.execute(_usage_upsert(dialect), {"integration": integration, "day": day, "n": requests})


def requests_on(session: Session, integration: str, day: date) -> int:
    """Requests counted for an integration on a UTC day."""
    count = session.scalar(
        select(func.coalesce(func.sum(IntegrationUsageRow.requests), 0)).where(
            IntegrationUsageRow.integration == integration,
            IntegrationUsageRow.day == day,
        )
    )
    return int(count or 0)
