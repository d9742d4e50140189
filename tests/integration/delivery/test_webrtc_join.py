"""RoomOS native joins: a Meet/Teams meeting without a SIP alias reaches RoomOS 11 codecs (local
xAPI and Webex cloud) as a ``Protocol: WebRTC`` booking; older software gets no Join button."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from otj.delivery.engine.runner import DeliveryRunner
from otj.model import Endpoint, Meeting, Platform
from otj.secret import Secret
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import PUT_SOFTWARE, CodecFarm
from tests.fakes.webex import WebexFake
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import (
    PROFILE,
    codec_endpoint,
    configure,
    deliver,
    store_meetings,
)
from tests.unit.delivery.meetings import meeting

MEET = "https://meet.google.com/abc-defg-hij"
NATIVE = replace(
    PROFILE,
    webrtc_join=True,
    endpoint_webex_client_id="C-otj-test",
    endpoint_webex_client_secret=Secret("client-secret"),
    endpoint_webex_refresh_token=Secret("refresh-1"),
)
ROOMOS_10 = "ce10.19.1.2.7a5c1f0c4ec"


@pytest.fixture
async def farm() -> AsyncIterator[CodecFarm]:
    async with CodecFarm() as codec_farm:
        yield codec_farm


@pytest.fixture
def fake() -> WebexFake:
    return WebexFake()


@pytest.fixture
def runner(db: Database, fake: WebexFake) -> Iterator[DeliveryRunner]:
    with serve(fake.app) as url:
        delivery = DeliveryRunner(db, concurrency=4, deadline=10.0, webex_base_url=url)
        yield delivery
        delivery.close()


def calendar(room: str, clock: FakeClock) -> list[Meeting]:
    """The same calendar in every room: a Meet meeting the rules gave no alias, a SIP one."""
    start = clock.now() + timedelta(hours=1)
    return [
        meeting(
            room=room,
            event_id="meet-native",
            alias=None,
            rule=None,
            platform=Platform.GOOGLE_MEET,
            join_url=MEET,
            start=start,
        ),
        meeting(room=room, event_id="sip", start=start + timedelta(hours=1)),
    ]


async def test_native_booking_for_roomos_11_none_for_older(
    db: Database, farm: CodecFarm, fake: WebexFake, runner: DeliveryRunner, clock: FakeClock
) -> None:
    new = await farm.add("new", software_version=PUT_SOFTWARE)
    old = await farm.add("old", software_version=ROOMOS_10)
    cloud = fake.add_device("dev-cloud")
    rooms = {name: f"{name}@rooms.example.com" for name in ("new", "old", "cloud")}
    configure(
        db,
        [
            codec_endpoint("new", rooms["new"], port=new.port),
            codec_endpoint("old", rooms["old"], port=old.port),
            Endpoint(
                name="cloud",
                group="Rooms",
                room_resource_email=rooms["cloud"],
                type="WEBEX",
                webex_device_id="dev-cloud",
            ),
        ],
        profile=NATIVE,
    )
    for room in rooms.values():
        store_meetings(db, room, calendar(room, clock), now=clock.now())
    stored = db.meetings.get(rooms["new"], "meet-native")
    assert stored is not None
    assert stored.join_url == MEET  # kept by the store

    report = await deliver(runner, now=clock.now())
    assert (report.pushed, report.failed) == (3, 0)
    by_name = {e.endpoint: e for e in report.endpoints}
    assert (by_name["new"].webrtc, by_name["old"].webrtc, by_name["cloud"].webrtc) == (1, 0, 1)

    for device in (new, cloud):
        native, sip = device.bookings
        assert (native.number, native.protocol, native.platform) == (MEET, "WebRTC", "GoogleMeet")
        assert sip.protocol == "SIP"
        assert sip.number == "abc-defg-hij@google.pexip.me"
    native_old, sip_old = old.bookings
    assert native_old.number == ""  # shown without a Join button, as before
    assert sip_old.number == "abc-defg-hij@google.pexip.me"
    # the read-back agrees with what was sent (no mismatch, nothing re-sent next cycle)
    assert db.delivery.get("new").mismatch == ""
    clock.advance(60)
    again = await deliver(runner, now=clock.now())
    assert again.pushed == 0


async def test_without_webrtc_join_no_native_booking(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    new = await farm.add("new", software_version=PUT_SOFTWARE)
    room = "new@rooms.example.com"
    configure(db, [codec_endpoint("new", room, port=new.port)], profile=PROFILE)
    store_meetings(db, room, calendar(room, clock), now=clock.now())
    report = await deliver(runner, now=clock.now())
    assert report.pushed == 1
    assert new.bookings[0].number == ""
    assert report.endpoints[0].webrtc == 0
