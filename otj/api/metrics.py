"""``/metrics`` (Prometheus text format) and ``/api/v1/ready`` (readiness).

``/metrics`` is read from the store at scrape time (``otj.store.stats``), so the numbers are
those of every process sharing the database (``otj worker``, ``otj gateway``, ``otj serve``),
plus this process's own CPU and memory. It needs an admin token, as Prometheus sends it with
``authorization: {type: Bearer, credentials_file: …}``; its labels never name a room, a
meeting or a caller. ``/api/v1/ready`` is open: 200 when the database answers and its schema
is this version's newest migration, else 503 with the reason (``/api/v1/health`` is liveness
and reads nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

import otj
from guestjoin.licences import PER_CALL
from otj.api.auth import admin_auth
from otj.store.stats import StoreStats, read_stats

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)


def families(stats: StoreStats) -> Iterator[Metric]:
    """The metric families of one store reading (pure)."""
    yield from _calendar_families(stats)
    yield from _delivery_families(stats)
    yield from _gateway_families(stats)


def _calendar_families(stats: StoreStats) -> Iterator[Metric]:
    """Polls, rooms by outcome, requests and quotas, by integration."""
    polls = CounterMetricFamily(
        "otj_polls", "Calendar polls of the integration's rooms", labels=["integration", "type"]
    )
    rooms = GaugeMetricFamily(
        "otj_rooms",
        "Rooms by how their last poll ended (ok, never, or the error kind)",
        labels=["integration", "outcome"],
    )
    requests = CounterMetricFamily(
        "otj_calendar_requests", "Requests made to the calendar service", labels=["integration"]
    )
    today = GaugeMetricFamily(
        "otj_calendar_requests_today",
        "Requests made to the calendar service this UTC day (the quota's unit)",
        labels=["integration"],
    )
    quota = GaugeMetricFamily(
        "otj_calendar_daily_quota", "The integration's daily request quota", labels=["integration"]
    )
    used = GaugeMetricFamily(
        "otj_calendar_quota_used_ratio",
        "Share of the daily request quota used today",
        labels=["integration"],
    )
    for item in stats.integrations:
        name = item.name or "(none)"
        polls.add_metric([name, item.kind], item.polls)
        for outcome, count in item.rooms_by_outcome:
            rooms.add_metric([name, outcome], count)
        requests.add_metric([name], item.requests_total)
        today.add_metric([name], item.requests_today)
        if item.daily_quota:
            quota.add_metric([name], item.daily_quota)
            used.add_metric([name], item.requests_today / item.daily_quota)
    yield from (polls, rooms, requests, today, quota, used)


def _delivery_families(stats: StoreStats) -> Iterator[Metric]:
    """Endpoint deliveries, rooms pending delivery and stored meetings."""
    deliveries = GaugeMetricFamily(
        "otj_endpoint_deliveries",
        "Endpoints by the result of their last meeting-list delivery",
        labels=["result"],
    )
    for result, count in stats.deliveries_by_result:
        deliveries.add_metric([result], count)
    yield deliveries
    yield GaugeMetricFamily(
        "otj_endpoints_delivery_failing",
        "Endpoints whose last delivery failed",
        value=stats.endpoints_failing,
    )
    yield GaugeMetricFamily(
        "otj_rooms_delivery_pending",
        "Rooms whose changed meetings are not delivered yet",
        value=stats.rooms_delivery_pending,
    )
    meetings = GaugeMetricFamily(
        "otj_meetings", "Stored meetings, listed on endpoints or not", labels=["listed"]
    )
    meetings.add_metric(["true"], stats.meetings_listed)
    meetings.add_metric(["false"], stats.meetings_unlisted)
    yield meetings


def _gateway_families(stats: StoreStats) -> Iterator[Metric]:
    """Gateway calls and licences, and active alarms."""
    calls = CounterMetricFamily(
        "otj_calls", "Ended gateway calls by disconnect cause", labels=["cause"]
    )
    for cause, count in stats.calls_by_cause:
        calls.add_metric([cause], count)
    yield calls
    yield GaugeMetricFamily("otj_calls_live", "Gateway calls in progress", value=stats.calls_live)
    yield GaugeMetricFamily(
        "otj_call_licences_in_use",
        "Call licences held by calls in progress",
        value=stats.calls_live * PER_CALL,
    )
    yield GaugeMetricFamily(
        "otj_call_licences", "Call licences configured", value=stats.licences_total
    )
    alarms = GaugeMetricFamily(
        "otj_alarms_active", "Active alarms by kind and severity", labels=["kind", "severity"]
    )
    for kind, severity, count in stats.alarms_by_kind:
        alarms.add_metric([kind, severity], count)
    yield alarms


class StoreCollector(Collector):
    """Reads the store at every scrape; ``otj_store_up`` is 0 when that failed."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("otj_info", "This otj", labels=["version"])
        info.add_metric([otj.__version__], 1)
        yield info
        try:
            stats = read_stats(self.db, today=self.clock().date())
        except SQLAlchemyError as exc:
            log.warning("metrics: the store could not be read: %s", exc)
            yield GaugeMetricFamily("otj_store_up", "The store could be read", value=0)
            return
        yield GaugeMetricFamily("otj_store_up", "The store could be read", value=1)
        yield from families(stats)


class ReadyOut(BaseModel):
    """Readiness."""

    status: str
    reason: str = ""
    schema_revision: str | None = None


@cache
def _head_revision() -> str:
    from otj.store.migrate import head_revision

    return head_revision()


def readiness(db: Database) -> tuple[bool, ReadyOut]:
    """Whether the database answers and is at this version's newest migration."""
    from otj.store.migrate import current_revision

    head = _head_revision()
    try:
        current = current_revision(db.engine)
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return False, ReadyOut(status="unavailable", reason="the database does not answer")
    if current != head:
        reason = (
            f"the database schema is at {current or 'no revision'}, this version needs {head}: "
            "run `otj db upgrade`"
        )
        return False, ReadyOut(status="unavailable", reason=reason, schema_revision=current)
    return True, ReadyOut(status="ready", schema_revision=current)


def router(db: Database, *, clock: Callable[[], datetime], **_options: Any) -> APIRouter:
    """``GET /metrics`` (admin token) and ``GET /api/v1/ready``."""
    api = APIRouter(tags=["status"])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db, clock))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)

    @api.get(
        "/metrics",
        summary="Prometheus metrics (text exposition format)",
        response_class=Response,
        dependencies=[Depends(admin_auth(db, clock))],
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            401: {"description": "Missing or invalid admin token"},
        },
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @api.get(
        "/api/v1/ready",
        response_model=ReadyOut,
        summary="Readiness: the database answers and its schema is current",
        responses={503: {"model": ReadyOut, "description": "Not ready, with the reason"}},
    )
    def ready() -> JSONResponse:
        ok, out = readiness(db)
        return JSONResponse(
            out.model_dump(), status_code=200 if ok else 503, headers={"Cache-Control": "no-store"}
        )

    return api
