"""The configuration REST API: every section's CRUD with ETag/If-Match, the validation of
``otj config apply``, roles, CSRF, the audit log and the YAML export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from otj.api.app import create_app
from otj.config import apply_text
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.console.helpers import CONFIG, make_admins, sign_in

# a valid new object of each section, and a change to make to it (given the CONFIG objects)
OBJECTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "profiles": ({"name": "Branch", "start_buffer": 10}, {"start_buffer": 15}),
    "integrations": (
        {"name": "Feed", "type": "ics", "url_template": "https://calendar.example.com/{room}.ics"},
        {"url_template": "https://calendar.example.com/o/{room}.ics"},
    ),
    "endpoint_groups": ({"name": "Branch rooms", "profile": "Head office"}, {"description": "x"}),
    "endpoints": (
        {
            "name": "Lake",
            "group": "Rooms",
            "room_resource_email": "lake@rooms.example.com",
            "type": "PULL",
        },
        {"description": "by the lake"},
    ),
    "meeting_processing_rules": (
        {"name": "Teams", "meeting_type": "teams", "priority": 20, "route_check": False},
        {"priority": 30},
    ),
    "call_routing_rules": (
        {
            "name": "Other",
            "priority": 50,
            "match_string": "(.*)@other\\.example",
            "replace_string": "sip:\\1@other.example",
        },
        {"priority": 60},
    ),
    "sip_proxies": (
        {"name": "Edge", "address": "192.0.2.10", "port": 5061, "transport": "tls"},
        {"port": 5062},
    ),
    "sip_credentials": (
        {"name": "Office token", "username": "oslo-gw", "password": "trust-pw"},
        {"realm": "pexip.example"},
    ),
    "virtual_receptions": (
        {
            "name": "Join",
            "aliases": ["join@vc\\.example\\.com"],
            "id_rules": [{"match": "(\\d{9,11})", "replace": "\\1@zoomcrc.com"}],
        },
        {"attempts": 5},
    ),
}


@pytest.fixture
def client(db: Database, clock: FakeClock) -> Iterator[TestClient]:
    assert apply_text(db, CONFIG, actor="setup").ok
    make_admins(db, clock)
    with TestClient(create_app(db, clock=clock.now)) as test_client:
        yield test_client


@pytest.fixture
def bearer(db: Database, clock: FakeClock) -> dict[str, str]:
    token, _ = db.tokens.create("admin", "automation", now=clock.now())
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("section", sorted(OBJECTS))
def test_each_section_round_trips_with_etags(
    client: TestClient, bearer: dict[str, str], section: str
) -> None:
    new, change = OBJECTS[section]
    base = f"/api/v1/config/{section}"
    made = client.post(base, json=new, headers=bearer)
    assert made.status_code == 201, made.text
    assert made.json()["changes"][0]["action"] == "created"
    assert client.post(base, json=new, headers=bearer).status_code == 409
    url = f"{base}/{new['name']}"
    read = client.get(url, headers=bearer)
    assert read.status_code == 200
    first = read.headers["etag"]
    assert first == made.headers["etag"]
    assert client.put(url, json={**new, **change}, headers=bearer).status_code == 428
    updated = client.put(url, json={**new, **change}, headers={**bearer, "If-Match": first})
    assert updated.status_code == 200, updated.text
    assert updated.json()["changes"][0]["action"] == "updated"
    second = updated.headers["etag"]
    assert second != first
    # a second administrator still holding the first version is refused
    stale = client.put(url, json=new, headers={**bearer, "If-Match": first})
    assert stale.status_code == 412
    assert "changed by someone else" in stale.json()["detail"]
    assert client.delete(url, headers={**bearer, "If-Match": first}).status_code == 412
    assert client.delete(url, headers=bearer).status_code == 428
    gone = client.delete(url, headers={**bearer, "If-Match": second})
    assert gone.status_code == 200, gone.text
    assert client.get(url, headers=bearer).status_code == 404
    assert new["name"] not in [o["name"] for o in client.get(base, headers=bearer).json()]


def test_invalid_objects_get_the_messages_of_config_apply(
    client: TestClient, bearer: dict[str, str], db: Database
) -> None:
    answer = client.post(
        "/api/v1/config/profiles", json={"name": "Bad", "start_buffer": 999}, headers=bearer
    )
    assert answer.status_code == 422
    from_api = [p["message"] for p in answer.json()["problems"]]
    from_file = apply_text(db, "profiles:\n  - name: Bad\n    start_buffer: 999\n")
    assert not from_file.ok
    assert from_api == [p.message for p in from_file.problems]
    assert from_api == ["must be between 0 and 240, got 999"]


def test_a_name_longer_than_its_column_is_a_422_not_a_500(
    client: TestClient, bearer: dict[str, str]
) -> None:
    answer = client.post("/api/v1/config/profiles", json={"name": "x" * 201}, headers=bearer)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["message"] == "201 characters; at most 200"


def test_a_referenced_object_cannot_be_deleted(client: TestClient, bearer: dict[str, str]) -> None:
    url = "/api/v1/config/profiles/Head office"
    etag = client.get(url, headers=bearer).headers["etag"]
    answer = client.delete(url, headers={**bearer, "If-Match": etag})
    assert answer.status_code == 422
    assert "profile 'Head office' does not exist" in answer.json()["problems"][0]["message"]


def test_viewers_read_but_cannot_change(client: TestClient) -> None:
    csrf = sign_in(client, "victor")
    assert client.get("/api/v1/config/profiles").status_code == 200
    refused = client.post(
        "/api/v1/config/profiles", json={"name": "X"}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 403
    assert "viewer" in refused.json()["detail"]


def test_a_session_change_needs_its_csrf_token(client: TestClient) -> None:
    csrf = sign_in(client, "alice")
    body = {"name": "Branch"}
    assert client.post("/api/v1/config/profiles", json=body).status_code == 403
    wrong = client.post("/api/v1/config/profiles", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    made = client.post("/api/v1/config/profiles", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_callers_are_known_before_any_body_is_read(client: TestClient) -> None:
    huge = b"{" + b" " * (400 * 1024) + b"}"
    answer = client.post(
        "/api/v1/config/profiles", content=huge, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 401
    assert client.get("/api/v1/config").status_code == 401
    assert client.get("/api/v1/config/export").status_code == 401


def test_every_writer_is_in_the_audit_log_and_the_export_is_yaml(
    client: TestClient, bearer: dict[str, str], db: Database
) -> None:
    client.post("/api/v1/config/profiles", json={"name": "Branch"}, headers=bearer)
    csrf = sign_in(client, "alice")
    client.post(
        "/api/v1/config/sip_proxies",
        json={"name": "Edge", "address": "192.0.2.10"},
        headers={"X-CSRF-Token": csrf},
    )
    entries = client.get("/api/v1/audit").json()
    assert [(e["actor"], e["source"], e["summary"]) for e in entries[:3]] == [
        ("alice", "console", "created sip_proxies 'Edge'"),
        ("token:automation", "api", "created profiles 'Branch'"),
        ("setup", "cli", entries[2]["summary"]),
    ]
    diff = client.get(f"/api/v1/audit/{entries[1]['id']}").json()["diff"]
    assert "+- name: Branch" in diff
    export = client.get("/api/v1/config/export")
    assert export.headers["content-type"].startswith("application/yaml")
    assert "- name: Edge" in export.text
    assert apply_text(db, export.text).report is not None


def test_the_preview_and_the_route_tester_as_json(
    client: TestClient, bearer: dict[str, str], db: Database
) -> None:
    invitation = "Join with Google Meet: https://meet.google.com/qxr-bnwt-kzp"
    rule = {"name": "Google Meet guest join", "meeting_type": "googlemeetsipguestjoin",
            "priority": 10, "enabled": False}  # fmt: skip
    answer = client.post(
        "/api/v1/rules/preview",
        json={"rule": rule, "original": rule["name"], "invitation": invitation},
        headers=bearer,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["saved"]["alias"] == "qxr-bnwt-kzp@google.pexip.me"
    assert body["saved"]["routed_by"] == "Meet"
    assert body["edited"]["alias"] is None
    assert body["edited"]["trace"][0]["outcome"] == "disabled"
    assert body["differs"] is True
    assert db.config.snapshot().meeting_processing_rules[0].enabled  # nothing written
    bad = client.post(
        "/api/v1/rules/preview",
        json={"rule": {**rule, "priority": 999}, "invitation": invitation},
        headers=bearer,
    )
    assert [p["message"] for p in bad.json()["problems"]] == ["must be between 1 and 200, got 999"]
    assert bad.json()["edited"] is None
    route = client.get(
        "/api/v1/route", params={"alias": "abc-defg-hij@google.pexip.me"}, headers=bearer
    )
    assert route.status_code == 200
    assert (route.json()["rule"], route.json()["destination"]) == (
        "Meet",
        "sip:abc-defg-hij@google.pexip.me",
    )
    h323 = client.get(
        "/api/v1/route",
        params={"alias": "abc-defg-hij@google.pexip.me", "protocol": "h323"},
        headers=bearer,
    )
    assert h323.json()["routed"] is False  # the rule matches incoming SIP only
    assert client.get("/api/v1/route", params={"alias": "x"}).status_code == 401


def test_the_gateway_settings_with_etags_in_the_api_and_the_console(
    client: TestClient, bearer: dict[str, str], db: Database
) -> None:
    import re

    first = client.get("/api/v1/config/gateway", headers=bearer)
    etag = first.headers["etag"]
    body = {"call_licenses": 20, "allowed_sources": ["192.0.2.0/24"]}
    assert client.put("/api/v1/config/gateway", json=body, headers=bearer).status_code == 428
    saved = client.put("/api/v1/config/gateway", json=body, headers={**bearer, "If-Match": etag})
    assert saved.status_code == 200, saved.text
    assert saved.json()["value"]["call_licenses"] == 20
    stale = client.put("/api/v1/config/gateway", json=body, headers={**bearer, "If-Match": etag})
    assert stale.status_code == 412
    bad = client.put(
        "/api/v1/config/gateway",
        json={"call_licenses": -1},
        headers={**bearer, "If-Match": saved.headers["etag"]},
    )
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["message"] == "must be between 0 and 1000000, got -1"
    # the console's YAML editor
    csrf = sign_in(client, "alice")
    page = client.get("/console/config/gateway")
    assert "call_licenses: 20" in page.text
    tag = re.search(r'name="etag" value="([^"]*)"', page.text)
    assert tag
    answer = client.post(
        "/console/config/gateway",
        data={"csrf": csrf, "etag": tag.group(1).replace("&#34;", '"'),
              "settings": "call_licenses: 30\nallowed_sources: [192.0.2.0/24]\n"},
    )  # fmt: skip
    assert "Saved gateway." in answer.text
    gateway = db.config.snapshot().gateway
    assert gateway is not None
    assert gateway.call_licenses == 30
    assert client.get("/api/v1/audit").json()[0]["summary"].startswith("updated gateway")


def test_a_sip_credential_s_password_is_never_read_back(
    client: TestClient, bearer: dict[str, str]
) -> None:
    base = "/api/v1/config/sip_credentials"
    new = {"name": "Token", "username": "oslo-gw", "password": "never-shown-pw"}
    assert client.post(base, json=new, headers=bearer).status_code == 201
    for url in (base, f"{base}/Token", "/api/v1/config/export"):
        answer = client.get(url, headers=bearer)
        assert answer.status_code == 200, url
        assert "never-shown-pw" not in answer.text
