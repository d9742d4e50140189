"""The httpx xAPI client against the codec simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from otj.delivery.devices.bookings import bookings_for_room
from otj.delivery.devices.cisco import (
    FEEDBACK_EXPRESSIONS,
    CiscoConnection,
    CiscoDefaults,
    CiscoXapiClient,
    connection_for,
)
from otj.delivery.devices.errors import (
    EndpointCommandFailed,
    EndpointProtocolError,
    EndpointUnauthorised,
    EndpointUnreachable,
)
from otj.delivery.devices.xapi import command_document
from otj.delivery.engine.deliver import deliver, feedback_digest
from otj.delivery.engine.fleet import DeliveryJob, deliver_fleet
from otj.delivery.engine.plan import DeliveryState, alarm_changes
from otj.model import Endpoint, Profile
from otj.secret import Secret
from tests.fakes.cisco_codec import LEGACY_SOFTWARE, CodecFarm, SimulatedCodec
from tests.unit.delivery.meetings import T0, meeting

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PROFILE = Profile(name="p", start_buffer=5)
BOOKINGS = bookings_for_room(
    [
        meeting(subject='Café <&> "quoted" 🎉'),
        meeting(event_id="evt-2", alias=None, start=T0 + timedelta(hours=1)),
    ],
    profile=PROFILE,
)


@pytest.fixture
async def farm() -> AsyncIterator[CodecFarm]:
    async with CodecFarm() as codec_farm:
        yield codec_farm


def connection(codec: SimulatedCodec, **overrides: object) -> CiscoConnection:
    values: dict[str, object] = {
        "endpoint": codec.name,
        "base_url": codec.url,
        "username": codec.username,
        "password": Secret(codec.password),
        "verify": True,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    values.update(overrides)
    return CiscoConnection(**values)  # type: ignore[arg-type]


async def test_push_read_back_and_idempotence(farm: CodecFarm) -> None:
    codec = await farm.add("fjord")
    async with CiscoXapiClient(connection(codec)) as client:
        first = await deliver(client, DeliveryState(endpoint="fjord"), BOOKINGS, now=NOW)
        assert first.pushed
        assert first.mismatches == ()
        assert codec.put_count == 1
        assert codec.commands == ["Bookings Put", "Bookings List"]
        assert [b.title for b in codec.bookings] == ['Café <&> "quoted" 🎉', "Weekly sync"]
        assert codec.bookings[0].platform == "GoogleMeet"
        assert codec.bookings[0].start_buffer == 300
        assert codec.bookings[1].number == ""
        requests = len(codec.requests)
        second = await deliver(client, first.state, BOOKINGS, now=NOW + timedelta(minutes=1))
        assert not second.pushed
        assert second.decision.reason == "unchanged"
        assert len(codec.requests) == requests, "an unchanged list must not touch the device"
        changed = bookings_for_room([meeting(subject="Moved")], profile=PROFILE)
        third = await deliver(client, second.state, changed, now=NOW + timedelta(minutes=2))
        assert third.pushed
        assert [b.title for b in codec.bookings] == ["Moved"]


async def test_legacy_software_gets_bookingsputxml(farm: CodecFarm) -> None:
    codec = await farm.add("old", software_version=LEGACY_SOFTWARE)
    async with CiscoXapiClient(connection(codec)) as client:
        outcome = await deliver(client, DeliveryState(endpoint="old"), BOOKINGS, now=NOW)
    assert outcome.pushed
    assert outcome.mismatches == ()
    assert ("POST", "/bookingsputxml") in codec.requests
    assert "Bookings Put" not in codec.commands
    assert codec.bookings[0].organizer_first == "Ola"
    assert codec.bookings[0].title == 'Café <&> "quoted" 🎉'
    assert outcome.state.software_version == LEGACY_SOFTWARE


async def test_session_authentication(farm: CodecFarm) -> None:
    codec = await farm.add("session")
    client = CiscoXapiClient(connection(codec, auth="session"))
    await client.list_bookings()
    await client.list_bookings()
    assert codec.requests[0] == ("POST", "/xmlapi/session/begin")
    assert codec.requests.count(("POST", "/xmlapi/session/begin")) == 1
    assert len(codec.sessions) == 1
    # the device reboots: the session is gone, the client begins a new one once
    await codec.reboot()
    await client.list_bookings()
    assert codec.requests.count(("POST", "/xmlapi/session/begin")) == 2
    await client.aclose()
    assert codec.sessions == set()


async def test_wrong_password_is_an_alarm_not_a_crash(farm: CodecFarm) -> None:
    codec = await farm.add("locked")
    async with CiscoXapiClient(connection(codec, password=Secret("wrong"))) as client:
        with pytest.raises(EndpointUnauthorised):
            await client.list_bookings()
        before = DeliveryState(endpoint="locked")
        outcome = await deliver(client, before, BOOKINGS, now=NOW)
    assert outcome.error_kind == "unauthorised"
    assert outcome.state.failures == 1
    alarms = alarm_changes(before, outcome.state)
    assert alarms[0].raise_alarm
    assert "401" in alarms[0].message
    assert codec.put_count == 0


async def test_unreachable_then_back_repushes_unchanged_list(farm: CodecFarm) -> None:
    codec = await farm.add("flaky")
    async with CiscoXapiClient(connection(codec)) as client:
        state = (await deliver(client, DeliveryState(endpoint="flaky"), BOOKINGS, now=NOW)).state
        verify_at = NOW + timedelta(hours=2)
        await codec.stop()
        down = await deliver(client, state, BOOKINGS, now=verify_at)
        assert down.error_kind == "unreachable"
        assert down.state.retry_at is not None
        skipped = await deliver(client, down.state, BOOKINGS, now=verify_at + timedelta(seconds=1))
        assert skipped.decision.action == "skip"
        await codec.reboot()  # back, with an empty list
        assert codec.bookings == []
        back = await deliver(client, skipped.state, BOOKINGS, now=down.state.retry_at)
        assert back.pushed
        assert back.decision.reason == "retry after unreachable"
        assert len(codec.bookings) == 2
        assert alarm_changes(down.state, back.state)[0].raise_alarm is False


async def test_periodic_read_back_notices_a_device_that_lost_its_list(farm: CodecFarm) -> None:
    codec = await farm.add("forgetful")
    async with CiscoXapiClient(connection(codec)) as client:
        state = (
            await deliver(client, DeliveryState(endpoint="forgetful"), BOOKINGS, now=NOW)
        ).state
        codec.bookings = []  # e.g. a factory reset the device did not report
        outcome = await deliver(client, state, BOOKINGS, now=NOW + timedelta(hours=1))
    assert outcome.verified
    assert outcome.pushed
    assert len(codec.bookings) == 2


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("garbage", EndpointProtocolError),
        ("unauthorised", EndpointUnauthorised),
        ("drop", EndpointProtocolError),
        ("hang", EndpointUnreachable),
    ],
)
async def test_misbehaving_codecs_map_to_endpoint_errors(
    farm: CodecFarm, behaviour: str, error: type[Exception]
) -> None:
    codec = await farm.add(behaviour)
    setattr(codec.behaviour, behaviour, True)
    async with CiscoXapiClient(connection(codec, read_timeout=0.3)) as client:
        with pytest.raises(error):
            await client.list_bookings()


async def test_simulator_enforces_xapi_rules(farm: CodecFarm) -> None:
    codec = await farm.add("strict")
    entry = {
        "Id": "1",
        "Title": "t",
        "Protocol": "SIP",
        "Organizer": {"Name": "n"},
        "Time": {"StartTime": "2026-03-02T09:00:00Z", "Duration": 30},
    }
    cases = [
        ({**entry}, "Number"),
        ({**entry, "Number": "a@b", "Protocol": "Skype"}, "Protocol"),
        ({**entry, "Number": "a@b", "MeetingPlatform": "Jitsi"}, "MeetingPlatform"),
        (
            {**entry, "Number": "a@b", "Time": {"StartTime": "2026-03-02 09:00", "Duration": 3}},
            "StartTime",
        ),
        ({**entry, "Number": "a@b", "Organizer": {}}, "Organizer/Name"),
    ]
    async with CiscoXapiClient(connection(codec)) as client:
        for bad, field in cases:
            body = json.dumps({"Bookings": [bad]})
            with pytest.raises(EndpointCommandFailed, match=field):
                await client.command(
                    command_document(["Bookings", "Put"], body=body), name="Bookings Put"
                )
        with pytest.raises(EndpointCommandFailed, match="Unknown command"):
            await client.command(command_document(["Bookings", "Frobnicate"]), name="x")
    assert codec.put_count == 0


async def test_dial_with_booking_id(farm: CodecFarm) -> None:
    codec = await farm.add("dialer")
    async with CiscoXapiClient(connection(codec)) as client:
        outcome = await client.dial(
            number="abc-defg-hij@google.pexip.me", protocol="SIP", booking_id="evt-1"
        )
        assert outcome.call_id == 1
        assert codec.dials == [
            {
                "Number": "abc-defg-hij@google.pexip.me",
                "Protocol": "Sip",
                "BookingId": "evt-1",
                "CallType": "Video",
            }
        ]
        codec.behaviour.dial_error = "Maximum number of calls reached"
        with pytest.raises(EndpointCommandFailed, match="Maximum number of calls"):
            await client.dial(number="x@y", protocol="SIP", booking_id="evt-1")


async def test_feedback_registered_after_push(farm: CodecFarm) -> None:
    codec = await farm.add("fb")
    url = "http://127.0.0.1:9/api/v1/endpoints/fb/feedback/token"
    async with CiscoXapiClient(connection(codec, feedback_slot=2)) as client:
        outcome = await deliver(
            client, DeliveryState(endpoint="fb"), BOOKINGS, now=NOW, feedback_url=url
        )
    assert outcome.state.feedback_registered == feedback_digest(url)
    assert codec.feedback[2].url == url
    assert codec.feedback[2].expressions == FEEDBACK_EXPRESSIONS


async def test_one_hanging_codec_never_delays_the_others(farm: CodecFarm) -> None:
    good = await farm.add_many([f"room-{i}" for i in range(6)])
    stuck = await farm.add("stuck")
    stuck.behaviour.hang = True
    clients = [CiscoXapiClient(connection(c, read_timeout=30.0)) for c in [stuck, *good]]
    jobs = [
        DeliveryJob(
            client=c, state=DeliveryState(endpoint=c.connection.endpoint), bookings=BOOKINGS
        )
        for c in clients
    ]
    task = asyncio.create_task(deliver_fleet(jobs, now=NOW, concurrency=3, deadline=1.5))
    # every good codec has its list while the stuck one still holds its slot
    await asyncio.gather(*(c.wait_until(lambda c: c.put_count == 1, timeout=1.4) for c in good))
    assert not task.done()
    outcomes = await task
    by_name = {o.endpoint: o for o in outcomes}
    assert by_name["stuck"].error_kind == "unreachable"
    assert all(by_name[c.name].pushed for c in good)
    for client in clients:
        await client.aclose()


def test_connection_defaults() -> None:
    endpoint = Endpoint(
        name="Fjord",
        group="g",
        room_resource_email="f@x",
        api_address="10.1.2.3",
        api_port=443,
        use_https=True,
        verify_cert=False,
    )
    conn = connection_for(
        endpoint,
        CiscoDefaults(username="otj", password=Secret("pw"), auth="session", feedback_slot=4),
    )
    assert conn.base_url == "https://10.1.2.3"
    assert (conn.username, conn.auth, conn.verify, conn.feedback_slot) == (
        "otj",
        "session",
        False,
        4,
    )
    assert conn.password is not None
    assert conn.password.reveal() == "pw"
    own = replace(
        endpoint,
        api_username="room",
        api_password=Secret("own"),
        use_https=False,
        api_port=8080,
        api_address="fe80::1",
    )
    conn2 = connection_for(own)
    assert conn2.base_url == "http://[fe80::1]:8080"
    assert conn2.username == "room"
    assert "own" not in repr(conn2)


async def test_upgraded_codec_switches_to_bookings_put_after_a_sync_request(
    farm: CodecFarm,
) -> None:
    codec = await farm.add("upgraded", software_version=LEGACY_SOFTWARE)
    async with CiscoXapiClient(connection(codec)) as client:
        state = (await deliver(client, DeliveryState(endpoint="upgraded"), BOOKINGS, now=NOW)).state
        assert ("POST", "/bookingsputxml") in codec.requests
        codec.software_version = "ce11.14.1.5.new"
        await codec.reboot()
        outcome = await deliver(
            client, replace(state, sync_required=True), BOOKINGS, now=NOW + timedelta(minutes=1)
        )
    assert outcome.pushed
    assert "Bookings Put" in codec.commands
    assert outcome.state.software_version == "ce11.14.1.5.new"
