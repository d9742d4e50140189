"""The worker keeps a Meet meeting's join URL for a native join when the rules give no alias
and the profile has ``webrtc_join`` (Google fake, real rules engine, real configuration)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml

from otj.store import Database
from otj.worker.cycle import run_cycle
from tests.conftest import FakeClock
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.service.support import (
    apply,
    config_text,
    google_integration,
    meet_event,
    room_name,
)
from tests.integration.service.test_worker import make_poller


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake(now=clock.now) as server:
        yield server


@pytest.mark.parametrize("webrtc_join", [True, False])
def test_meet_without_sip_rule_keeps_its_join_url(
    db: Database, fake: GoogleCalendarFake, clock: FakeClock, webrtc_join: bool
) -> None:
    room = room_name(0)
    fake.add_calendar(room)
    fake.put_event(room, meet_event(clock.now() + timedelta(hours=2), event_id="ev0"))
    doc = yaml.safe_load(config_text(google_integration(fake), [room], rules=[]))
    doc["profiles"][0]["webrtc_join"] = webrtc_join
    apply(db, yaml.safe_dump(doc))

    assert run_cycle(make_poller(db, clock)).ok
    [meeting] = db.meetings.list(room)
    assert meeting.alias is None
    if webrtc_join:
        assert meeting.join_url == "https://meet.google.com/abc-defg-hij"
        assert meeting.platform.value == "GoogleMeet"
        assert meeting.trace[-1].rule == "webrtc"
        assert "Protocol WebRTC" in meeting.trace[-1].detail
    else:
        assert meeting.join_url == ""
        assert all(step.rule != "webrtc" for step in meeting.trace)
