"""Gateway call detail records: started on INVITE, updated as the call progresses, finished."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, select, update

from guestjoin.cdr import CallRecord
from otj.store.tables.gateway import CallRow

if TYPE_CHECKING:
    from otj.store.db import Database

#: Every field of a ``CallRecord`` is a column but ``key`` (the gateway's handle on a live call).
_COLUMNS = tuple(f.name for f in fields(CallRecord) if f.name != "key")
_UPDATABLE = frozenset(_COLUMNS) - {"id", "call_id", "invite_at"}


def _record(row: CallRow) -> CallRecord:
    return CallRecord(**{name: getattr(row, name) for name in _COLUMNS})


class CallRepository:
    """Start, update, finish and list call detail records (ids are the returned ``id``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(
        self,
        *,
        call_id: str,
        direction: str,
        caller_uri: str,
        invite_at: datetime,
        **details: Any,
    ) -> CallRecord:
        """Create the record of a new call (``details``: any other CallRecord field)."""
        unknown = set(details) - _UPDATABLE
        if unknown:
            raise TypeError(f"unknown call fields: {sorted(unknown)}")
        with self._db.transaction() as session:
            row = CallRow(
                call_id=call_id,
                direction=direction,
                caller_uri=caller_uri,
                invite_at=invite_at,
                caller_name=details.pop("caller_name", ""),
                endpoint_name=details.pop("endpoint_name", ""),
                source_address=details.pop("source_address", ""),
                transport=details.pop("transport", ""),
                dialled_alias=details.pop("dialled_alias", ""),
                routed_alias=details.pop("routed_alias", ""),
                rule=details.pop("rule", ""),
                target=details.pop("target", ""),
                conference=details.pop("conference", ""),
                cause=details.pop("cause", ""),
                detail=details.pop("detail", ""),
                **details,
            )
            session.add(row)
            session.flush()
            return _record(row)

    def update(self, record_id: int, **changes: Any) -> CallRecord:
        """Set fields of a call (ringing_at, answer_at, routed_alias, target, …)."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TypeError(f"unknown call fields: {sorted(unknown)}")
        with self._db.transaction() as session:
            row = session.get(CallRow, record_id)
            if row is None:
                raise KeyError(record_id)
            for key, value in changes.items():
                setattr(row, key, value)
            return _record(row)

    def finish(
        self,
        record_id: int,
        *,
        end_at: datetime,
        cause: str,
        final_code: int | None = None,
        detail: str = "",
    ) -> CallRecord:
        """End a call with its disconnect cause (completed, not_admitted, call_rejected, …)."""
        changes: dict[str, Any] = {"end_at": end_at, "cause": cause, "final_code": final_code}
        if detail:
            changes["detail"] = detail
        return self.update(record_id, **changes)

    def get(self, record_id: int) -> CallRecord | None:
        """One record."""
        with self._db.reading() as session:
            row = session.get(CallRow, record_id)
            return _record(row) if row else None

    def recent(self, *, limit: int = 100, since: datetime | None = None) -> list[CallRecord]:
        """Calls, newest first."""
        query = select(CallRow)
        if since is not None:
            query = query.where(CallRow.invite_at >= since)
        with self._db.reading() as session:
            rows = session.scalars(
                query.order_by(CallRow.invite_at.desc(), CallRow.id.desc()).limit(limit)
            )
            return [_record(r) for r in rows]

    def search(
        self,
        *,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        endpoints: Collection[str] | None = None,
        before_id: int | None = None,
    ) -> list[CallRecord]:
        """Calls started in ``[since, until)`` by any of ``endpoints`` (None: any caller),
        newest first by id; ``before_id`` continues a listing after its last record."""
        query = select(CallRow)
        if since is not None:
            query = query.where(CallRow.invite_at >= since)
        if until is not None:
            query = query.where(CallRow.invite_at < until)
        if endpoints is not None:
            query = query.where(CallRow.endpoint_name.in_(list(endpoints)))
        if before_id is not None:
            query = query.where(CallRow.id < before_id)
        with self._db.reading() as session:
            rows = session.scalars(query.order_by(CallRow.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    def ended_unnoticed(
        self, *, causes: Collection[str], since: datetime, limit: int = 100
    ) -> list[CallRecord]:
        """Calls of a known endpoint that ended at or after ``since`` with one of ``causes``
        and whose room was not told yet (oldest first)."""
        with self._db.reading() as session:
            rows = session.scalars(
                select(CallRow)
                .where(
                    CallRow.end_at >= since,
                    CallRow.cause.in_(list(causes)),
                    CallRow.room_notified_at.is_(None),
                    CallRow.endpoint_name != "",
                )
                .order_by(CallRow.end_at, CallRow.id)
                .limit(limit)
            )
            return [_record(r) for r in rows]

    def claim_notice(self, record_id: int, *, now: datetime) -> bool:
        """Mark that the room of a call is being told how it ended; False when another
        process did first (several workers share the database: one tells the room)."""
        with self._db.transaction() as session:
            result = session.execute(
                update(CallRow)
                .where(CallRow.id == record_id, CallRow.room_notified_at.is_(None))
                .values(room_notified_at=now)
            )
            return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    def purge(self, *, before: datetime) -> int:
        """Delete records that ended before ``before`` (and ones never ended that started
        before it: a gateway stopped mid-call); return how many."""
        with self._db.transaction() as session:
            result = session.execute(
                delete(CallRow).where(
                    or_(
                        CallRow.end_at < before,
                        and_(CallRow.end_at.is_(None), CallRow.invite_at < before),
                    )
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def live(self) -> list[CallRecord]:
        """Calls without an end time, grouped by conference (then oldest first)."""
        with self._db.reading() as session:
            rows = session.scalars(
                select(CallRow)
                .where(CallRow.end_at.is_(None))
                .order_by(CallRow.conference, CallRow.invite_at, CallRow.id)
            )
            return [_record(r) for r in rows]
