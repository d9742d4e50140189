"""baresip as the room: it dials the Virtual Reception through the gateway (outbound proxy),
types a Zoom meeting ID as RFC 4733 events (key presses on its ``cons`` command interface),
follows the REFER back through the gateway, and lands on the far end found by DNS."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from guestjoin.cdr import CallDetail
from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from otj.model import CallRoutingRule, GatewaySettings, IdRule, VirtualReception

from .dns_server import ZoneServer, meet_zone
from .peers import Baresip, GatewayUnderTest, free_port, running_gateway, uas

pytestmark = [pytest.mark.peer, pytest.mark.slow, pytest.mark.timeout(60)]

JOIN = VirtualReception(
    name="Join",
    aliases=(r"join@vc\.example\.com",),
    id_rules=(IdRule(match=r"(\d{9,11})", replace=r"\1@zoomcrc.com"),),
)
ZOOM = CallRoutingRule(name="Zoom", priority=20, match_string=r"\d{9,11}@zoomcrc\.com")


async def answered(gw: GatewayUnderTest, alias: str, timeout: float = 10) -> CallDetail:
    """The record of a call to ``alias`` once it is answered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for call in list(gw.recorder.calls.values()):
            if call.dialled_alias == alias and call.answer_at is not None:
                return call
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answered call to {alias}: {list(gw.recorder.calls.values())}")


async def test_baresip_types_a_zoom_id_and_is_transferred_by_refer(
    zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, "uas_answer.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], domain="zoomcrc.com"))
    config = GatewayConfig(
        rules=(ZOOM,), receptions=(JOIN,), settings=GatewaySettings(dns_servers=(zone.address,))
    )
    async with running_gateway(config, GatewayOptions(reload_interval=0)) as gw:
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
            for key in "123456789#":
                keys.sendto(key.encode(), ("127.0.0.1", console))
                await asyncio.sleep(0.2)  # a person's pace: one RFC 4733 event per press
        transferred = await answered(gw, "123456789@zoomcrc.com", timeout=20)
        reception = await gw.ended(first.call_id)
        room_result = await room.stop()
        await far.wait(10)
    output = room_result.output
    assert "send DTMF digit: '#'" in output
    assert "transferring call" in output
    assert (reception.reception, reception.digits_outcome, reception.transfer_method) == (
        "Join",
        "id",
        "refer",
    )
    assert reception.cause == "transferred", reception
    assert transferred.rule == "Zoom"
    assert transferred.target == f"udp:127.0.0.1:{far.port} (zoomcrc.com)"
    assert transferred.call_id != reception.call_id
