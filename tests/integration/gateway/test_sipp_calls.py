"""Calls through the gateway between real sipp peers: the endpoint (UAC) and the Pexip Service
stand-ins (UAS) found by RFC 3263 DNS from a dnslib server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings

from .dns_server import ZoneServer, meet_zone
from .peers import GatewayUnderTest, running_gateway, scenario, uac, uas

pytestmark = [pytest.mark.peer]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


def config(zone: ZoneServer, **settings: object) -> GatewayConfig:
    return GatewayConfig(
        rules=(MEET,),
        settings=GatewaySettings(dns_servers=(zone.address,), **settings),  # type: ignore[arg-type]
    )


OPTIONS = GatewayOptions(
    reload_interval=0, proxy=ProxyOptions(lobby_window=10.0, failover_timeout=3.0)
)


@pytest.fixture
async def gw(zone: ZoneServer) -> AsyncIterator[GatewayUnderTest]:
    async with running_gateway(config(zone), OPTIONS) as gut:
        yield gut


async def test_a_call_succeeds_and_is_recorded(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, "uas_answer.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    result = await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)
    result.check()
    far_result = (await far.wait()).check()
    # what the Pexip Service saw: the routed URI, a capped SDP, our Record-Route
    assert "ruri=sip:abc-defg-hij@google.pexip.me" in far_result.logs
    assert "b=AS:2000 b=TIAS:2000000" in far_result.logs
    assert "answer b=AS:2000" in result.logs  # the answer is capped on its way back too
    assert "INVITE pai=\n" in far_result.logs  # an untrusted caller's identity claim is dropped
    rr = f"rr= <sip:127.0.0.1:{gw.udp.split(':')[1]};transport=udp;lr;otj-dlg="
    assert re.search(re.escape(rr) + "[0-9a-f]{32}>", far_result.logs)  # with its dialog token
    call = await gw.ended()
    assert call.cause == "completed"
    assert call.final_code == 200
    assert call.rule == "SIP Guest Join"
    assert call.dialled_alias == "abc-defg-hij@google.pexip.me"
    assert call.routed_alias == "abc-defg-hij@google.pexip.me"
    assert call.conference == "abc-defg-hij"
    assert call.target == f"udp:127.0.0.1:{far.port} (google.pexip.me)"
    assert call.invite_at <= call.ringing_at <= call.answer_at <= call.end_at  # type: ignore[operator]
    assert gw.gateway.proxy is not None
    assert gw.gateway.proxy.licences.in_use == 0


async def test_no_matching_rule_is_404_and_never_relayed(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, "uas_answer.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], domain="example.com"))
    try:
        result = await uac(
            tmp_path,
            scenario(tmp_path, "uac_fail.xml", code="404"),
            gw.udp,
            service="someone",
            domain="example.com",
        )
        result.check()
        call = await gw.ended()
        assert (call.cause, call.final_code, call.rule) == ("no_route", 404, "")
        assert "SIP Guest Join: no match for 'someone@example.com'" in call.detail
        assert zone.count("example.com", "NAPTR") == 0  # not even looked up
    finally:
        far.kill()


async def test_first_target_503_fails_over_to_the_second(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    busy = await uas(
        tmp_path, scenario(tmp_path, "uas_reject.xml", code="503", reason="Service Unavailable")
    )
    good = await uas(tmp_path, "uas_answer.xml")
    zone.set_zone(meet_zone([("127.0.0.1", busy.port), ("127.0.0.1", good.port)]))
    (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)).check()
    (await busy.wait()).check()
    (await good.wait()).check()
    call = await gw.ended()
    assert call.cause == "completed"
    assert call.target == f"udp:127.0.0.1:{good.port} (google.pexip.me)"


async def test_cancel_before_answer(gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path) -> None:
    far = await uas(tmp_path, "uas_ring_cancel.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    (await uac(tmp_path, scenario(tmp_path, "uac_cancel.xml"), gw.udp)).check()
    (await far.wait()).check()
    call = await gw.ended()
    assert (call.cause, call.final_code) == ("cancelled", 487)
    assert call.ringing_at is not None
    assert call.answer_at is None


async def test_far_end_hangs_up_during_the_lobby_wait_is_not_admitted(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, scenario(tmp_path, "uas_lobby_then_bye.xml", lobby="800"))
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    (await uac(tmp_path, scenario(tmp_path, "uac_far_end_hangs_up.xml"), gw.udp)).check()
    (await far.wait()).check()
    call = await gw.ended()
    assert call.cause == "not_admitted"
    assert call.answer_at is not None
    assert call.end_at is not None
    assert (call.end_at - call.answer_at).total_seconds() >= 0.7
    assert 'text="Not admitted"' in call.detail


async def test_480_is_call_rejected(gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path) -> None:
    far = await uas(
        tmp_path, scenario(tmp_path, "uas_reject.xml", code="480", reason="Call rejected")
    )
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    (await uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code="480"), gw.udp)).check()
    (await far.wait()).check()
    call = await gw.ended()
    assert (call.cause, call.final_code) == ("call_rejected", 480)
    assert call.detail == "480 Call rejected"


async def test_licence_limit_answers_503_with_retry_after(zone: ZoneServer, tmp_path: Path) -> None:
    async with running_gateway(config(zone, call_licenses=2), OPTIONS) as gw:
        far = await uas(tmp_path, scenario(tmp_path, "uas_lobby_then_bye.xml", lobby="3000"))
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
        import asyncio

        first = asyncio.create_task(
            uac(tmp_path, scenario(tmp_path, "uac_far_end_hangs_up.xml"), gw.udp)
        )
        while not any(c.answer_at for c in gw.recorder.calls.values()):
            await asyncio.sleep(0.05)
        second = await uac(
            tmp_path, scenario(tmp_path, "uac_fail.xml", code="503"), gw.udp, service="xyz-abcd-efg"
        )
        second.check()
        assert "final=503 retry_after=30" in second.logs
        refused = next(c for c in gw.recorder.calls.values() if c.cause == "licence_limit")
        assert refused.final_code == 503
        (await first).check()
        (await far.wait()).check()
        assert gw.gateway.proxy is not None
        assert gw.gateway.proxy.licences.in_use == 0


async def test_register_with_digest_then_registered_only_rule(
    zone: ZoneServer, tmp_path: Path
) -> None:
    import dataclasses

    from otj.model import Endpoint
    from otj.secret import Secret

    fjord = Endpoint(
        name="Oslo Fjord",
        group="Oslo rooms",
        room_resource_email="fjord@resource.example.com",
        sip_username="fjord",
        sip_password=Secret("s3cret-fjord"),
    )
    rule = dataclasses.replace(MEET, match_incoming_only_if_registered=True)
    cfg = dataclasses.replace(config(zone), rules=(rule,), endpoints=(fjord,))
    # sipp 3.6 answers the first challenge and knows MD5 only: offer MD5 first here
    # (SHA-256 is checked in tests/unit/gateway/test_registrar.py)
    options = dataclasses.replace(OPTIONS, digest_algorithms=("MD5", "SHA-256"))
    async with running_gateway(cfg, options) as gw:
        far = await uas(tmp_path, "uas_answer.xml")
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
        # not registered: the only rule does not apply, so there is no route
        unregistered = await uac(
            tmp_path, scenario(tmp_path, "uac_fail.xml", code="404"), gw.udp, caller="fjord"
        )
        unregistered.check()
        assert (await gw.ended()).cause == "no_route"
        # wrong password: 403
        # registered: the call goes through, and the Meet host sees the room's name
        registered = await uac(
            tmp_path,
            scenario(tmp_path, "uac_register_call.xml", user="fjord", password="s3cret-fjord"),
            gw.udp,
            caller="fjord",
            domain="otj.example.com",
        )
        registered.check()
        assert "registered  <sip:fjord@127.0.0.1:" in registered.logs
        assert ">;expires=600" in registered.logs
        far_result = (await far.wait()).check()
        assert 'from= "Oslo Fjord" <sip:fjord@otj.example.com>' in far_result.logs
        call = await gw.ended("@")
        assert (call.cause, call.endpoint_name, call.caller_name) == (
            "completed",
            "Oslo Fjord",
            "Oslo Fjord",
        )


async def test_silent_first_target_fails_over_after_the_timeout(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    from .peers import free_port

    silent = free_port()  # nobody answers there
    good = await uas(tmp_path, "uas_answer.xml")
    zone.set_zone(meet_zone([("127.0.0.1", silent), ("127.0.0.1", good.port)]))
    (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)).check()
    (await good.wait()).check()
    call = await gw.ended()
    assert call.cause == "completed"
    assert call.target == f"udp:127.0.0.1:{good.port} (google.pexip.me)"
    assert call.answer_at is not None
    # the failover waited for the configured timeout (3 s here), not Timer B (32 s)
    assert 2.5 < (call.answer_at - call.invite_at).total_seconds() < 10


async def test_chat_messages_are_relayed_both_ways(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    """Meet chat (SIP MESSAGE inside the dialog, RFC 3428) reaches the room, and back."""
    far = await uas(tmp_path, "uas_chat.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    room = (await uac(tmp_path, scenario(tmp_path, "uac_chat.xml"), gw.udp)).check()
    far_result = (await far.wait()).check()
    assert "chat=Room chat: hello from the room" in far_result.logs
    assert "chat=Meet chat: welcome to the meeting" in room.logs
    call = await gw.ended()
    assert (call.cause, call.final_code) == ("completed", 200)
