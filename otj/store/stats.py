"""Counts over the whole store for ``/metrics``: read at scrape time, so every process counts.

One read per table, grouped in SQL (rooms are read by column, without their sync state, and
assigned to integrations through the configuration); nothing here names a room, a meeting or
a caller (the labels are integration names, outcomes, causes and alarm kinds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from otj.store.tables.calendars import IntegrationUsageRow, MeetingRow, RoomRow
from otj.store.tables.console import AlarmRow
from otj.store.tables.delivery import EndpointDeliveryRow
from otj.store.tables.gateway import CallRow

if TYPE_CHECKING:
    from otj.store.db import Database


@dataclass(frozen=True, kw_only=True, slots=True)
class IntegrationStats:
    """One calendar integration: its rooms' polls and its request use."""

    name: str
    kind: str
    polls: int
    rooms_by_outcome: tuple[tuple[str, int], ...]
    requests_total: int
    requests_today: int
    daily_quota: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreStats:
    """Everything ``/metrics`` reports."""

    integrations: tuple[IntegrationStats, ...]
    deliveries_by_result: tuple[tuple[str, int], ...]
    endpoints_failing: int
    rooms_delivery_pending: int
    meetings_listed: int
    meetings_unlisted: int
    calls_by_cause: tuple[tuple[str, int], ...]
    calls_live: int
    licences_total: int
    alarms_by_kind: tuple[tuple[str, str, int], ...]


def room_outcome(consecutive_failures: int, last_error_kind: str, polled: bool) -> str:
    """How a room's last poll ended: ``ok``, ``never`` or the error kind (``auth``, …)."""
    if not polled:
        return "never"
    if consecutive_failures == 0:
        return "ok"
    return last_error_kind or "error"


def read_stats(db: Database, *, today: date) -> StoreStats:
    """Read the counts (a handful of grouped queries)."""
    settings = {i.name: i for i in db.config.snapshot(secrets="sealed").integrations}
    integration_of = {
        a.room: a.integration.name if a.integration else ""
        for a in db.config.room_assignments(secrets="sealed")
    }
    with db.reading() as session:
        polls, outcomes, pending = _room_counts(session, integration_of)
        usage_total, usage_today = _usage_counts(session, today)
        deliveries_by_result, failing = _delivery_counts(session)
        listed = dict(
            session.execute(
                select(MeetingRow.listed, func.count()).group_by(MeetingRow.listed)
            ).all()
        )
        calls_by_cause, live = _call_counts(session)
        alarms_by_kind = _active_alarms(session)
    names = sorted(set(settings) | set(polls) | set(usage_total))
    integrations = tuple(
        IntegrationStats(
            name=name,
            kind=settings[name].type if name in settings else "",
            polls=polls.get(name, 0),
            rooms_by_outcome=tuple(sorted((o, n) for (i, o), n in outcomes.items() if i == name)),
            requests_total=int(usage_total.get(name) or 0),
            requests_today=int(usage_today.get(name) or 0),
            daily_quota=settings[name].daily_request_quota if name in settings else None,
        )
        for name in names
    )
    return StoreStats(
        integrations=integrations,
        deliveries_by_result=deliveries_by_result,
        endpoints_failing=failing,
        rooms_delivery_pending=pending,
        meetings_listed=int(listed.get(True, 0)),
        meetings_unlisted=int(listed.get(False, 0)),
        calls_by_cause=calls_by_cause,
        calls_live=live,
        licences_total=db.config.gateway_settings().call_licenses,
        alarms_by_kind=alarms_by_kind,
    )


def _room_counts(
    session: Session, integration_of: dict[str, str]
) -> tuple[Counter[str], Counter[tuple[str, str]], int]:
    """Polls by integration, rooms by (integration, outcome), and rooms pending delivery."""
    polls: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    pending = 0
    rooms = session.execute(
        select(
            RoomRow.room,
            RoomRow.polls,
            RoomRow.consecutive_failures,
            RoomRow.last_error_kind,
            RoomRow.last_poll_at,
            RoomRow.delivery_pending,
        )
    ).all()
    for room, room_polls, failures, kind, last_poll_at, delivery_pending in rooms:
        integration = integration_of.get(room, "")
        polls[integration] += room_polls
        outcomes[(integration, room_outcome(failures, kind, last_poll_at is not None))] += 1
        pending += bool(delivery_pending)
    return polls, outcomes, pending


def _usage_counts(session: Session, today: date) -> tuple[dict[str, Any], dict[str, Any]]:
    """Requests by integration: in total, and today."""
    usage_total = dict(
        session.execute(
            select(
                IntegrationUsageRow.integration, func.sum(IntegrationUsageRow.requests)
            ).group_by(IntegrationUsageRow.integration)
        ).all()
    )
    usage_today = dict(
        session.execute(
            select(IntegrationUsageRow.integration, IntegrationUsageRow.requests).where(
                IntegrationUsageRow.day == today
            )
        ).all()
    )
    return usage_total, usage_today


def _delivery_counts(session: Session) -> tuple[tuple[tuple[str, int], ...], int]:
    """Endpoints by their last delivery result, and how many are failing."""
    deliveries = session.execute(
        select(EndpointDeliveryRow.last_result, func.count()).group_by(
            EndpointDeliveryRow.last_result
        )
    ).all()
    failing = session.scalar(
        select(func.count()).where(EndpointDeliveryRow.consecutive_failures > 0)
    )
    return tuple(sorted((r or "none", n) for r, n in deliveries)), int(failing or 0)


def _call_counts(session: Session) -> tuple[tuple[tuple[str, int], ...], int]:
    """Ended calls by cause, and calls in progress."""
    calls = session.execute(
        select(CallRow.cause, func.count())
        .where(CallRow.end_at.is_not(None))
        .group_by(CallRow.cause)
    ).all()
    live = session.scalar(select(func.count()).where(CallRow.end_at.is_(None)))
    return tuple(sorted((c or "unknown", n) for c, n in calls)), int(live or 0)


def _active_alarms(session: Session) -> tuple[tuple[str, str, int], ...]:
    """Active alarms by kind and severity."""
    alarms = session.execute(
        select(AlarmRow.kind, AlarmRow.severity, func.count())
        .where(AlarmRow.cleared_at.is_(None))
        .group_by(AlarmRow.kind, AlarmRow.severity)
    ).all()
    return tuple(sorted((k, s, n) for k, s, n in alarms))
