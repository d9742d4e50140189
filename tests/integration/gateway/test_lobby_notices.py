"""The lobby from the room's side, end to end: a room (sipp) calls a meeting through the real
gateway, which writes its call records to the store; the far end (sipp) lets the lobby time
out or answers 480; the delivery side notices the record and the room's codec (the simulator)
shows why, within a second or so; "Try again" on the codec dials the meeting again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from guestjoin.cdr import CallRecord
from guestjoin.config import GatewayConfig, StaticConfig
from guestjoin.gateway import Gateway, GatewayOptions
from guestjoin.proxy import ProxyOptions
from guestjoin.storage import StoreRecorder
from otj.api.app import create_app
from otj.delivery.engine.runner import DeliveryRunner
from otj.model import CallRoutingRule, GatewaySettings, ListenAddress
from otj.store import Database
from otj.worker.service import NOTICE_EVERY
from tests.fakes.cisco_codec import CodecFarm, SimulatedCodec
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure, deliver, store_meetings

from .dns_server import ZoneServer, meet_zone
from .peers import scenario, uac, uas

pytestmark = [pytest.mark.peer]

ROOM = "fjord@rooms.example.com"
MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
LOBBY_MS = 1200  # the far end's lobby timer (Meet's is 30 s)


@dataclass
class Site:
    """A room with a simulated codec, a gateway on the store, the worker's notifier, the API."""

    db: Database
    codec: SimulatedCodec
    gateway: Gateway
    runner: DeliveryRunner
    api: str

    async def panel_notice(self) -> object:
        """The ``notice`` the room's panel reads with its endpoint token."""
        token, _ = self.db.tokens.create(
            "endpoint", "panel", now=datetime.now(UTC), endpoint="Oslo Fjord"
        )
        async with httpx.AsyncClient(trust_env=False) as http:
            response = await http.get(
                f"{self.api}/panel/{ROOM}/state", headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200
        return response.json()["notice"]

    @property
    def udp(self) -> str:
        return f"127.0.0.1:{self.gateway.listener('udp').port}"

    def ended(self) -> CallRecord:
        calls = [c for c in self.db.calls.recent(limit=5) if c.end_at is not None]
        assert calls, "no ended call"
        return calls[0]


@pytest.fixture
def api(db: Database) -> Iterator[str]:
    with serve(create_app(db)) as url:
        yield url


async def _notify_forever(runner: DeliveryRunner) -> None:
    """What the worker's room-notices job does, every NOTICE_EVERY seconds."""
    while True:
        await asyncio.to_thread(runner.notify_rooms, now=datetime.now(UTC))
        await asyncio.sleep(NOTICE_EVERY)


@pytest.fixture
async def site(db: Database, zone: ZoneServer, api: str) -> AsyncIterator[Site]:
    async with CodecFarm() as farm:
        codec = await farm.add("fjord")
        fjord = replace(codec_endpoint("Oslo Fjord", ROOM, port=codec.port), sip_username="fjord")
        configure(db, [fjord])
        store_meetings(db, ROOM, [], now=datetime.now(UTC))
        runner = DeliveryRunner(db, deadline=5.0, feedback_base_url=api)
        await deliver(runner, now=datetime.now(UTC))  # registers HttpFeedback
        assert codec.feedback, "the delivery cycle registered no HttpFeedback"
        recorder = StoreRecorder(db)
        config = GatewayConfig(
            rules=(MEET,),
            settings=GatewaySettings(dns_servers=(zone.address,)),
            endpoints=tuple(db.config.endpoints()),
        )
        gateway = Gateway(
            StaticConfig(config),
            recorder,
            options=GatewayOptions(reload_interval=0, proxy=ProxyOptions(lobby_window=10.0)),
        )
        await gateway.start((ListenAddress(transport="udp", address="127.0.0.1", port=0),))
        notifier = asyncio.create_task(_notify_forever(runner))
        try:
            yield Site(db=db, codec=codec, gateway=gateway, runner=runner, api=api)
        finally:
            notifier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await notifier
            await gateway.stop()
            recorder.close()
            runner.close()


async def test_lobby_timeout_prompts_the_room_and_try_again_redials(
    site: Site, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, scenario(tmp_path, "uas_lobby_then_bye.xml", lobby=str(LOBBY_MS)))
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    result = await uac(
        tmp_path, scenario(tmp_path, "uac_far_end_hangs_up.xml"), site.udp, caller="fjord"
    )
    result.check()
    (await far.wait()).check()
    await site.codec.wait_until(lambda c: c.screen.prompt is not None, timeout=10)
    call = site.ended()
    assert (call.cause, call.endpoint_name) == ("not_admitted", "Oslo Fjord")
    prompt = site.codec.screen.prompt
    assert prompt is not None
    latency = (prompt.shown_at - call.end_at).total_seconds()  # type: ignore[operator]
    print(f"lobby timeout → prompt on the codec: {latency * 1000:.0f} ms")
    assert latency < 3.0
    assert prompt.title == "Not admitted to the meeting"
    assert prompt.text == (
        "Nobody let you into the meeting within 1 second. "
        "Try again, or ask the host to admit 'Oslo Fjord'."
    )
    assert prompt.options == {1: "Try again", 2: "Close"}
    assert prompt.feedback_id == f"otj-lobby-{call.id}"
    assert site.codec.commands.count("UserInterface Message Prompt Display") == 1
    assert site.db.calls.get(call.id).room_notified_at is not None  # type: ignore[union-attr]
    assert await site.panel_notice() == {
        "call": call.id,
        "cause": "not_admitted",
        "title": prompt.title,
        "text": prompt.text,
        "retry": True,
    }

    # a person taps "Try again": the codec posts the Prompt Response, otj makes it dial again
    assert await site.codec.choose(1) == [204]
    await site.codec.wait_until(lambda c: bool(c.dials), timeout=10)
    assert site.codec.dials == [
        {
            "Number": "abc-defg-hij@google.pexip.me",
            "Protocol": "Sip",
            "BookingId": "",
            "CallType": "Video",
        }
    ]
    await asyncio.sleep(2 * NOTICE_EVERY)  # told once, however often the job looks
    assert site.codec.commands.count("UserInterface Message Prompt Display") == 1


async def test_480_from_the_host_shows_an_alert(
    site: Site, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(
        tmp_path, scenario(tmp_path, "uas_reject.xml", code="480", reason="Call rejected")
    )
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    result = await uac(
        tmp_path, scenario(tmp_path, "uac_fail.xml", code="480"), site.udp, caller="fjord"
    )
    result.check()
    (await far.wait()).check()
    await site.codec.wait_until(lambda c: c.screen.alert is not None, timeout=10)
    call = site.ended()
    assert (call.cause, call.final_code) == ("call_rejected", 480)
    alert = site.codec.screen.alert
    assert alert is not None
    latency = (alert.shown_at - call.end_at).total_seconds()  # type: ignore[operator]
    print(f"480 → alert on the codec: {latency * 1000:.0f} ms")
    assert latency < 3.0
    assert (alert.title, alert.text) == ("Call declined", "The meeting host declined the call.")
    assert alert.duration == 20
    assert site.codec.screen.prompt is None  # nothing to try again
    notice = await site.panel_notice()
    assert isinstance(notice, dict)
    assert (notice["text"], notice["retry"]) == (alert.text, False)
    assert site.codec.dials == []
