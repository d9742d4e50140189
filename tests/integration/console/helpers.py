"""Console test set-up: administrators, a signed-in client, a small configuration."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from otj.store import Database
from tests.conftest import FakeClock

PASSWORD = "correct horse battery"
CONFIG = """
profiles:
  - name: Head office
    start_buffer: 5
integrations: []
endpoint_groups:
  - name: Rooms
    profile: Head office
endpoints:
  - name: Fjord
    group: Rooms
    room_resource_email: fjord@rooms.example.com
    type: PULL
meeting_processing_rules:
  - name: Google Meet guest join
    meeting_type: googlemeetsipguestjoin
    priority: 10
call_routing_rules:
  - name: Meet
    priority: 10
    match_string: '[a-z\\-]{10,12}@google\\.pexip\\.me'
"""


def make_admins(db: Database, clock: FakeClock) -> None:
    """``alice`` (admin) and ``victor`` (viewer)."""
    db.admins.set("alice", PASSWORD, role="admin", now=clock.now())
    db.admins.set("victor", PASSWORD, role="viewer", now=clock.now())


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (from the next page)."""
    page = client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    form = {"name": name, "password": password, "csrf": token.group(1) if token else ""}
    answer = client.post("/console/sign-in", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    """The CSRF token the console's pages carry for this session."""
    page = client.get("/console/rooms")
    assert page.status_code == 200, page.text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


ROOM = "fjord@rooms.example.com"


def populate(db: Database, clock: FakeClock) -> None:
    """The configuration, two administrators, the room's meetings, an alarm and some calls."""
    from datetime import timedelta

    from otj.config import apply_text
    from otj.model import TraceStep
    from tests.integration.delivery.storehelp import store_meetings
    from tests.unit.delivery.meetings import meeting

    assert apply_text(db, CONFIG, actor="setup").ok
    make_admins(db, clock)
    now = clock.now()
    no_match = TraceStep(
        rule="Google Meet guest join",
        meeting_type="googlemeetsipguestjoin",
        outcome="no_match",
        detail="no Google Meet link or conference data",
    )
    store_meetings(
        db,
        ROOM,
        [
            meeting(room=ROOM, event_id="sync", start=now + timedelta(hours=1),
                    rule="Google Meet guest join"),
            meeting(room=ROOM, event_id="lunch", subject="Lunch with the team", alias=None,
                    rule=None, start=now + timedelta(hours=3), trace=(no_match,)),
            meeting(room=ROOM, event_id="secret", subject="Private", listed=False,
                    unlisted_reason="declined by the room", start=now + timedelta(hours=5)),
        ],
        now=now,
    )  # fmt: skip
    db.alarms.raise_alarm("delivery", "Fjord", "the room system did not answer", now=now)
    call = db.calls.start(
        call_id="c1", direction="incoming", caller_uri="sip:fjord@rooms.example.com",
        invite_at=now - timedelta(minutes=30), dialled_alias="abc-defg-hij@google.pexip.me",
        rule="Meet", conference="abc-defg-hij",
    )  # fmt: skip
    db.calls.finish(call.id, end_at=now - timedelta(minutes=5), cause="completed", final_code=200)
    db.calls.start(
        call_id="c2", direction="incoming", caller_uri="sip:lake@rooms.example.com",
        invite_at=now - timedelta(minutes=2), dialled_alias="xyz-defg-hij@google.pexip.me",
        rule="Meet", conference="xyz-defg-hij",
    )  # fmt: skip
