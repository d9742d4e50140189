"""The home page shows no real room's meetings without an admin token; /docs needs no internet."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from otj.api.app import create_app
from otj.demo import DOMAIN
from otj.model import Endpoint
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.storehelp import configure, store_meetings
from tests.unit.delivery.meetings import meeting

REAL = "board@corp.example.com"
DEMO = f"oslo-fjord@{DOMAIN}"


def pull(name: str, room: str) -> Endpoint:
    return Endpoint(name=name, group="Rooms", room_resource_email=room, type="PULL")


@pytest.fixture
def rooms(db: Database, clock: FakeClock) -> None:
    configure(db, [pull("board", REAL), pull("oslo", DEMO)])
    soon = clock.now() + timedelta(hours=1)
    for room, subject, alias in (
        (REAL, "Merger talks with Contoso", "merger-talks@meet.corp.example"),
        (DEMO, "Demo stand-up", "demo-standup@google.pexip.me"),
    ):
        item = meeting(room=room, event_id=subject, subject=subject, start=soon, alias=alias)
        store_meetings(db, room, [item], now=clock.now())


def home(db: Database, clock: FakeClock, *, demo: bool) -> TestClient:
    options = {"otj.api.home": {"demo": demo, "codecs": []}}
    return TestClient(create_app(db, clock=clock.now, router_options=options))


@pytest.mark.usefixtures("rooms")
@pytest.mark.parametrize("demo", [True, False], ids=["demo", "configured"])
def test_without_an_admin_token_no_real_room_is_shown(
    db: Database, clock: FakeClock, demo: bool
) -> None:
    client = home(db, clock, demo=demo)
    for headers in ({}, {"Authorization": "Bearer otj_wrong"}):
        page = client.get("/", headers=headers)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        for secret in ("Merger talks", "merger-talks@", "board@corp"):
            assert secret not in page.text
        assert ("Demo stand-up" in page.text) is demo
        assert ("demo-standup@google.pexip.me" in page.text) is demo


@pytest.mark.usefixtures("rooms")
@pytest.mark.parametrize("demo", [True, False], ids=["demo", "configured"])
def test_an_administrator_sees_every_room(db: Database, clock: FakeClock, demo: bool) -> None:
    token, _ = db.tokens.create("admin", "ops", now=clock.now())
    endpoint_token, _ = db.tokens.create("endpoint", "board", now=clock.now(), endpoint="board")
    client = home(db, clock, demo=demo)
    page = client.get("/", headers={"Authorization": f"Bearer {token}"}).text
    for shown in ("Merger talks with Contoso", "merger-talks@meet.corp.example", "Demo stand-up"):
        assert shown in page
    other = client.get("/", headers={"Authorization": f"Bearer {endpoint_token}"}).text
    assert "Merger talks" not in other, "an endpoint token is not an admin token"


def test_docs_use_only_local_assets(db: Database, clock: FakeClock) -> None:
    client = TestClient(create_app(db, clock=clock.now))
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    urls += re.findall(r"""url:\s*['"]([^'"]+)""", page.text)
    assert len(urls) >= 4, urls
    for url in urls:
        assert re.match(r"/[^/]", url), f"{url} is not served here"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    assert not re.search(r"https?:", page.text)
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.content
    assert client.get("/docs/static/index.html").status_code == 404
    assert client.get("/docs/static/..%2Fswagger-ui.js").status_code == 404
    assert client.get("/redoc").status_code == 404  # Redoc's assets would come from a CDN
