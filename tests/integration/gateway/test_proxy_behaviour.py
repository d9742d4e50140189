"""Proxy behaviour against real peers: Timer C on an injected clock, loops, allow list, DNS
failures, a configured SIP proxy target, and large requests moving from UDP to TCP."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings, SipProxy
from tests.unit.gateway.support import ManualClock

from .dns_server import ZoneServer, meet_zone
from .peers import SCENARIOS, running_gateway, scenario, uac, uas

pytestmark = [pytest.mark.peer]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
OPTIONS = GatewayOptions(reload_interval=0, proxy=ProxyOptions(failover_timeout=2.0))


def config(zone: ZoneServer, **settings: object) -> GatewayConfig:
    return GatewayConfig(
        rules=(MEET,),
        settings=GatewaySettings(dns_servers=(zone.address,), **settings),  # type: ignore[arg-type]
    )


async def test_timer_c_cancels_a_ringing_call_only_well_after_the_lobby_wait(
    zone: ZoneServer, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with running_gateway(config(zone), OPTIONS, clock=clock) as gw:
        far = await uas(tmp_path, "uas_ring_cancel.xml")
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
        caller = asyncio.create_task(
            uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code="408"), gw.udp)
        )
        while not any(c.ringing_at for c in gw.recorder.calls.values()):
            await asyncio.sleep(0.02)
        clock.advance(60)  # a guest may sit in the lobby this long: nothing happens
        await asyncio.sleep(0.3)
        assert all(c.live for c in gw.recorder.calls.values())
        clock.advance(121)  # Timer C (180 s) fires: CANCEL downstream, 408 upstream
        result = await caller
        result.check()
        (await far.wait()).check()
        call = await gw.ended()
        assert (call.cause, call.final_code) == ("timeout", 408)


async def test_gateway_pointing_at_itself_is_a_loop(zone: ZoneServer, tmp_path: Path) -> None:
    async with running_gateway(config(zone), OPTIONS) as gw:
        zone.set_zone(meet_zone([("127.0.0.1", int(gw.udp.split(":")[1]))]))
        (await uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code="482"), gw.udp)).check()
        call = await gw.ended()
        assert call.final_code == 482


async def test_two_gateways_routing_to_each_other_detect_the_loop(
    zone: ZoneServer, tmp_path: Path
) -> None:
    async with running_gateway(config(zone), OPTIONS) as first:
        port_a = int(first.udp.split(":")[1])
        to_a = SipProxy(name="A", address="127.0.0.1", port=port_a, transport="udp")
        via_a = dataclasses.replace(MEET, sip_proxy="A")
        async with running_gateway(
            GatewayConfig(rules=(via_a,), proxies=(to_a,), settings=GatewaySettings()), OPTIONS
        ) as second:
            port_b = int(second.udp.split(":")[1])
            to_b = SipProxy(name="B", address="127.0.0.1", port=port_b, transport="udp")
            first.set_config(
                dataclasses.replace(
                    config(zone), rules=(dataclasses.replace(MEET, sip_proxy="B"),), proxies=(to_b,)
                )
            )
            result = await uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code="482"), first.udp)
            result.check()
            looped = await second.ended()
            assert looped.final_code == 482  # the second gateway answered "Loop Detected"


async def test_source_allow_list(zone: ZoneServer, tmp_path: Path) -> None:
    async with running_gateway(config(zone, allowed_sources=("192.0.2.0/24",)), OPTIONS) as gw:
        (await uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code="403"), gw.udp)).check()
        call = await gw.ended()
        assert (call.cause, call.final_code) == ("forbidden", 403)
        far = await uas(tmp_path, "uas_answer.xml")
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
        gw.set_config(config(zone, allowed_sources=("127.0.0.0/8",)))
        (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)).check()
        (await far.wait()).check()


@pytest.mark.parametrize(
    ("failure", "code"), [("nxdomain", "404"), ("servfail", "503"), ("timeout", "503")]
)
async def test_dns_failures(zone: ZoneServer, tmp_path: Path, failure: str, code: str) -> None:
    options = dataclasses.replace(OPTIONS, dns_timeout=0.5)
    async with running_gateway(config(zone), options) as gw:
        if failure == "servfail":
            zone.servfail.add("google.pexip.me.")
        elif failure == "timeout":
            zone.silent.add("google.pexip.me.")
        (await uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code=code), gw.udp)).check()
        call = await gw.ended()
        assert (call.cause, call.final_code) == ("dns_failure", int(code))


async def test_rule_with_a_configured_sip_proxy_skips_dns(zone: ZoneServer, tmp_path: Path) -> None:
    far = await uas(tmp_path, "uas_answer.xml")
    edge = SipProxy(name="Edge", address="127.0.0.1", port=far.port, transport="udp")
    rule = dataclasses.replace(MEET, sip_proxy="Edge", treat_as_trusted=True)
    cfg = dataclasses.replace(config(zone), rules=(rule,), proxies=(edge,))
    async with running_gateway(cfg, OPTIONS) as gw:
        (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)).check()
        far_result = (await far.wait()).check()
        # a trusted destination receives the caller's P-Asserted-Identity (RFC 3325)
        assert 'INVITE pai= "CEO" <sip:ceo@example.com>' in far_result.logs
        call = await gw.ended()
        assert call.target == f"udp:127.0.0.1:{far.port} via proxy Edge"
        assert zone.count("google.pexip.me", "NAPTR") == 0


async def test_requests_over_1300_bytes_leave_by_tcp(zone: ZoneServer, tmp_path: Path) -> None:
    """RFC 3261 §18.1.1: DNS says UDP, the INVITE is too big for it: TCP to the same port."""
    big = (
        (SCENARIOS / "uac_call.xml")
        .read_text()
        .replace(
            "      Subject: Guest join\n",
            "      Subject: Guest join\n"
            + "".join(f"      X-Pad-{i}: {'p' * 80}\n" for i in range(12)),
        )
    )
    path = tmp_path / "uac_big.xml"
    path.write_text(big)
    async with running_gateway(config(zone), OPTIONS) as gw:
        far = await uas(tmp_path, "uas_answer.xml", args=("-t", "t1"))
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))  # UDP only in DNS
        (await uac(tmp_path, path, gw.udp)).check()
        (await far.wait()).check()
        call = await gw.ended()
        assert call.cause == "completed"
        assert call.target.startswith(f"tcp:127.0.0.1:{far.port}")


async def test_options_is_answered_locally(zone: ZoneServer) -> None:
    async with running_gateway(config(zone), OPTIONS) as gw:
        host, port = gw.udp.split(":")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            sock.sendto(
                b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
                b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-o;rport\r\n"
                b"From: <sip:ping@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o1\r\n"
                b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                (host, int(port)),
            )
            reply = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 9000), 5)
        assert reply.startswith(b"SIP/2.0 200 OK")
        assert b"Allow: INVITE, ACK, CANCEL, BYE" in reply
        assert gw.recorder.calls == {}  # keep-alives are not calls
