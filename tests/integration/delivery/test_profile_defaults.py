"""Delivery with the profile's endpoint API defaults, against simulated Cisco codecs.

The configuration goes through ``otj config apply`` (YAML → validation → store, password sealed)
and the runner logs in with what the endpoint leaves to its profile; an endpoint with no
username anywhere fails on its own, with an alarm, and its codec is never contacted.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from otj.api import panel
from otj.config import apply_text
from otj.delivery.devices.errors import NO_CREDENTIALS
from otj.delivery.engine.runner import ALARM_DELIVERY, DeliveryRunner
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import CodecFarm, SimulatedCodec
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import deliver, store_meetings
from tests.unit.delivery.meetings import meeting


@pytest.fixture
async def farm() -> AsyncIterator[CodecFarm]:
    async with CodecFarm() as codec_farm:
        yield codec_farm


@pytest.fixture
async def runner(db: Database) -> AsyncIterator[DeliveryRunner]:
    delivery = DeliveryRunner(
        db, concurrency=4, deadline=3.0, feedback_base_url="http://127.0.0.1:9"
    )
    yield delivery
    # closing ends the codecs' sessions: keep this loop (where the codecs run) free meanwhile
    await asyncio.to_thread(delivery.close)


def room(name: str) -> str:
    return f"{name}@rooms.example.com"


def config(codecs: dict[str, SimulatedCodec], *, bare_username: str = "") -> str:
    """Lab profile with defaults; Bare profile with none (unless ``bare_username``)."""
    return textwrap.dedent(
        f"""\
        profiles:
          - name: Lab
            endpoint_api_username: otj
            endpoint_api_password: profile-pw
            endpoint_use_https: false
            endpoint_verify_cert: false
            endpoint_api_auth: session
            endpoint_feedback_slot: 3
          - name: Bare
            endpoint_use_https: false
            endpoint_api_password: profile-pw
            endpoint_api_username: "{bare_username}"
        endpoint_groups:
          - {{name: Lab rooms, profile: Lab}}
          - {{name: Bare rooms, profile: Bare}}
        endpoints:
          - name: inherits
            group: Lab rooms
            room_resource_email: {room("inherits")}
            api_address: 127.0.0.1
            api_port: {codecs["inherits"].port}
          - name: own
            group: Lab rooms
            room_resource_email: {room("own")}
            api_address: 127.0.0.1
            api_port: {codecs["own"].port}
            api_username: admin
            api_password: own-pw
          - name: half
            group: Lab rooms
            room_resource_email: {room("half")}
            api_address: 127.0.0.1
            api_port: {codecs["half"].port}
            api_username: lab
          - name: nobody
            group: Bare rooms
            room_resource_email: {room("nobody")}
            api_address: 127.0.0.1
            api_port: {codecs["nobody"].port}
        """
    )


async def codecs_for(farm: CodecFarm) -> dict[str, SimulatedCodec]:
    return {
        "inherits": await farm.add("inherits", username="otj", password="profile-pw"),
        "own": await farm.add("own", username="admin", password="own-pw"),
        "half": await farm.add("half", username="lab", password="profile-pw"),
        "nobody": await farm.add("nobody", username="otj", password="profile-pw"),
    }


def seed(db: Database, clock: FakeClock, names: list[str]) -> None:
    for name in names:
        store_meetings(
            db,
            room(name),
            [
                meeting(
                    room=room(name), event_id=f"{name}-1", start=clock.now() + timedelta(hours=1)
                )
            ],
            now=clock.now(),
        )


async def test_codecs_are_reached_with_their_profiles_defaults(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    codecs = await codecs_for(farm)
    result = apply_text(db, config(codecs), environ={})
    assert result.ok, [str(p) for p in result.problems]
    seed(db, clock, ["inherits", "own", "half"])

    report = await deliver(runner, now=clock.now())
    assert (report.pushed, report.failed) == (3, 0), report.endpoints
    for name in ("inherits", "own", "half"):
        assert [b.id for b in codecs[name].bookings] == [f"{name}-1"], name
    # the profile says "session": the codec saw a session begin (and keeps it open)
    inherits = codecs["inherits"]
    assert ("POST", "/xmlapi/session/begin") in inherits.requests
    assert inherits.sessions
    # ... and HttpFeedback slot 3
    assert list(inherits.feedback) == [3]
    assert inherits.feedback[3].url.startswith("http://127.0.0.1:9/api/v1/endpoints/inherits/")


async def test_no_username_anywhere_fails_that_endpoint_alone_with_an_alarm(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    codecs = await codecs_for(farm)
    assert apply_text(db, config(codecs), environ={}).ok
    seed(db, clock, ["inherits", "nobody"])

    report = await deliver(runner, now=clock.now())
    assert (report.pushed, report.failed) == (1, 1)
    failed = next(e for e in report.endpoints if e.endpoint == "nobody")
    assert failed.error == NO_CREDENTIALS
    assert codecs["nobody"].requests == [], "no request, no guessed username"
    assert report.rooms_delivered == (room("inherits"),)
    alarms = db.alarms.active(subject="nobody", kind=ALARM_DELIVERY)
    assert [a.message for a in alarms] == [f"credentials: {NO_CREDENTIALS}"]
    state = db.delivery.get("nobody")
    assert (state.last_result, state.last_error, state.failures) == (
        "credentials",
        NO_CREDENTIALS,
        1,
    )

    # the next cycles report it again without writing anything or raising more alarms
    clock.advance(60)
    again = await deliver(runner, now=clock.now())
    assert (again.pushed, again.failed) == (0, 1)
    assert db.delivery.get("nobody").failures == 1
    assert len(db.alarms.active(subject="nobody", kind=ALARM_DELIVERY)) == 1
    assert codecs["nobody"].requests == []

    # the administrator sets a username on the profile: the list goes out at once (no back-off)
    assert apply_text(db, config(codecs, bare_username="otj"), environ={}).ok
    clock.advance(1)
    fixed = await deliver(runner, now=clock.now())
    assert (fixed.pushed, fixed.failed) == (1, 0)
    assert [b.id for b in codecs["nobody"].bookings] == ["nobody-1"]
    assert room("nobody") in fixed.rooms_delivered
    assert db.alarms.active(subject="nobody", kind=ALARM_DELIVERY) == []
    assert db.delivery.get("nobody").failures == 0


async def test_a_profile_password_change_reconnects_and_repushes(
    db: Database, farm: CodecFarm, runner: DeliveryRunner, clock: FakeClock
) -> None:
    codecs = await codecs_for(farm)
    assert apply_text(db, config(codecs), environ={}).ok
    seed(db, clock, ["inherits"])
    assert (await deliver(runner, now=clock.now())).pushed == 1

    # the codec's password is rotated and so is the profile's: the new one is used at once
    codecs["inherits"].password = "rotated"
    assert apply_text(db, config(codecs).replace("profile-pw", "rotated"), environ={}).ok
    clock.advance(60)
    report = await deliver(runner, now=clock.now())
    assert (report.pushed, report.failed) == (1, 0)
    assert codecs["inherits"].put_count == 2


async def test_the_panel_dials_with_the_profiles_credentials(
    db: Database, farm: CodecFarm, clock: FakeClock
) -> None:
    codecs = await codecs_for(farm)
    assert apply_text(db, config(codecs), environ={}).ok
    now = clock.now()
    for name in ("inherits", "nobody"):
        store_meetings(
            db,
            room(name),
            [meeting(room=room(name), event_id="soon", start=now + timedelta(minutes=2))],
            now=now,
        )
    tokens = {
        name: db.tokens.create("endpoint", name, now=now, endpoint=name)[0]
        for name in ("inherits", "nobody")
    }
    app = FastAPI()
    app.include_router(panel.router(db, clock=clock.now))
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:

            async def dial(name: str) -> httpx.Response:
                return await client.post(
                    f"/panel/{room(name)}/dial",
                    json={"id": "soon"},
                    headers={"X-OTJ-Panel": "1", "Cookie": f"otj_panel={tokens[name]}"},
                )

            ok = await dial("inherits")
            refused = await dial("nobody")
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "dialling"
    assert codecs["inherits"].dials[0]["Number"] == "abc-defg-hij@google.pexip.me"
    assert ("POST", "/xmlapi/session/begin") in codecs["inherits"].requests
    assert refused.status_code == 409
    assert refused.json() == {
        "status": "failed",
        "callId": None,
        "reason": "the room system has no API credentials configured",
    }
    assert codecs["nobody"].requests == []
