"""The pull API's OpenAPI document, checked by schemathesis against the running app (uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from otj.api.app import create_app
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure, store_meetings
from tests.unit.delivery.meetings import meeting

ROOM = "fjord@rooms.example.com"
MINE = ("/api/v1/rooms/", "/api/v1/endpoints/", "/oauth/")


@pytest.fixture
def running(db: Database, clock: FakeClock) -> Iterator[tuple[str, str]]:
    configure(db, [codec_endpoint("fjord", ROOM, port=1)])
    start = clock.now() + timedelta(hours=1)
    store_meetings(
        db,
        ROOM,
        [
            meeting(room=ROOM, start=start, subject="Ünïcode <&> 🎉"),
            meeting(room=ROOM, event_id="b", alias=None, start=start),
        ],
        now=clock.now(),
    )
    token, _ = db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="fjord")
    with serve(create_app(db, clock=clock.now)) as url:
        yield url, token


@pytest.fixture
def api_schema(running: tuple[str, str]) -> schemathesis.BaseSchema:
    url, _ = running
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


EXCLUDED = [
    # random rooms are unknown (404) and random secrets wrong: documented, not "accepted"
    checks.positive_data_acceptance,
    checks.ignored_auth,
    checks.missing_required_header,
]


def test_api_conforms_to_its_schema(
    running: tuple[str, str], api_schema: schemathesis.BaseSchema
) -> None:
    url, token = running
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())  # type: ignore[union-attr]
        if op.path.startswith(MINE)
    ]
    assert {op.path for op in operations} >= {
        "/api/v1/rooms/{room}/meetings",
        "/api/v1/rooms/{room}/meetings.ics",
        "/oauth/token",
        "/api/v1/endpoints/{name}/feedback/{secret}",
    }
    STATUSES.clear()
    for operation in operations:
        headers = {}
        if operation.path.startswith("/api/v1/rooms"):
            headers["Authorization"] = f"Bearer {token}"
        check_operation(operation, url, headers)
    assert len(STATUSES) >= 4 * 10
    assert {400, 404} <= set(STATUSES)


STATUSES: list[int] = []


def call(case: Any, base_url: str, headers: dict[str, str]) -> httpx.Response:
    """Send a generated request with httpx (schemathesis' requests transport does not work
    with the urllib3-future that niquests installs) and validate the answer."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    data = kwargs.pop("data", None)
    if isinstance(data, (bytes, str)):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    kwargs.pop("verify", None)
    kwargs.pop("allow_redirects", None)
    kwargs.pop("timeout", None)
    response = httpx.request(**kwargs, timeout=10)
    case.validate_response(response, excluded_checks=EXCLUDED)
    STATUSES.append(response.status_code)
    return response


def check_operation(operation: Any, base_url: str, headers: dict[str, str]) -> None:
    """Generated requests (valid and invalid) get documented answers."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def conforms(case: Any) -> None:
        call(case, base_url, headers)

    conforms()


def test_the_known_room_is_served_as_documented(
    running: tuple[str, str], api_schema: schemathesis.BaseSchema
) -> None:
    url, token = running
    operation = api_schema["/api/v1/rooms/{room}/meetings"]["GET"]
    case = operation.Case(path_parameters={"room": ROOM})
    response = call(case, url, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "Ünïcode <&> 🎉" in [m["subject"] for m in response.json()]


def test_the_feeds_document_their_header_and_query_parameters(running: tuple[str, str]) -> None:
    url, _ = running
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    for path in ("/api/v1/rooms/{room}/meetings", "/api/v1/rooms/{room}/meetings.ics"):
        parameters = {(p["in"], p["name"]) for p in paths[path]["get"]["parameters"]}
        assert parameters == {
            ("path", "room"),
            ("query", "access_token"),
            ("header", "authorization"),
            ("header", "if-none-match"),
        }
