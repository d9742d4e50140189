"""The HTTP API skeleton: admin authentication, status routes, OpenAPI, routers from a list."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from otj.api.app import ROUTERS, create_app
from otj.store import Database
from otj.worker.cycle import run_cycle
from otj.worker.plans import PlanBook
from otj.worker.poller import PollerSettings, RoomPoller
from otj.worker.setup import registry_source_factory
from tests.conftest import FakeClock
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.service.support import (
    apply,
    config_text,
    google_integration,
    meet_event,
    processor_factory,
    room_name,
)


@pytest.fixture
def polled(db: Database, clock: FakeClock):  # type: ignore[no-untyped-def]
    with GoogleCalendarFake(now=clock.now) as fake:
        room = room_name(1)
        fake.put_event(room, meet_event(clock.now() + timedelta(hours=2), event_id="e1"))
        fake.put_event(
            room,
            {
                **meet_event(clock.now() + timedelta(hours=4), event_id="e2"),
                "conferenceData": None,
                "description": "Lunch",
                "summary": "Lunch",
            },
        )
        apply(db, config_text(google_integration(fake), [room]))
        poller = RoomPoller(
            db,
            PlanBook(
                db,
                source_factory=registry_source_factory(timeout=5),
                processor_factory=processor_factory,
            ),
            settings=PollerSettings(owner="api-test"),
            clock=clock,
            rng=random.Random(1),
        )
        assert run_cycle(poller).ok
        yield room


@pytest.fixture
def client(db: Database, clock: FakeClock) -> TestClient:
    return TestClient(create_app(db, clock=clock.now))


@pytest.fixture
def admin(db: Database, clock: FakeClock) -> dict[str, str]:
    token, _ = db.tokens.create("admin", "ops", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def test_status_needs_an_admin_token(
    client: TestClient, db: Database, clock: FakeClock, polled: str
) -> None:
    assert client.get("/api/v1/status/rooms").status_code == 401
    bad = client.get("/api/v1/status/rooms", headers={"Authorization": "Bearer otj_nope"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith("Bearer")
    endpoint_token, _ = db.tokens.create(
        "endpoint", "room0001", now=clock.now(), endpoint="room0001"
    )
    assert (
        client.get(
            "/api/v1/status/rooms", headers={"Authorization": f"Bearer {endpoint_token}"}
        ).status_code
        == 401
    )
    assert client.get("/api/v1/health").json()["status"] == "ok"


def test_rooms_and_meetings(client: TestClient, admin: dict[str, str], polled: str) -> None:
    rooms = client.get("/api/v1/status/rooms", headers=admin).json()
    assert [r["room"] for r in rooms] == [polled]
    assert rooms[0]["endpoints"] == ["room0001"]
    assert rooms[0]["last_error"] == ""
    assert rooms[0]["meetings"] >= 1
    meetings = client.get(f"/api/v1/status/rooms/{polled}/meetings", headers=admin).json()
    join = [m for m in meetings if m["alias"]]
    assert join[0]["alias"] == "abc-defg-hij@google.pexip.me"
    assert join[0]["trace"] is None
    traced = client.get(
        f"/api/v1/status/rooms/{polled}/meetings?trace=true&all=true", headers=admin
    ).json()
    assert all(isinstance(m["trace"], list) for m in traced)
    assert len(traced) >= len(meetings)
    missing = client.get("/api/v1/status/rooms/nobody@example.com/meetings", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_openapi_lists_every_router_and_the_admin_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/api/v1/status/rooms",
        "/api/v1/status/rooms/{room}/meetings",
        "/api/v1/rooms/{room}/meetings",
    } <= paths
    assert "AdminToken" in spec["components"]["securitySchemes"]
    assert ROUTERS[0] == "otj.api.status"


def test_calls_show_the_virtual_reception_fields(
    client: TestClient, admin: dict[str, str], db: Database, clock: FakeClock
) -> None:
    assert client.get("/api/v1/status/calls").status_code == 401
    record = db.calls.start(
        call_id="reception-1",
        direction="inbound",
        caller_uri="sip:room@example.com",
        invite_at=clock.now(),
        dialled_alias="join@vc.example.com",
        reception="Join",
    )
    live = client.get("/api/v1/status/calls?live=true", headers=admin).json()
    assert [(c["call_id"], c["reception"], c["cause"]) for c in live] == [
        ("reception-1", "Join", "")
    ]
    db.calls.update(record.id, digits_outcome="id", transfer_method="refer")
    db.calls.finish(record.id, end_at=clock.now(), cause="transferred", final_code=200)
    assert client.get("/api/v1/status/calls?live=true", headers=admin).json() == []
    [call] = client.get("/api/v1/status/calls", headers=admin).json()
    assert (call["digits_outcome"], call["transfer_method"], call["cause"]) == (
        "id",
        "refer",
        "transferred",
    )
