"""Gateway call status over HTTP (``/api/v1/calls/live``, ``/api/v1/calls``): admin only, JSON
and CSV, bounded pages, the same records as ``otj calls``; against the real app and store."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from otj.api.app import create_app
from otj.cli import main
from otj.model import Endpoint
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.storehelp import configure

ROOMS = (
    Endpoint(name="Oslo Fjord", group="Rooms", room_resource_email="fjord@rooms.example.com"),
    Endpoint(name="Bergen Bay", group="Rooms", room_resource_email="bay@rooms.example.com"),
)


@pytest.fixture
def client(db: Database, clock: FakeClock) -> TestClient:
    return TestClient(create_app(db, clock=clock.now))


@pytest.fixture
def admin(db: Database, clock: FakeClock) -> dict[str, str]:
    token, _ = db.tokens.create("admin", "ops", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def calls(db: Database, clock: FakeClock) -> dict[str, int]:
    """Five calls: two live into one meeting, one live into another, two ended."""
    configure(db, ROOMS)
    now = clock.now()
    ids: dict[str, int] = {}

    def start(name: str, room: str, code: str, minutes: int) -> int:
        record = db.calls.start(
            call_id=f"{name}@10.0.0.1",
            direction="inbound",
            caller_uri=f"sip:{name}@rooms.example.com",
            invite_at=now - timedelta(minutes=minutes),
            endpoint_name=room,
            caller_name=room,
            dialled_alias=f"{code}@google.pexip.me",
            routed_alias=f"{code}@google.pexip.me",
            conference=code,
            rule="SIP Guest Join",
        )
        ids[name] = record.id
        return record.id

    db.calls.update(
        start("fjord-old", "Oslo Fjord", "abc-defg-hij", 90),
        answer_at=now - timedelta(minutes=89),
        end_at=now - timedelta(minutes=60),
        final_code=200,
        cause="completed",
    )
    db.calls.finish(
        start("bay-lobby", "Bergen Bay", "abc-defg-hij", 30),
        end_at=now - timedelta(minutes=29),
        cause="call_rejected",
        final_code=480,
        detail="480 Call rejected",
    )
    db.calls.update(
        start("fjord-now", "Oslo Fjord", "abc-defg-hij", 5), answer_at=now - timedelta(minutes=4)
    )
    db.calls.update(start("bay-now", "Bergen Bay", "abc-defg-hij", 2), ringing_at=now)
    start("=cmd|' /C calc'!A0", "", "xyz-abcd-efg", 1)  # a caller name a spreadsheet would run
    return ids


PATHS = ("/api/v1/calls", "/api/v1/calls/live", "/api/v1/calls?format=csv")


def test_every_route_needs_an_admin_token(
    client: TestClient, db: Database, clock: FakeClock, calls: dict[str, int]
) -> None:
    endpoint, _ = db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="Oslo Fjord")
    for path in PATHS:
        for headers in ({}, {"Authorization": "Bearer otj_nope"}, {"Authorization": endpoint}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "abc-defg-hij" not in response.text
    # bad parameters are not even looked at before the token
    assert client.get("/api/v1/calls?limit=0").status_code == 401


def test_live_calls_are_grouped_by_meeting_with_room_start_and_state(
    client: TestClient, admin: dict[str, str], calls: dict[str, int], clock: FakeClock
) -> None:
    body = client.get("/api/v1/calls/live", headers=admin).json()
    assert body["total"] == 3
    groups = {g["conference"]: g["calls"] for g in body["conferences"]}
    assert list(groups) == ["abc-defg-hij", "xyz-abcd-efg"]
    meet = groups["abc-defg-hij"]
    assert [(c["room"], c["state"]) for c in meet] == [
        ("Oslo Fjord", "in call"),
        ("Bergen Bay", "ringing"),
    ]
    started = (clock.now() - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert meet[0]["invite_at"] == started
    assert meet[0]["duration_seconds"] == 240
    assert meet[1]["duration_seconds"] is None
    assert groups["xyz-abcd-efg"][0]["state"] == "setting up"


def test_records_with_cause_and_duration_filtered_by_time_and_room(
    client: TestClient, admin: dict[str, str], calls: dict[str, int], clock: FakeClock
) -> None:
    everything = client.get("/api/v1/calls", headers=admin).json()
    assert [c["id"] for c in everything["calls"]] == sorted(calls.values(), reverse=True)
    assert everything["next_cursor"] is None
    old = next(c for c in everything["calls"] if c["id"] == calls["fjord-old"])
    assert (old["cause"], old["final_code"], old["duration_seconds"]) == ("completed", 200, 1740)
    since = (clock.now() - timedelta(minutes=45)).isoformat()
    recent = client.get("/api/v1/calls", params={"since": since}, headers=admin).json()
    assert {c["id"] for c in recent["calls"]} == {
        calls["bay-lobby"],
        calls["fjord-now"],
        calls["bay-now"],
        calls["=cmd|' /C calc'!A0"],
    }
    bare = since.removesuffix("+00:00")  # a time without an offset is UTC
    assert client.get("/api/v1/calls", params={"since": bare}, headers=admin).json() == recent
    by_email = client.get(
        "/api/v1/calls", params={"room": "bay@rooms.example.com", "since": since}, headers=admin
    ).json()["calls"]
    assert [(c["room"], c["cause"]) for c in by_email] == [
        ("Bergen Bay", ""),
        ("Bergen Bay", "call_rejected"),
    ]
    by_name = client.get("/api/v1/calls", params={"room": "Oslo Fjord"}, headers=admin).json()
    assert [c["id"] for c in by_name["calls"]] == [calls["fjord-now"], calls["fjord-old"]]
    until = client.get(
        "/api/v1/calls", params={"until": since, "room": "Oslo Fjord"}, headers=admin
    ).json()
    assert [c["id"] for c in until["calls"]] == [calls["fjord-old"]]


def test_pages_are_bounded_and_continue_with_the_cursor(
    client: TestClient, admin: dict[str, str], calls: dict[str, int]
) -> None:
    seen: list[int] = []
    url = "/api/v1/calls?limit=2"
    pages = 0
    while url:
        response = client.get(url, headers=admin)
        assert response.status_code == 200
        page = response.json()
        assert len(page["calls"]) <= 2
        seen += [c["id"] for c in page["calls"]]
        pages += 1
        link = response.headers.get("link", "")
        if page["next_cursor"] is None:
            assert not link
            break
        assert link == f'</api/v1/calls?limit=2&cursor={page["next_cursor"]}>; rel="next"'
        url = link[1 : link.index(">")]
    assert pages == 3
    assert seen == sorted(calls.values(), reverse=True)
    for bad in (
        "limit=0",
        "limit=1001",
        "cursor=0",
        f"cursor={2**63}",
        "since=yesterday",
        "since=0001-01-01T00:00:00%2B01:00",  # before year 1 in UTC
        "until=9999-12-31T23:59:59-14:00",
        "room=" + "x" * 321,
        "format=xml",
    ):
        response = client.get(f"/api/v1/calls?{bad}", headers=admin)
        assert response.status_code == 422, bad


def test_csv_export_by_accept_header_or_format(
    client: TestClient, admin: dict[str, str], calls: dict[str, int]
) -> None:
    by_format = client.get("/api/v1/calls?format=csv", headers=admin)
    by_accept = client.get("/api/v1/calls", headers={**admin, "Accept": "text/csv"})
    assert by_format.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_format.text == by_accept.text
    assert by_format.text.count("\r\n") == 6  # a header and five calls (RFC 4180 line ends)
    rows = list(csv.DictReader(io.StringIO(by_format.text)))
    assert [int(r["id"]) for r in rows] == sorted(calls.values(), reverse=True)
    rejected = next(r for r in rows if r["cause"] == "call_rejected")
    assert (rejected["room"], rejected["final_code"], rejected["detail"]) == (
        "Bergen Bay",
        "480",
        "480 Call rejected",
    )
    forged = next(r for r in rows if r["call_id"].startswith("'="))
    assert forged["caller_uri"] == "sip:=cmd|' /C calc'!A0@rooms.example.com"
    assert forged["call_id"] == "'=cmd|' /C calc'!A0@10.0.0.1"  # never a formula
    live = client.get("/api/v1/calls/live?format=csv", headers=admin).text
    assert len(list(csv.DictReader(io.StringIO(live)))) == 3
    assert client.get("/api/v1/calls?format=json", headers={**admin, "Accept": "text/csv"}).json()


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    listing = paths["/api/v1/calls"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "since",
        "until",
        "room",
        "limit",
        "cursor",
        "format",
    }
    assert set(listing["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CallPage"
    }
    assert listing["security"] == [{"AdminToken": []}]
    live = paths["/api/v1/calls/live"]["get"]
    assert live["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LiveOut"
    }
    assert "401" in live["responses"]


def test_the_cli_prints_the_same_records(
    db: Database,
    calls: dict[str, int],
    admin: dict[str, str],
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = ["--database", db.url]
    assert main(["calls", *url, "--json", "--room", "bay@rooms.example.com"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["live"]["total"] == 3
    assert [c["id"] for c in printed["recent"]] == [calls["bay-now"], calls["bay-lobby"]]
    api = client.get("/api/v1/calls?room=bay@rooms.example.com", headers=admin).json()
    assert [c["cause"] for c in printed["recent"]] == [c["cause"] for c in api["calls"]]
    assert main(["calls", *url, "--csv", "--limit", "2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["id"]) for r in rows] == sorted(calls.values(), reverse=True)[:2]
    assert main(["calls", *url, "--since", "2999-01-01T00:00:00"]) == 0
    assert "Recent calls" not in capsys.readouterr().out


def test_generated_requests_get_documented_answers(
    db: Database, clock: FakeClock, calls: dict[str, int], admin: dict[str, str]
) -> None:
    """schemathesis: generated queries against uvicorn, every answer as documented."""
    import schemathesis

    from otj.api.app import create_app as make_app
    from tests.integration.delivery import test_openapi
    from tests.integration.delivery.served import serve

    with serve(make_app(db, clock=clock.now)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [
            op
            for op in (result.ok() for result in schema.get_all_operations())  # type: ignore[union-attr]
            if op.path.startswith("/api/v1/calls")
        ]
        assert {op.path for op in operations} == {"/api/v1/calls", "/api/v1/calls/live"}
        test_openapi.STATUSES.clear()
        for operation in operations:
            test_openapi.check_operation(operation, url, admin)
        assert set(test_openapi.STATUSES) == {200}  # the 422s: test_pages_are_bounded…
        assert len(test_openapi.STATUSES) >= 20
