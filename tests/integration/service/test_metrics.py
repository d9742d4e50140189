"""``/metrics`` over real HTTP, parsed by prometheus_client, and the readiness check."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from otj.api.app import create_app
from otj.commands.serve import uvicorn_settings
from otj.store import Database, SecretBox
from otj.store.migrate import upgrade
from otj.worker.cycle import run_cycle
from otj.worker.plans import PlanBook
from otj.worker.poller import PollerSettings, RoomPoller
from otj.worker.setup import registry_source_factory
from tests.conftest import FakeClock
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import record_failure, record_push
from tests.integration.service.support import (
    apply,
    config_text,
    google_integration,
    meet_event,
    processor_factory,
    room_name,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, headers: dict[str, str]) -> Samples:
    answer = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


@pytest.fixture
def activity(db: Database, clock: FakeClock) -> None:
    """Two polled rooms (one without a calendar), deliveries, calls and alarms in the store."""
    with GoogleCalendarFake(now=clock.now) as fake:
        rooms = [room_name(1), room_name(2)]
        fake.put_event(rooms[0], meet_event(clock.now() + timedelta(hours=2), event_id="e1"))
        lunch = meet_event(clock.now() + timedelta(hours=4), event_id="e2")
        fake.put_event(
            rooms[0], {**lunch, "conferenceData": None, "summary": "Lunch", "description": "Lunch"}
        )
        apply(db, config_text(google_integration(fake, quota=1000), rooms))
        poller = RoomPoller(
            db,
            PlanBook(
                db,
                source_factory=registry_source_factory(timeout=5),
                processor_factory=processor_factory,
            ),
            settings=PollerSettings(owner="metrics-test"),
            clock=clock,
            rng=random.Random(1),
        )
        report = run_cycle(poller)  # the fake has no calendar for the second room: 404
        assert [r for r, result in report.results.items() if not result.ok] == [rooms[1]]
    now = clock.now()
    record_push(db, "room0001", digest="h", now=now)
    record_failure(db, "room0002", kind="unreachable", message="connection refused", now=now)
    for cause in ("completed", "completed", "no_route"):
        call = db.calls.start(call_id=cause, direction="in", caller_uri="sip:a@b", invite_at=now)
        db.calls.finish(call.id, end_at=now + timedelta(minutes=1), cause=cause)
    db.calls.start(call_id="live", direction="in", caller_uri="sip:c@d", invite_at=now)
    db.alarms.raise_alarm("calendar_auth", rooms[1], "401", now=now)


@pytest.mark.usefixtures("activity")
def test_metrics_report_the_store_in_the_prometheus_format(db: Database, clock: FakeClock) -> None:
    admin, _ = db.tokens.create("admin", "prometheus", now=clock.now())
    with serve(create_app(db, clock=clock.now), **uvicorn_settings()) as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer otj_nope"})
        assert wrong.status_code == 401
        samples = scrape(url, {"Authorization": f"Bearer {admin}"})
    ws = ("integration", "Workspace")
    assert samples[("otj_polls_total", (ws, ("type", "google")))] == 2
    assert samples[("otj_rooms", (ws, ("outcome", "ok")))] == 1
    assert samples[("otj_rooms", (ws, ("outcome", "not_found")))] == 1
    requests = samples[("otj_calendar_requests_total", (ws,))]
    assert requests >= 2
    assert samples[("otj_calendar_requests_today", (ws,))] == requests
    assert samples[("otj_calendar_daily_quota", (ws,))] == 1000
    assert samples[("otj_calendar_quota_used_ratio", (ws,))] == pytest.approx(requests / 1000)
    assert samples[("otj_endpoint_deliveries", (("result", "pushed"),))] == 1
    assert samples[("otj_endpoint_deliveries", (("result", "unreachable"),))] == 1
    assert samples[("otj_endpoints_delivery_failing", ())] == 1
    assert samples[("otj_meetings", (("listed", "true"),))] == 2  # the lunch without a Join
    assert samples[("otj_meetings", (("listed", "false"),))] == 0
    assert samples[("otj_calls_total", (("cause", "completed"),))] == 2
    assert samples[("otj_calls_total", (("cause", "no_route"),))] == 1
    assert samples[("otj_calls_live", ())] == 1
    assert samples[("otj_call_licences_in_use", ())] == 2
    assert samples[("otj_call_licences", ())] == 100
    alarm = (("kind", "calendar_auth"), ("severity", "error"))
    assert samples[("otj_alarms_active", alarm)] == 1
    assert samples[("otj_store_up", ())] == 1
    assert samples[("process_resident_memory_bytes", ())] > 0
    names = " ".join(str(labels) for _, labels in samples)
    assert "room000" not in names, "labels never name a room"


def test_health_and_readiness(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    with serve(create_app(db, clock=clock.now), **uvicorn_settings()) as url:
        assert httpx.get(f"{url}/api/v1/health").json()["status"] == "ok"
        ready = httpx.get(f"{url}/api/v1/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"

    box = SecretBox(key_file=tmp_path / "secret.key", environ={})
    old = Database(f"sqlite:///{tmp_path / 'old.db'}", box=box)
    upgrade(old.engine, "0002")
    gone = Database(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", box=box)
    try:
        for store, reason in (
            (old, "the database schema is at 0002, this version needs"),
            (gone, "the database does not answer"),
        ):
            with serve(create_app(store, clock=clock.now), **uvicorn_settings()) as url:
                assert httpx.get(f"{url}/api/v1/health").status_code == 200
                ready = httpx.get(f"{url}/api/v1/ready")
                assert ready.status_code == 503
                assert reason in ready.json()["reason"]
    finally:
        old.close()
        gone.close()
