"""Trusted and untrusted calls (issue 13 §2) with real sipp peers: a far end that challenges
and checks the answer with sipp's ``verifyauth``; a trusted rule (by source network) answers it
with the stored ``sip_credentials``, an untrusted one passes the challenge to the room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings, SipCredential
from otj.secret import Secret

from .dns_server import ZoneServer, meet_zone
from .peers import GatewayUnderTest, running_gateway, scenario, uac, uas

pytestmark = [pytest.mark.peer]

MEET = r"[a-z\-]{10,12}@google\.pexip\.me"
TRUSTED = CallRoutingRule(
    name="Trusted office", priority=10, match_string=MEET, match_source=("127.0.0.1/32",),
    outbound_credentials="office-token",
)  # fmt: skip
EVERYONE = CallRoutingRule(name="Everyone else", priority=20, match_string=MEET)
OPTIONS = GatewayOptions(
    reload_interval=0, proxy=ProxyOptions(lobby_window=10.0, failover_timeout=3.0)
)


def config(zone: ZoneServer, password: str) -> GatewayConfig:
    token = SipCredential(
        name="office-token", username="oslo-gw", password=Secret(password), realm="pexip.example"
    )
    return GatewayConfig(
        rules=(TRUSTED, EVERYONE),
        settings=GatewaySettings(dns_servers=(zone.address,)),
        credentials=(token,),
    )


@pytest.fixture
async def gw(zone: ZoneServer) -> AsyncIterator[GatewayUnderTest]:
    async with running_gateway(config(zone, "trust-pw"), OPTIONS) as gut:
        yield gut


async def test_a_trusted_room_s_call_answers_the_challenge_with_the_stored_credentials(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, scenario(tmp_path, "uas_challenge.xml", user="oslo-gw",
                                       password="trust-pw"))  # fmt: skip
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp)).check()
    logs = (await far.wait()).check().logs
    assert "retried INVITE auth=true cseq=2" in logs  # the room sent CSeq 1 only
    assert 'BYE cseq=3 auth= Digest username="oslo-gw"' in logs  # the dialog stays answered
    call = await gw.ended()
    assert (call.rule, call.cause, call.final_code) == ("Trusted office", "completed", 200)


async def test_wrong_stored_credentials_are_refused_by_the_far_end(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    gw.set_config(config(zone, "not-the-password"))
    far = await uas(tmp_path, scenario(tmp_path, "uas_challenge.xml", user="oslo-gw",
                                       password="trust-pw"))  # fmt: skip
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    result = await uac(tmp_path, scenario(tmp_path, "uac_fail.xml", code="403"), gw.udp)
    result.check()
    assert "retried INVITE auth=false" in (await far.wait()).logs
    call = await gw.ended()
    assert (call.rule, call.final_code) == ("Trusted office", 403)


async def test_an_untrusted_room_gets_the_challenge_and_answers_it_itself(
    gw: GatewayUnderTest, zone: ZoneServer, tmp_path: Path
) -> None:
    far = await uas(tmp_path, scenario(tmp_path, "uas_challenge.xml", user="room7",
                                       password="room-pw"))  # fmt: skip
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    room = scenario(tmp_path, "uac_call_auth.xml", user="room7", password="room-pw")
    result = await uac(tmp_path, room, gw.udp, args=("-i", "127.0.0.3"))
    result.check()
    assert "challenge reached the room" in result.logs
    assert "retried INVITE auth=true" in (await far.wait()).check().logs
    call = await gw.ended("", timeout=15)
    assert call.rule == "Everyone else"
