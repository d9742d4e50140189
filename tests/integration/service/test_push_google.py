"""Google Calendar push channels end to end: the Google fake (``events.watch``, notifications
with Google's headers, ``channels.stop``), the real google-api-python-client, the otj HTTP API
over TLS (uvicorn) and the worker."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fakes.google_calendar import GoogleCalendarFake, rfc3339
from tests.fakes.google_calendar_http import self_signed_certificate
from tests.integration.service.push_support import ROOM, Running, eventually, running
from tests.integration.service.support import google_integration

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def fake(tls: tuple[Path, Path]) -> Any:
    with GoogleCalendarFake(notification_ca=tls[0]) as google:
        google.add_calendar(ROOM)
        yield google


def config(fake: GoogleCalendarFake) -> str:
    doc = {
        "integrations": [google_integration(fake)],
        "profiles": [
            {
                "name": "Rooms",
                "integration": "Workspace",
                "poll_interval": 600,
                "notification_safety_poll": 1800,
            }
        ],
        "endpoint_groups": [{"name": "All", "profile": "Rooms"}],
        "endpoints": [
            {"name": "fjord", "group": "All", "room_resource_email": ROOM, "type": "PULL"}
        ],
        "meeting_processing_rules": [
            {"name": "Meet", "meeting_type": "googlemeetsipguestjoin", "priority": 10}
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def event(summary: str) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    return {
        "summary": summary,
        "start": {"dateTime": rfc3339(start)},
        "end": {"dateTime": rfc3339(start + timedelta(hours=1))},
    }


def subject_of(run: Running, event_id: str) -> str | None:
    stored = run.db.meetings.get(ROOM, event_id)
    return stored.subject if stored is not None else None


def reads(fake: GoogleCalendarFake) -> int:
    return fake.requests_by_room[ROOM]


def settled(fake: GoogleCalendarFake) -> int:
    last, since = reads(fake), time.monotonic()
    while time.monotonic() - since < 1.0:
        time.sleep(0.05)
        if reads(fake) != last:
            last, since = reads(fake), time.monotonic()
    return last


def healthy(run: Running) -> None:
    eventually(
        lambda: (s := run.push.subscription(ROOM)) is not None and s.healthy(datetime.now(UTC))
    )


def notify(run: Running, tls: tuple[Path, Path], headers: dict[str, str]) -> int:
    context = ssl.create_default_context(cafile=str(tls[0]))
    with httpx.Client(verify=context) as http:
        return http.post(f"{run.base_url}/notifications/google", headers=headers).status_code


def test_a_change_reaches_the_store_within_seconds(
    db: Any, fake: GoogleCalendarFake, tls: tuple[Path, Path]
) -> None:
    event_id = fake.put_event(ROOM, event("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        eventually(lambda: subject_of(run, event_id) == "Planning")
        (channel,) = fake.channels.active(ROOM)
        assert channel.address == f"{run.base_url}/notifications/google"
        jobs = {job["id"]: job for job in run.service.jobs()}
        assert jobs[f"room:{ROOM}"]["trigger"].interval == 1800
        fake.patch_event(ROOM, event_id, summary="Planning (moved)")
        seconds = eventually(lambda: subject_of(run, event_id) == "Planning (moved)", timeout=10)
        assert seconds < 5, f"change took {seconds:.1f} s"
        assert [m.status for m in fake.channels.messages if m.state == "exists"] == [200]
    assert fake.channels.active(ROOM) == []  # channels.stop when the worker stopped


def test_sync_messages_are_ignored_and_forged_ones_refused(
    db: Any, fake: GoogleCalendarFake, tls: tuple[Path, Path]
) -> None:
    event_id = fake.put_event(ROOM, event("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        eventually(lambda: subject_of(run, event_id) == "Planning")
        (channel,) = fake.channels.active(ROOM)
        before = settled(fake)
        genuine = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Token": channel.token,
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": "sync",
            "X-Goog-Message-Number": "1",
        }
        assert notify(run, tls, genuine) == 200
        forged = {**genuine, "X-Goog-Resource-State": "exists"}
        assert notify(run, tls, {**forged, "X-Goog-Channel-Token": "guessed"}) == 403
        assert notify(run, tls, {**forged, "X-Goog-Channel-ID": "not-ours"}) == 403
        no_token = {k: v for k, v in forged.items() if k != "X-Goog-Channel-Token"}
        assert notify(run, tls, no_token) == 403
        time.sleep(1.5)
        assert reads(fake) == before  # neither the sync message nor a forged one synced


def test_renewal_opens_a_new_channel_and_stops_the_old_one(
    db: Any, fake: GoogleCalendarFake, tls: tuple[Path, Path]
) -> None:
    event_id = fake.put_event(ROOM, event("Planning"))
    with running(db, fake, tls, rooms=[ROOM], config=config(fake)) as run:
        healthy(run)
        (old,) = fake.channels.active(ROOM)
        run.push.lifecycle(ROOM, "reauthorizationRequired")  # renew now instead of in 7 days
        run.push.tick()
        (new,) = fake.channels.active(ROOM)
        assert new.id != old.id
        assert old.stopped
        assert run.hub.authenticate("google", old.id, old.token) is None
        fake.patch_event(ROOM, event_id, summary="Planning (renewed)")
        eventually(lambda: subject_of(run, event_id) == "Planning (renewed)", timeout=10)
