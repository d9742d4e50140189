"""baresip as the room: it dials the Virtual Reception through the gateway (outbound proxy),
types a Zoom meeting ID, or presses ``#`` for its own meeting, as RFC 4733 events (key presses
on its ``cons`` command interface), follows the REFER back through the gateway, and lands on
the far end found by DNS (the Zoom or the Pexip Service stand-in)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guestjoin.cdr import CallRecord
from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.reception.machine import CalendarOffer
from otj.model import (
    CallRoutingRule,
    Endpoint,
    GatewaySettings,
    IdRule,
    Platform,
    VirtualReception,
)

from .dns_server import ZoneServer, meet_zone
from .peers import Baresip, GatewayUnderTest, free_port, running_gateway, uas

pytestmark = [pytest.mark.peer, pytest.mark.slow, pytest.mark.timeout(60)]

JOIN = VirtualReception(
    name="Join",
    aliases=(r"join@vc\.example\.com",),
    id_rules=(IdRule(match=r"(\d{9,11})", replace=r"\1@zoomcrc.com"),),
)
ZOOM = CallRoutingRule(name="Zoom", priority=20, match_string=r"\d{9,11}@zoomcrc\.com")
MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
ROOM = Endpoint(
    name="Oslo Fjord", group="g", room_resource_email="fjord@example.com", api_address="127.0.0.1"
)
MEETING = CalendarOffer(
    alias="abc-defg-hij@google.pexip.me",
    subject="Weekly sync",
    platform=Platform.GOOGLE_MEET,
    start=datetime.now(UTC),
)


class RoomCalendar:
    """The store's answer: the Oslo Fjord room is in its Meet meeting now."""

    def offer(self, room: str, now: datetime) -> CalendarOffer | None:
        return MEETING if room == ROOM.room_resource_email else None


async def answered(gw: GatewayUnderTest, alias: str, timeout: float = 10) -> CallRecord:
    """The record of a call to ``alias`` once it is answered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for call in list(gw.recorder.calls.values()):
            if call.dialled_alias == alias and call.answer_at is not None:
                return call
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answered call to {alias}: {list(gw.recorder.calls.values())}")


@pytest.mark.parametrize(
    ("typed", "alias", "domain", "rule", "outcome"),
    [
        ("123456789#", "123456789@zoomcrc.com", "zoomcrc.com", "Zoom", "id"),
        ("#", MEETING.alias, "google.pexip.me", "SIP Guest Join", "calendar_join"),
    ],
)
async def test_baresip_keys_and_is_transferred_by_refer(
    zone: ZoneServer, tmp_path: Path, typed: str, alias: str, domain: str, rule: str, outcome: str
) -> None:
    far = await uas(tmp_path, "uas_answer.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], domain=domain))
    config = GatewayConfig(
        rules=(MEET, ZOOM),
        receptions=(JOIN,),
        endpoints=(ROOM,),
        settings=GatewaySettings(dns_servers=(zone.address,)),
    )
    options = GatewayOptions(reload_interval=0)
    async with running_gateway(config, options, calendar=RoomCalendar()) as gw:
        console = free_port()
        room = await Baresip(
            tmp_path / "room",
            f'<sip:room@127.0.0.1>;regint=0;outbound="sip:{gw.udp};transport=udp"',
            config=["module cons.so", f"cons_listen 127.0.0.1:{console}"],
            commands=["/dial sip:join@vc.example.com"],
            quit_after=30,
        ).start()
        first = await answered(gw, "join@vc.example.com")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as keys:
            for key in typed:
                keys.sendto(key.encode(), ("127.0.0.1", console))
                await asyncio.sleep(0.2)  # a person's pace: one RFC 4733 event per press
        transferred = await answered(gw, alias, timeout=20)
        reception = await gw.ended(first.call_id)
        room_result = await room.stop()
        await far.wait(10)
    output = room_result.output
    assert "send DTMF digit: '#'" in output
    assert "transferring call" in output
    assert (reception.reception, reception.digits_outcome, reception.transfer_method) == (
        "Join",
        outcome,
        "refer",
    )
    assert reception.cause == "transferred", reception
    assert reception.endpoint_name == "Oslo Fjord"
    assert transferred.rule == rule
    assert transferred.target == f"udp:127.0.0.1:{far.port} ({domain})"
    assert transferred.caller_name == "Oslo Fjord"  # the name the Meet host sees
    assert transferred.call_id != reception.call_id
