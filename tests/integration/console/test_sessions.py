"""Console sessions over HTTP: cookie flags, CSRF on every change, expiry, lock-out, redirects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from otj.api.app import create_app
from otj.api.console_auth import COOKIE, IDLE, LIFETIME
from otj.store import Database
from otj.store.admins import LOCK_AFTER
from tests.conftest import FakeClock
from tests.integration.console.helpers import PASSWORD, populate, sign_in


@pytest.fixture
def app(db: Database, clock: FakeClock):  # type: ignore[no-untyped-def]
    populate(db, clock)
    return create_app(db, clock=clock.now)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(app) -> None:  # type: ignore[no-untyped-def]
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(app, base_url=base) as client:
            page = client.get("/console/sign-in")
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            answer = client.post(
                "/console/sign-in",
                data={"name": "alice", "password": PASSWORD, "csrf": csrf},
                follow_redirects=False,
            )
            cookie = next(
                h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")
            )
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"httponly", "samesite=strict", "path=/"} <= flags
            assert ("secure" in flags) is secure


def test_sign_in_needs_the_form_token_and_goes_back_where_it_was_asked(
    client: TestClient,
) -> None:
    forged = client.post(
        "/console/sign-in", data={"name": "alice", "password": PASSWORD, "csrf": "forged"}
    )
    assert forged.status_code == 400
    first = client.get("/console/alarms", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/sign-in?next=%2Fconsole%2Falarms"
    page = client.get(first.headers["location"])
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post(
        "/console/sign-in",
        data={"name": "alice", "password": PASSWORD, "csrf": csrf, "next": "/console/alarms"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/console/alarms"
    page = client.get("/console/sign-in")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    elsewhere = client.post(
        "/console/sign-in",
        data={"name": "alice", "password": PASSWORD, "csrf": csrf, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/console/rooms"


def test_every_change_needs_the_csrf_token(client: TestClient, db: Database) -> None:
    csrf = sign_in(client, "alice")
    alarm = db.alarms.active()[0].id
    rule = "/console/config/meeting_processing_rules/Google Meet guest join"
    posts = [
        (f"{rule}/toggle", {"etag": "*"}),
        (f"{rule}/delete", {"etag": "*"}),
        (rule, {"name": "Google Meet guest join", "meeting_type": "zoom", "etag": "*"}),
        (f"/console/alarms/{alarm}/acknowledge", {}),
        ("/console/sign-out", {}),
    ]
    for url, form in posts:
        assert client.post(url, data=form).status_code == 403, url
        assert client.post(url, data={**form, "csrf": "x" * 43}).status_code == 403, url
    assert db.alarms.active()[0].acknowledged_at is None
    assert [r.meeting_type for r in db.config.snapshot().meeting_processing_rules] == [
        "googlemeetsipguestjoin"
    ]
    preview = client.post("/console/preview", data={"name": "x"})
    assert preview.status_code == 403
    ok = client.post(f"/console/alarms/{alarm}/acknowledge", data={"csrf": csrf})
    assert ok.status_code == 200  # followed to the alarms page
    assert db.alarms.active()[0].acknowledged_by == "alice"


def test_sessions_expire_when_idle_and_after_their_lifetime(
    client: TestClient, clock: FakeClock
) -> None:
    sign_in(client, "alice")
    clock.advance(IDLE.total_seconds() - 60)
    assert client.get("/console/rooms", follow_redirects=False).status_code == 200
    clock.advance(IDLE.total_seconds() + 1)
    assert client.get("/console/rooms", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/config").status_code == 401
    sign_in(client, "alice")
    for _ in range(int(LIFETIME / IDLE) + 1):
        clock.advance(IDLE.total_seconds() - 60)
        client.get("/console/rooms", follow_redirects=False)
    assert client.get("/console/rooms", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client, "alice")
    cookie = client.cookies.get(COOKIE)
    assert client.post("/console/sign-out", data={"csrf": csrf}).status_code == 200
    client.cookies.set(COOKIE, cookie or "")
    assert client.get("/console/rooms", follow_redirects=False).status_code == 303


def test_the_sign_in_form_locks_after_repeated_failures(client: TestClient) -> None:
    def attempt(password: str) -> str:
        page = client.get("/console/sign-in")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        answer = client.post(
            "/console/sign-in", data={"name": "alice", "password": password, "csrf": csrf}
        )
        return answer.text

    for _ in range(LOCK_AFTER - 1):
        assert "Wrong name or password." in attempt("guess")
    assert "locked" in attempt("guess")
    assert "locked" in attempt(PASSWORD)


def test_two_admins_editing_one_rule_the_second_save_is_refused(
    app,
    db: Database,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    import re

    url = "/console/config/call_routing_rules/Meet"
    with TestClient(app) as first, TestClient(app) as second:
        db.admins.set("bob", PASSWORD, role="admin", now=clock.now())
        forms = []
        for client, name in ((first, "alice"), (second, "bob")):
            csrf = sign_in(client, name)
            page = client.get(url).text
            etag = re.search(r'name="etag" value="([^"]*)"', page)
            assert etag
            forms.append(
                {"csrf": csrf, "etag": etag.group(1).replace("&#34;", '"'), "name": "Meet",
                 "priority": "10", "enabled": "true", "match_incoming_calls": "true",
                 "match_incoming_sip": "true", "called_device_type": "external",
                 "outgoing_protocol": "sip", "sip_proxy": "dns",
                 "match_string": r"[a-z\-]{10,12}@google\.pexip\.me"}
            )  # fmt: skip
        saved = first.post(url, data={**forms[0], "description": "alice was here"})
        assert saved.status_code == 200
        assert "Saved Meet." in saved.text
        late = second.post(url, data={**forms[1], "description": "bob overwrites"})
        assert late.status_code == 412
        assert "was changed by someone else: reload it and edit again" in late.text
    rule = db.config.snapshot().call_routing_rules[0]
    assert rule.description == "alice was here"
