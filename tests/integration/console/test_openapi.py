"""The configuration API's OpenAPI document, checked by schemathesis against the running app
(uvicorn), as the pull API's is: generated requests, valid and not, get documented answers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis

from otj.api.app import create_app
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.console.helpers import populate
from tests.integration.delivery.served import serve
from tests.integration.delivery.test_openapi import STATUSES, check_operation

MINE = ("/api/v1/config", "/api/v1/audit", "/api/v1/alarms/", "/api/v1/rules/", "/api/v1/route")


@pytest.fixture
def running(db: Database, clock: FakeClock) -> Iterator[tuple[str, str]]:
    populate(db, clock)
    token, _ = db.tokens.create("admin", "schemathesis", now=clock.now())
    with serve(create_app(db, clock=clock.now)) as url:
        yield url, token


def test_configuration_api_conforms_to_its_schema(running: tuple[str, str]) -> None:
    url, token = running
    api_schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())  # type: ignore[union-attr]
        if op.path.startswith(MINE)
    ]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("GET", "/api/v1/config"),
        ("GET", "/api/v1/config/export"),
        ("GET", "/api/v1/config/gateway"),
        ("PUT", "/api/v1/config/gateway"),
        ("GET", "/api/v1/config/{section}"),
        ("POST", "/api/v1/config/{section}"),
        ("GET", "/api/v1/config/{section}/{name}"),
        ("PUT", "/api/v1/config/{section}/{name}"),
        ("DELETE", "/api/v1/config/{section}/{name}"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/audit/{entry}"),
        ("POST", "/api/v1/alarms/{alarm}/acknowledge"),
        ("POST", "/api/v1/rules/preview"),
        ("GET", "/api/v1/route"),
    }
    STATUSES.clear()
    for operation in operations:
        check_operation(operation, url, {"Authorization": f"Bearer {token}"})
    assert len(STATUSES) >= 10 * 10
    assert {200, 404, 422, 428} <= set(STATUSES)
    # the documented refusal without credentials, whatever the body
    assert httpx.get(f"{url}/api/v1/config", timeout=10).status_code == 401
