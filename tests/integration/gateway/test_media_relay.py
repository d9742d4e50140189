"""Relayed calls through the gateway and a real rtpengine: a sipp room streaming RTP, a sipp far
end (found by DNS) echoing it, SRTP outside with plain RTP inside, an engine stopped and
started mid-run, two engines. After each test rtpengine holds no media session (``list``)."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from guestjoin.cdr import CallRecord
from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.media.pool import ALARM_KIND
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings, RtpEngineAddress

from .dns_server import ZoneServer, meet_zone
from .peers import (
    SCENARIOS,
    GatewayUnderTest,
    Kamailio,
    free_port,
    running_gateway,
    scenario,
    uac,
    uas,
)
from .rtpengine import INSIDE, OUTSIDE, RtpEngine, running_rtpengine

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]

RELAY = CallRoutingRule(
    name="Relayed", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me", media="relay"
)
DIRECT = CallRoutingRule(
    name="Direct", priority=5, match_string=r"direct-[a-z]{3}@google\.pexip\.me"
)
OPTIONS = GatewayOptions(
    reload_interval=0, proxy=ProxyOptions(lobby_window=10.0, failover_timeout=3.0)
)
PACKETS = 50  # one second of 20 ms PCMU frames


class Alarms:
    """Collects the gateway's alarms (the store adapter's interface)."""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], str] = {}

    def raise_alarm(self, kind: str, subject: str, message: str) -> None:
        self.active[(kind, subject)] = message

    def clear_alarm(self, kind: str, subject: str) -> None:
        self.active.pop((kind, subject), None)


def config(zone: ZoneServer, engines: list[RtpEngine], **rule: object) -> GatewayConfig:
    relay = CallRoutingRule(**{**_fields(RELAY), **rule})  # type: ignore[arg-type]
    return GatewayConfig(
        rules=(relay, DIRECT),
        settings=GatewaySettings(
            dns_servers=(zone.address,),
            rtpengines=tuple(RtpEngineAddress(address=e.address) for e in engines),
        ),
    )


def _fields(rule: CallRoutingRule) -> dict[str, object]:
    return {name: getattr(rule, name) for name in rule.__dataclass_fields__}


def media_port() -> int:
    """A port for sipp's -mp with the three after it free too (sipp binds the audio and video
    RTP ports and their RTCP successors)."""
    for _ in range(50):
        port = free_port()
        if port % 2 == 0 and all(_udp_free(port + i) for i in range(1, 4)):
            return port
    raise RuntimeError("no free media port block")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def fill(directory: Path, name: str, **values: str) -> Path:
    """A scenario with its ``@KEY@`` placeholders filled in (values may hold paths)."""
    text = (SCENARIOS / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", value)
    out = directory / f"{Path(name).stem}-{free_port()}.xml"
    out.write_text(text)
    return out


def echo_scenario(directory: Path, *, srtp: bool = False, profile: str = "") -> Path:
    """The far end: plain RTP, or SRTP taking back the offer's own key (so that what it echoes
    is decryptable by rtpengine)."""
    crypto = "a=crypto:[$ctag] AES_CM_128_HMAC_SHA1_80 [$ckey]" if srtp else "a=sendrecv"
    profile = profile or ("RTP/SAVP" if srtp else "RTP/AVP")
    return fill(directory, "uas_echo.xml", profile=profile, crypto=crypto)


def ulaw_wav(path: Path, packets: int = PACKETS) -> Path:
    """An 8 kHz mu-law WAV (format 7) of ``packets`` 20 ms frames: sipp's rtp_stream source."""
    data = bytes([0xFF, 0x7F] * 80) * packets
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@dataclass
class Relayed:
    gw: GatewayUnderTest
    engine: RtpEngine
    zone: ZoneServer
    alarms: Alarms


@pytest.fixture
async def relayed(zone: ZoneServer, tmp_path: Path) -> AsyncIterator[Relayed]:
    async with (
        running_rtpengine(tmp_path / "rtpengine") as engine,
        running_gateway(config(zone, [engine]), OPTIONS) as gw,
    ):
        alarms = Alarms()
        gw.gateway.media.alarms = alarms
        yield Relayed(gw, engine, zone, alarms)


async def far_end(
    tmp_path: Path, zone: ZoneServer, *, srtp: bool = False, profile: str = ""
) -> tuple[object, int]:
    port = media_port()
    path = echo_scenario(tmp_path, srtp=srtp, profile=profile)
    far = await uas(tmp_path, path, args=("-rtp_echo", "-mp", str(port)))
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
    return far, port


async def room_call(
    tmp_path: Path, gw: GatewayUnderTest, service: str = "abc-defg-hij", hold: int = 1500
):  # type: ignore[no-untyped-def]
    wav = ulaw_wav(tmp_path / f"tone-{free_port()}.wav")
    path = fill(tmp_path, "uac_rtp_call.xml", rtp_file=str(wav), hold=str(hold))
    return await uac(tmp_path, path, gw.udp, service=service, args=("-mp", str(media_port())))


async def figures(gw: GatewayUnderTest, timeout: float = 10) -> CallRecord:
    """The ended call once its media figures are in (written after rtpengine's delete)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        done = [c for c in gw.recorder.calls.values() if not c.live and c.media_engine]
        if done:
            return done[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no call with media figures: {list(gw.recorder.calls.values())}")


def in_range(engine: RtpEngine, port: int) -> bool:
    return engine.port_min <= port < engine.port_min + 1000


async def test_a_relayed_call_anchors_media_on_rtpengine(relayed: Relayed, tmp_path: Path) -> None:
    far, _ = await far_end(tmp_path, relayed.zone)
    result = await room_call(tmp_path, relayed.gw)
    result.check()
    far_result = (await far.wait()).check()  # type: ignore[attr-defined]
    offer = re.search(r"offer c=IN IP4 (\S+) m=audio (\d+) (\S+) b=AS:(\d+)", far_result.logs)
    assert offer, far_result.logs
    assert offer[1] == OUTSIDE  # the far end sends its media to rtpengine's outside address
    assert in_range(relayed.engine, int(offer[2]))
    assert offer[4] == "2000"  # the bandwidth cap survives the rewrite
    answer = re.search(r"answer c=IN IP4 (\S+) m=audio (\d+) (\S+) b=AS:(\d+)", result.logs)
    assert answer, result.logs
    assert answer[1] == INSIDE  # the room sends its media to the inside address
    assert in_range(relayed.engine, int(answer[2]))
    assert answer[4] == "2000"
    call = await figures(relayed.gw)
    assert call.cause == "completed"
    assert call.media_engine == relayed.engine.address
    assert call.media_room_packets >= PACKETS - 5  # the room's stream reached rtpengine
    assert call.media_far_packets >= PACKETS - 5  # and came back from the echoing far end
    assert call.media_room_bytes >= call.media_room_packets * 172
    assert await relayed.engine.calls() == []


@pytest.mark.parametrize(
    ("encryption", "answer", "outside"),
    [
        ("required", "RTP/SAVP", "RTP/SAVP"),  # RFC 3711/4568 SDES-SRTP
        ("best_effort", "RTP/AVP+crypto", "RTP/AVP"),  # RFC 8643: taken opportunistically
        ("best_effort", "RTP/AVP", "RTP/AVP"),  # the far end refuses: plain RTP, call works
    ],
)
async def test_srtp_outside_plain_inside(
    zone: ZoneServer, tmp_path: Path, encryption: str, answer: str, outside: str
) -> None:
    async with running_rtpengine(tmp_path / "rtpengine") as engine:
        cfg = config(zone, [engine], outbound_media_encryption=encryption)
        async with running_gateway(cfg, OPTIONS) as gw:
            srtp = answer != "RTP/AVP"
            profile = answer.removesuffix("+crypto")
            far, _ = await far_end(tmp_path, zone, srtp=srtp, profile=profile)
            result = await room_call(tmp_path, gw)
            result.check()
            far_logs = (await far.wait()).check().logs  # type: ignore[attr-defined]
            offered = re.search(r"offer c=IN IP4 \S+ m=audio \d+ (\S+) .* crypto=(.*)", far_logs)
            assert offered, far_logs
            assert offered[1] == outside
            assert "AES_CM_128_HMAC_SHA1_80" in offered[2]  # keys offered either way
            # the room's answer: plain RTP, no keys
            assert re.search(r"answer c=IN IP4 \S+ m=audio \d+ RTP/AVP .*crypto=\n", result.logs)
            call = await figures(gw)
            assert call.cause == "completed"
            assert call.media_room_packets >= PACKETS - 5
            assert call.media_far_packets >= PACKETS - 5  # echoed, and relayed to the room


async def test_required_srtp_refused_by_the_far_end_fails_the_call(
    zone: ZoneServer, tmp_path: Path
) -> None:
    async with running_rtpengine(tmp_path / "rtpengine") as engine:
        cfg = config(zone, [engine], outbound_media_encryption="required")
        async with running_gateway(cfg, OPTIONS) as gw:
            # a far end that answers 488 Not Acceptable Here (RFC 3261 §21.4.26)
            far = await uas(
                tmp_path,
                scenario(tmp_path, "uas_reject.xml", code="488", reason="Not Acceptable Here"),
            )
            zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
            result = await uac(
                tmp_path, scenario(tmp_path, "uac_offer_fail.xml", code="488"), gw.udp
            )
            result.check()
            call = await gw.ended()
            assert (call.cause, call.final_code) == ("media_encryption_refused", 488)
            await far.wait()
            # a far end that answers 200 with plain RTP: refused by the gateway, far leg ended
            far, _ = await far_end(tmp_path, zone)
            gw.recorder.calls.clear()
            result = await uac(
                tmp_path, scenario(tmp_path, "uac_offer_fail.xml", code="488"), gw.udp
            )
            result.check()
            call = await gw.ended()
            assert call.cause == "media_encryption_refused"
            assert "RTP/AVP instead of RTP/SAVP" in call.detail
            (await far.wait()).check()  # type: ignore[attr-defined]  # ACKed and BYEd


async def test_engine_stopped_mid_run_then_started_again(relayed: Relayed, tmp_path: Path) -> None:
    engine, gw = relayed.engine, relayed.gw
    relayed.zone.set_zone(meet_zone([("127.0.0.1", free_port())], ttl=0))  # never reached
    await engine.stop()
    result = await uac(tmp_path, scenario(tmp_path, "uac_offer_fail.xml", code="503"), gw.udp)
    result.check()
    call = await gw.ended()
    assert (call.cause, call.final_code) == ("media_unavailable", 503)
    assert f"rtpengine {engine.address}" in call.detail
    assert (ALARM_KIND, engine.address) in relayed.alarms.active
    # a direct call does not need the engine
    far = await uas(tmp_path, "uas_answer.xml")
    relayed.zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
    gw.recorder.calls.clear()
    (await uac(tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp, service="direct-abc")).check()
    assert (await gw.ended()).cause == "completed"
    await far.wait()
    # started again: relayed calls work again, the alarm clears, no gateway restart
    await engine.start()
    for _ in range(50):
        if not relayed.alarms.active:
            break
        await asyncio.sleep(0.1)
    assert relayed.alarms.active == {}
    gw.recorder.calls.clear()
    far, _ = await far_end(tmp_path, relayed.zone)
    (await room_call(tmp_path, gw, hold=300)).check()
    assert (await figures(gw)).media_engine == engine.address
    await far.wait()


async def test_two_engines_spread_calls_and_fail_over(zone: ZoneServer, tmp_path: Path) -> None:
    async with (
        running_rtpengine(tmp_path / "a") as first,
        running_rtpengine(tmp_path / "b") as second,
        running_gateway(config(zone, [first, second]), OPTIONS) as gw,
    ):
        far = await uas(
            tmp_path,
            echo_scenario(tmp_path),
            calls=8,
        )
        zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
        result = await uac(
            tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp, calls=8, args=("-r", "4")
        )
        result.check()
        await asyncio.sleep(0.5)
        used = {c.media_engine for c in gw.recorder.calls.values()}
        assert used == {first.address, second.address}
        await far.wait()
        await second.stop()
        gw.recorder.calls.clear()
        far = await uas(
            tmp_path,
            echo_scenario(tmp_path),
            calls=4,
        )
        zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
        result = await uac(
            tmp_path, scenario(tmp_path, "uac_call.xml"), gw.udp, calls=4, args=("-r", "4")
        )
        result.check()
        await asyncio.sleep(0.5)
        assert {c.media_engine for c in gw.recorder.calls.values()} == {first.address}
        await far.wait()


async def test_a_re_invite_from_the_far_end_goes_through_the_engine(
    relayed: Relayed, tmp_path: Path
) -> None:
    far = await uas(tmp_path, "uas_reinvite.xml")
    relayed.zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
    result = await uac(tmp_path, scenario(tmp_path, "uac_reinvite.xml"), relayed.gw.udp)
    result.check()
    far_logs = (await far.wait()).check().logs
    # the re-INVITE's offer reaches the room with the inside address, the room's answer
    # reaches the far end with the outside address, both on the engine's ports
    offer = re.search(r"re-INVITE offer c=IN IP4 (\S+) m=audio (\d+)", result.logs)
    answer = re.search(r"re-INVITE answer c=IN IP4 (\S+) m=audio (\d+)", far_logs)
    assert offer, result.logs
    assert answer, far_logs
    assert offer[1] == INSIDE
    assert in_range(relayed.engine, int(offer[2]))
    assert answer[1] == OUTSIDE
    assert in_range(relayed.engine, int(answer[2]))
    call = await figures(relayed.gw)
    assert call.cause == "completed"
    assert call.media_engine == relayed.engine.address


async def test_cancel_and_failure_delete_the_media_session(
    relayed: Relayed, tmp_path: Path
) -> None:
    gw, engine = relayed.gw, relayed.engine
    far = await uas(tmp_path, "uas_ring_cancel.xml")
    relayed.zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
    (await uac(tmp_path, scenario(tmp_path, "uac_offer_cancel.xml"), gw.udp)).check()
    (await far.wait()).check()
    call = await figures(gw)
    assert call.cause == "cancelled"
    assert call.media_engine == engine.address  # the session existed and was deleted
    assert await engine.calls() == []
    gw.recorder.calls.clear()
    far = await uas(tmp_path, scenario(tmp_path, "uas_reject.xml", code="480", reason="Rejected"))
    relayed.zone.set_zone(meet_zone([("127.0.0.1", far.port)], ttl=0))
    (await uac(tmp_path, scenario(tmp_path, "uac_offer_fail.xml", code="480"), gw.udp)).check()
    await far.wait()
    call = await figures(gw)
    assert (call.cause, call.media_engine) == ("call_rejected", engine.address)
    assert await engine.calls() == []


async def test_relayed_calls_through_the_kamailio_edge(relayed: Relayed, tmp_path: Path) -> None:
    """The edge forwards SIP and leaves SDP alone; the gateway behind it relays the media."""
    dispatcher = tmp_path / "dispatcher.list"
    dispatcher.write_text(f"1 sip:{relayed.gw.udp} 0 0\n")
    edge = await Kamailio(
        tmp_path / "kamailio", "edge.cfg", {"DISPATCHER_LIST": str(dispatcher)}
    ).start()
    try:
        far, _ = await far_end(tmp_path, relayed.zone)
        wav = ulaw_wav(tmp_path / "edge.wav")
        path = fill(tmp_path, "uac_rtp_call.xml", rtp_file=str(wav), hold="1500")
        result = await uac(
            tmp_path, path, f"127.0.0.1:{edge.port}", args=("-mp", str(media_port()))
        )
        result.check()
        (await far.wait()).check()  # type: ignore[attr-defined]
        assert re.search(rf"answer c=IN IP4 {INSIDE} m=audio \d+", result.logs), result.logs
        call = await figures(relayed.gw)
        assert call.source_address == f"127.0.0.1:{edge.port}"
        assert call.media_room_packets >= PACKETS - 5
        assert call.media_far_packets >= PACKETS - 5
    finally:
        log = await edge.stop()
    assert "ERROR" not in log, log[-3000:]
