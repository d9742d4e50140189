"""Per-endpoint delivery state for the delivery engine (``otj.delivery``)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from otj.store.tables.configuration import EndpointRow
from otj.store.tables.delivery import EndpointDeliveryRow
from otj.store.values import DeliveryState

if TYPE_CHECKING:
    from otj.store.db import Database

_FIELDS = tuple(f.name for f in fields(DeliveryState))


def _state(row: EndpointDeliveryRow) -> DeliveryState:
    return DeliveryState(**{name: getattr(row, name) for name in _FIELDS})


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
        columns = [EndpointDeliveryRow.__table__.c[name] for name in _FIELDS]
        with self._db.reading() as session:  # plain rows: thousands of endpoints at once
            rows = session.execute(select(*columns).order_by(EndpointDeliveryRow.endpoint))
            return [DeliveryState(**row._asdict()) for row in rows]

    def update(self, endpoint: str, *, now: datetime, **changes: Any) -> DeliveryState:
        """Set fields of an endpoint's state (``consecutive_failures`` etc.); creates the row."""
        unknown = set(changes) - set(_FIELDS[1:])
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
        allowed = set(_FIELDS[1:])
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

    def record_success(
        self, endpoint: str, *, now: datetime, payload_hash: str, result: str = "pushed"
    ) -> DeliveryState:
        """A push (or an idempotent no-op) that worked."""
        return self.update(
            endpoint,
            now=now,
            last_payload_hash=payload_hash,
            last_push_at=now,
            last_result=result,
            last_error="",
            consecutive_failures=0,
            sync_required=False,
        )

    def record_failure(self, endpoint: str, *, now: datetime, error: str) -> DeliveryState:
        """A push that failed; the failure count goes up and the error is kept."""
        current = self.get(endpoint)
        return self.update(
            endpoint,
            now=now,
            last_result="failed",
            last_error=error[:4000],
            consecutive_failures=current.consecutive_failures + 1,
        )

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
