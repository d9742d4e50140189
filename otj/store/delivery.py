"""Per-endpoint delivery state for the delivery engine (``otj.delivery``).

The value is :class:`otj.delivery.engine.plan.DeliveryState`; its row keeps the columns of the
first schema (``last_payload_hash`` for ``pushed_digest``, ``verified_at`` for
``contacted_at``…), so this module is where one is turned into the other.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from otj.delivery.engine.plan import DeliveryState, backoff
from otj.store.tables.configuration import EndpointRow
from otj.store.tables.delivery import EndpointDeliveryRow

if TYPE_CHECKING:
    from otj.store.db import Database

#: The columns that hold an endpoint's state (besides ``endpoint``); ``update`` takes these.
_COLUMNS = (
    "last_payload_hash",
    "last_push_at",
    "last_result",
    "last_error",
    "consecutive_failures",
    "sync_required",
    "verified_at",
    "mismatch_detail",
    "software_version",
    "updated_at",
    "feedback_registered",
    "last_read_at",
)
#: Longest error text kept.
ERROR_TEXT = 4000


def _state(row: Any) -> DeliveryState:
    """The state in a row (an ORM row or a plain row of ``_COLUMNS``)."""
    failures: int = row.consecutive_failures
    retry_at = (
        row.updated_at + backoff(failures)
        if failures and row.updated_at and not row.sync_required
        else None
    )
    return DeliveryState(
        endpoint=row.endpoint,
        pushed_digest=row.last_payload_hash or None,
        pushed_at=row.last_push_at,
        contacted_at=row.verified_at,
        sync_required=row.sync_required,
        failures=failures,
        error_kind=row.last_result if failures else "",
        last_error=row.last_error,
        retry_at=retry_at,
        mismatch=row.mismatch_detail,
        software_version=row.software_version,
        feedback_registered=row.feedback_registered,
        last_result=row.last_result,
        last_read_at=row.last_read_at,
    )


def _columns(state: DeliveryState) -> dict[str, Any]:
    """The columns a state is written to (``last_read_at`` is written by the pull side)."""
    return {
        "last_payload_hash": state.pushed_digest or "",
        "last_push_at": state.pushed_at,
        "verified_at": state.contacted_at,
        "sync_required": state.sync_required,
        "consecutive_failures": state.failures,
        "last_error": state.last_error[:ERROR_TEXT],
        "mismatch_detail": state.mismatch,
        "software_version": state.software_version,
        "feedback_registered": state.feedback_registered,
    }


def changed_columns(before: DeliveryState, after: DeliveryState) -> dict[str, Any]:
    """The columns to write for a state that went from ``before`` to ``after``: none when
    nothing but ``last_result`` changed, else those that differ plus ``last_result``."""
    old = _columns(before)
    changes = {k: v for k, v in _columns(after).items() if old[k] != v}
    if changes:
        changes["last_result"] = after.last_result
    return changes


def _write(
    session: Session, endpoint: str, changes: Mapping[str, Any], now: datetime
) -> EndpointDeliveryRow:
    """Set fields of an endpoint's row, locked for update and created empty when missing."""
    row = session.get(EndpointDeliveryRow, endpoint, with_for_update=True)
    if row is None:
        row = EndpointDeliveryRow(
            endpoint=endpoint,
            last_payload_hash="",
            last_result="",
            last_error="",
            consecutive_failures=0,
            sync_required=False,
            mismatch_detail="",
            software_version="",
        )
        session.add(row)
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = now
    return row


class DeliveryStateRepository:
    """Read and update what was delivered to each endpoint."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, endpoint: str) -> DeliveryState:
        """An endpoint's state (an empty state when nothing was delivered yet)."""
        with self._db.reading() as session:
            row = session.get(EndpointDeliveryRow, endpoint)
            return _state(row) if row else DeliveryState(endpoint=endpoint)

    def all(self) -> list[DeliveryState]:
        """Every endpoint's state, by endpoint name."""
        table = EndpointDeliveryRow.__table__
        columns = [table.c[name] for name in ("endpoint", *_COLUMNS)]
        with self._db.reading() as session:  # plain rows: thousands of endpoints at once
            rows = session.execute(select(*columns).order_by(EndpointDeliveryRow.endpoint))
            return [_state(row) for row in rows]

    def save_many(
        self, states: Mapping[str, tuple[DeliveryState, DeliveryState]], *, now: datetime
    ) -> int:
        """Write the states that changed (``{endpoint: (before, after)}``, as the delivery
        plan left them) in one transaction; returns how many were written."""
        changes = {}
        for endpoint, (before, after) in states.items():
            columns = changed_columns(before, after)
            if columns:
                changes[endpoint] = columns
        return self.update_many(changes, now=now) if changes else 0

    def update(self, endpoint: str, *, now: datetime, **changes: Any) -> DeliveryState:
        """Set fields of an endpoint's state (``consecutive_failures`` etc.); creates the row."""
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise TypeError(f"unknown delivery state fields: {sorted(unknown)}")
        with self._db.transaction() as session:
            if session.get(EndpointRow, endpoint) is None:
                raise KeyError(f"no endpoint named {endpoint!r}")
            row = _write(session, endpoint, changes, now)
            session.flush()
            return _state(row)

    def update_many(self, changes: Mapping[str, Mapping[str, Any]], *, now: datetime) -> int:
        """Apply ``update`` to many endpoints in one transaction (endpoints that no longer
        exist are skipped); returns how many were written."""
        allowed = set(_COLUMNS)
        for fields_ in changes.values():
            unknown = set(fields_) - allowed
            if unknown:
                raise TypeError(f"unknown delivery state fields: {sorted(unknown)}")
        written = 0
        with self._db.transaction() as session:
            for endpoint, fields_ in changes.items():
                if session.get(EndpointRow, endpoint) is None:
                    continue
                _write(session, endpoint, fields_, now)
                written += 1
        return written

    def feedback_secret(self, endpoint: str, *, now: datetime) -> str:
        """The secret in the endpoint's HttpFeedback URL (created and sealed on first use)."""
        with self._db.reading() as session:
            exists = session.get(EndpointDeliveryRow, endpoint) is not None
        if not exists:
            self.update(endpoint, now=now)  # create the row
        with self._db.transaction() as session:
            row = session.get(EndpointDeliveryRow, endpoint, with_for_update=True)
            assert row is not None
            if row.feedback_secret:
                return self._db.box.open(row.feedback_secret).reveal()
            value = secrets.token_urlsafe(24)
            row.feedback_secret = self._db.box.seal(value)
            return value

    def check_feedback_secret(self, endpoint: str, candidate: str) -> bool:
        """Whether ``candidate`` is the endpoint's HttpFeedback secret (constant-time)."""
        with self._db.reading() as session:
            row = session.get(EndpointDeliveryRow, endpoint)
            if row is None or not row.feedback_secret:
                return False
            expected = self._db.box.open(row.feedback_secret).reveal()
        return hmac.compare_digest(expected.encode(), candidate.encode())
