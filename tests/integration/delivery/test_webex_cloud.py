"""WEBEX endpoints through the Webex cloud xAPI: the DeliveryRunner with the real store and the
Webex fake served over HTTP on loopback (OAuth refresh, 401, 429, offline devices)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from otj.delivery.engine.runner import ALARM_DELIVERY, DeliveryRunner
from otj.model import Endpoint, Profile
from otj.secret import Secret
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.webex import WebexFake
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import configure, deliver, store_meetings
from tests.unit.delivery.meetings import meeting

ROOM = "fjord@rooms.example.com"
PROFILE = Profile(
    name="Cloud rooms",
    start_buffer=5,
    end_buffer=0,
    endpoint_webex_client_id="C-otj-test",
    endpoint_webex_client_secret=Secret("client-secret"),
    endpoint_webex_refresh_token=Secret("refresh-1"),
)


def webex_endpoint(name: str = "fjord", room: str = ROOM, device_id: str = "dev-fjord") -> Endpoint:
    return Endpoint(
        name=name, group="Rooms", room_resource_email=room, type="WEBEX", webex_device_id=device_id
    )


@pytest.fixture
def fake() -> WebexFake:
    return WebexFake()


@pytest.fixture
def webex_url(fake: WebexFake) -> Iterator[str]:
    with serve(fake.app) as url:
        yield url


@pytest.fixture
def runner(db: Database, webex_url: str) -> Iterator[DeliveryRunner]:
    delivery = DeliveryRunner(db, concurrency=4, deadline=10.0, webex_base_url=webex_url)
    yield delivery
    delivery.close()


def two_meetings(clock: FakeClock, subject: str = "Weekly sync") -> list:  # type: ignore[type-arg]
    start = clock.now() + timedelta(hours=1)
    return [
        meeting(room=ROOM, event_id="evt-1", subject=subject, start=start),
        meeting(room=ROOM, event_id="evt-2", alias=None, start=start + timedelta(hours=2)),
    ]


async def test_cloud_device_gets_the_list_once(
    db: Database, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    device = fake.add_device("dev-fjord")
    configure(db, [webex_endpoint()], profile=PROFILE)
    store_meetings(db, ROOM, two_meetings(clock), now=clock.now())

    report = await deliver(runner, now=clock.now())
    assert (report.pushed, report.failed) == (1, 0)
    assert [b.id for b in device.bookings] == ["evt-1", "evt-2"]
    assert device.bookings[0].number == "abc-defg-hij@google.pexip.me"
    assert device.bookings[0].platform == "GoogleMeet"  # RoomOS 11 takes MeetingPlatform
    assert device.bookings[1].number == ""
    assert fake.refreshes == 1
    # version, Bookings.Put, Bookings.List (the read-back)
    assert [p for _, p in fake.requests] == [
        "/v1/access_token",
        "/v1/xapi/status",
        "/v1/xapi/command/Bookings.Put",
        "/v1/xapi/command/Bookings.List",
    ]
    state = db.delivery.get("fjord")
    assert state.software_version.startswith("ce11")
    assert state.mismatch == ""

    # unchanged: nothing is sent; a changed list is sent again (no second version read)
    clock.advance(60)
    again = await deliver(runner, now=clock.now())
    assert again.pushed == 0
    assert fake.xapi_requests == 3
    store_meetings(db, ROOM, two_meetings(clock, subject="Moved"), now=clock.now())
    changed = await deliver(runner, now=clock.now())
    assert changed.pushed == 1
    assert device.bookings[0].title == "Moved"
    assert fake.xapi_requests == 5
    assert fake.refreshes == 1


async def test_expired_token_is_refreshed_and_the_request_repeated(
    db: Database, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    device = fake.add_device("dev-fjord")
    configure(db, [webex_endpoint()], profile=PROFILE)
    store_meetings(db, ROOM, two_meetings(clock), now=clock.now())
    await deliver(runner, now=clock.now())

    fake.expire_tokens()
    store_meetings(db, ROOM, two_meetings(clock, subject="After expiry"), now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert (report.pushed, report.failed) == (1, 0)
    assert device.bookings[0].title == "After expiry"
    assert fake.rejected_401 == 1
    assert fake.refreshes == 2
    assert db.alarms.active(subject="fjord") == []


async def test_429_retry_after_is_waited_for(
    db: Database, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    device = fake.add_device("dev-fjord")
    configure(db, [webex_endpoint()], profile=PROFILE)
    store_meetings(db, ROOM, two_meetings(clock), now=clock.now())
    fake.throttle(1)
    started = time.monotonic()
    report = await deliver(runner, now=clock.now())
    assert time.monotonic() - started >= 1.0
    assert (report.pushed, report.failed) == (1, 0)
    assert len(device.bookings) == 2
    assert runner.webex is not None
    assert runner.webex.rate_limited == 1

    # a Retry-After longer than the service waits fails the endpoint with an alarm instead
    fake.throttle(3600)
    store_meetings(db, ROOM, two_meetings(clock, subject="Later"), now=clock.now())
    limited = await deliver(runner, now=clock.now())
    assert limited.failed == 1
    assert db.delivery.get("fjord").last_result == "rate-limited"
    [alarm] = db.alarms.active(subject="fjord", kind=ALARM_DELIVERY)
    assert "Retry-After 3600" in alarm.message


async def test_offline_device_alarms_and_recovers(
    db: Database, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    device = fake.add_device("dev-fjord", online=False)
    configure(db, [webex_endpoint()], profile=PROFILE)
    store_meetings(db, ROOM, two_meetings(clock), now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert report.failed == 1
    [alarm] = db.alarms.active(subject="fjord", kind=ALARM_DELIVERY)
    assert alarm.message.startswith("unreachable:")
    assert "offline" in alarm.message
    assert ROOM not in report.rooms_delivered

    device.online = True
    clock.advance(31)  # past the first back-off step
    recovered = await deliver(runner, now=clock.now())
    assert recovered.pushed == 1
    assert len(device.bookings) == 2
    assert db.alarms.active(subject="fjord") == []


@pytest.mark.parametrize(
    ("endpoint", "profile", "expected"),
    [
        (webex_endpoint(device_id=""), PROFILE, "no webex_device_id"),
        (
            webex_endpoint(),
            replace(PROFILE, endpoint_webex_refresh_token=None),
            "set endpoint_webex_refresh_token on profile 'Cloud rooms'",
        ),
    ],
)
async def test_undeliverable_configuration_raises_an_alarm_saying_why(
    db: Database,
    fake: WebexFake,
    runner: DeliveryRunner,
    clock: FakeClock,
    endpoint: Endpoint,
    profile: Profile,
    expected: str,
) -> None:
    fake.add_device("dev-fjord")
    configure(db, [endpoint], profile=profile)
    store_meetings(db, ROOM, two_meetings(clock), now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert report.failed == 1
    assert fake.requests == []
    [alarm] = db.alarms.active(subject="fjord", kind=ALARM_DELIVERY)
    assert alarm.message.startswith("credentials:")
    assert expected in alarm.message
    assert db.delivery.get("fjord").last_result == "credentials"

    # the configuration is completed: the next cycle pushes at once and clears the alarm
    configure(db, [webex_endpoint()], profile=PROFILE)
    fixed = await deliver(runner, now=clock.now())
    assert fixed.pushed == 1
    assert db.alarms.active(subject="fjord") == []


async def test_refused_refresh_token_and_old_software_raise_alarms(
    db: Database, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    fake.add_device("dev-old", software_version="ce9.12.4.a0d6f3d5e0c")
    second = "berg@rooms.example.com"
    configure(
        db,
        [webex_endpoint(), webex_endpoint("berg", second, "dev-old")],
        profile=replace(PROFILE, endpoint_webex_refresh_token=Secret("revoked")),
    )
    store_meetings(db, ROOM, two_meetings(clock), now=clock.now())
    store_meetings(db, second, [], now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert report.failed == 2
    [alarm] = db.alarms.active(subject="fjord", kind=ALARM_DELIVERY)
    assert alarm.message.startswith("unauthorised:")
    assert "refresh token" in alarm.message
    # Webex was asked once for both endpoints of the same authorisation
    assert fake.requests == [("POST", "/v1/access_token")]

    configure(db, [webex_endpoint(), webex_endpoint("berg", second, "dev-old")], profile=PROFILE)
    clock.advance(31)
    fake.add_device("dev-fjord")
    again = await deliver(runner, now=clock.now())
    by_name = {e.endpoint: e for e in again.endpoints}
    assert by_name["fjord"].action == "push"
    assert by_name["fjord"].error == ""
    [old] = db.alarms.active(subject="berg", kind=ALARM_DELIVERY)
    assert old.message.startswith("unsupported:")
    assert "ce9.12.4" in old.message


async def test_a_lobby_ending_is_shown_as_an_alert_on_a_cloud_device(
    db: Database, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    device = fake.add_device("dev-fjord")
    configure(db, [webex_endpoint()], profile=PROFILE)
    record = db.calls.start(
        call_id="lobby@10.0.0.7",
        direction="inbound",
        caller_uri="sip:fjord@rooms.example.com",
        invite_at=clock.now() - timedelta(seconds=31),
        endpoint_name="fjord",
        answer_at=clock.now() - timedelta(seconds=30),
        dialled_alias="abc-defg-hij@google.pexip.me",
    )
    db.calls.finish(record.id, end_at=clock.now(), cause="not_admitted", final_code=200)
    assert await asyncio.to_thread(runner.notify_rooms, now=clock.now()) == 1
    assert device.alerts == [
        {
            "Title": "Not admitted to the meeting",
            "Text": "Nobody let you into the meeting within 30 seconds. "
            "Try again, or ask the host to admit 'fjord'.",
            "Duration": 60,
        }
    ]
    assert await asyncio.to_thread(runner.notify_rooms, now=clock.now()) == 0
