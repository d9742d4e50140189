"""The Virtual Reception with sipp as the calling room: its prompt RTP reaches the room's
media socket (owned by the test), keys arrive as RFC 4733 events (sent from that socket) or SIP
INFO, the REFER names the alias through the gateway, and a room that does not do REFER is
connected by 3pcc to a sipp far end found by DNS."""

from __future__ import annotations

import asyncio
import gc
import math
import struct
import threading
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from aiortc.codecs import depayload, get_decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.reception.machine import CalendarOffer
from guestjoin.reception.media import codec_parameters
from guestjoin.reception.sdp import Codec
from guestjoin.transaction.timers import Timers
from otj.model import CallRoutingRule, Endpoint, GatewaySettings, IdRule, Platform, VirtualReception
from tests.unit.gateway.support import build_event

from .dns_server import ZoneServer, meet_zone
from .peers import SCENARIOS, GatewayUnderTest, Sipp, free_port, running_gateway, uas

pytestmark = [pytest.mark.peer, pytest.mark.timeout(90)]

JOIN = VirtualReception(
    name="Join",
    aliases=(r"join@vc\.example\.com",),
    id_rules=(IdRule(match=r"(\d{9,11})", replace=r"\1@zoomcrc.com"),),
    attempts=3,
    digit_timeout=5,
)
ZOOM = CallRoutingRule(name="Zoom", priority=20, match_string=r"\d{9,11}@zoomcrc\.com")
MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
ROOM = Endpoint(
    name="Oslo Fjord", group="g", room_resource_email="fjord@example.com", api_address="127.0.0.1"
)


@dataclass
class RoomCalendar:
    """The store's answer for one room (the reception's ``Calendar`` interface)."""

    offers: dict[str, CalendarOffer] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def offer(self, room: str, now: datetime) -> CalendarOffer | None:
        self.asked.append(room)
        return self.offers.get(room)


class RoomMedia(asyncio.DatagramProtocol):
    """The room's RTP socket: counts what the reception sends, answers with RFC 4733 keys."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []
        self.source: tuple[str, int] | None = None
        self.first = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.video: RoomMedia | None = None  # the room's video socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.packets.append(RtpPacket.parse(data))
        self.source = (str(addr[0]), int(str(addr[1])))
        self.first.set()

    def press(self, keys: str) -> None:
        """RFC 4733 §2.5: three packets per key, the last one (end) sent three times."""
        assert self.transport is not None
        assert self.source is not None
        seq = 100
        for n, key in enumerate(keys):
            ts = 8000 * (n + 1)
            for duration, end in ((160, False), (320, True), (320, True), (320, True)):
                packet = RtpPacket(payload_type=101, sequence_number=seq, timestamp=ts, ssrc=42)
                packet.payload = build_event(key, end=end, duration=duration)
                self.transport.sendto(packet.serialize(), self.source)
                seq += 1


@pytest.fixture
async def media() -> AsyncIterator[tuple[RoomMedia, int]]:
    loop = asyncio.get_running_loop()
    transports = []
    protos = []
    for _ in range(2):
        transport, proto = await loop.create_datagram_endpoint(
            RoomMedia, local_addr=("127.0.0.1", 0)
        )
        proto.port = transport.get_extra_info("sockname")[1]
        transports.append(transport)
        protos.append(proto)
    protos[0].video = protos[1]
    yield protos[0], protos[0].port
    for transport in transports:
        transport.close()


CALENDAR = RoomCalendar()


@pytest.fixture
async def gw(zone: ZoneServer) -> AsyncIterator[GatewayUnderTest]:
    config = GatewayConfig(
        rules=(MEET, ZOOM),
        settings=GatewaySettings(dns_servers=(zone.address,)),
        endpoints=(ROOM,),
        receptions=(JOIN,),
    )
    CALENDAR.offers.clear()
    CALENDAR.asked.clear()
    async with running_gateway(config, GatewayOptions(reload_interval=0), calendar=CALENDAR) as g:
        yield g


def _request(method: str, cseq: int, body: str = "", content_type: str = "") -> str:
    headers = f"Content-Type: {content_type}\n" if content_type else ""
    return f"""  <send retrans="500">
    <![CDATA[

      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Room 1" <sip:[caller]@[local_ip]>;tag=[pid]SIPpTag00[call_number]
      To:[$peer_to]
      [routes]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70
      {headers}Content-Length: [len]

      {body}
    ]]>
  </send>
"""


def _reply(status: str, body: str = "") -> str:
    extra = "Content-Type: application/sdp\n" if body else ""
    return f"""  <send>
    <![CDATA[

      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>
      {extra}Content-Length: [len]

      {body}
    ]]>
  </send>
"""


def info_keys(keys: str, kind: str) -> str:
    out = []
    for n, key in enumerate(keys):
        body = f"Signal={key}\nDuration=160" if kind == "application/dtmf-relay" else key
        out.append(_request("INFO", n + 2, body, kind))
        out.append('  <recv response="200"/>\n')
    return "".join(out)


REFER = (
    """  <recv request="REFER">
    <action>
      <ereg regexp=".*" search_in="hdr" header="Refer-To:" assign_to="refer_to"/>
      <log message="REFER refer-to=[$refer_to]"/>
    </action>
  </recv>
"""
    + _reply("202 Accepted")
    + _request(
        "NOTIFY",
        30,
        "SIP/2.0 200 OK",
        "message/sipfrag\nEvent: refer\nSubscription-State: terminated;reason=noresource",
    )
    + '  <recv response="200"/>\n  <recv request="BYE"/>\n'
    + _reply("200 OK")
)

THIRD_PARTY = (
    """  <recv request="INVITE">
    <action>
      <ereg regexp="o=far [0-9 ]+" search_in="body" assign_to="offer"/>
      <log message="re-INVITE offer=[$offer]"/>
    </action>
  </recv>
"""
    + _reply(
        "200 OK",
        "v=0\no=room 1 2 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
        "m=audio [rtp_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000\n",
    )
    + '  <recv request="ACK"/>\n  <pause milliseconds="300"/>\n'
    + _request("BYE", 30)
    + '  <recv response="200"/>\n'
)


ROOM_SDP = (
    "v=0\no=room 1 2 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
    "m=audio [rtp_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
)
CALLER_ACK = """  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Room 1" <sip:[caller]@[local_ip]>;tag=[pid]SIPpTag00[call_number]
      To:[$peer_to]
      [routes]
      Call-ID: [call_id]
      CSeq: 20 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""


def session_refresh(offer: str) -> str:
    """The room's RFC 4028 session refresh: a re-INVITE with ``offer`` (CSeq 20), its ACK, then
    an UPDATE without SDP (CSeq 21)."""
    return (
        _request("INVITE", 20, offer, "application/sdp")
        + """  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="o=[^\r\n]+" search_in="body" assign_to="refreshed"/>
      <log message="refresh answer [$refreshed]"/>
    </action>
  </recv>
"""
        + CALLER_ACK
        + _request("UPDATE", 21)
        + '  <recv response="200"/>\n'
    )


THIRD_PARTY_THEN_REFRESH = (
    THIRD_PARTY.split("  <pause")[0]
    + '  <pause milliseconds="300"/>\n'
    + session_refresh(ROOM_SDP)
    + _request("BYE", 30)
    + '  <recv response="200"/>\n'
)
INITIAL_OFFER = (
    "v=0\no=room 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
    "m=audio [rtp_port] RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
    "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\n"
    "m=video [video_port] RTP/AVP 97\na=rtpmap:97 VP8/90000\n"
)
REFRESH_DURING_RECEPTION = (
    '  <pause milliseconds="500"/>\n'
    + session_refresh(INITIAL_OFFER)
    + _request("BYE", 30)
    + '  <recv response="200"/>\n'
)


REFUSE_REFER = '  <recv request="REFER"/>\n' + _reply("405 Method Not Allowed") + THIRD_PARTY
ACCEPT_THEN_LEAVE = (
    '  <recv request="REFER"/>\n'
    + _reply("202 Accepted")
    + _request("BYE", 30)
    + '  <recv response="200"/>\n'
)
GOODBYE = '  <recv request="BYE"/>\n' + _reply("200 OK")


async def caller(
    tmp_path: Path,
    gw: GatewayUnderTest,
    room: RoomMedia,
    *,
    info: str = "",
    refer: bool = True,
    then: str | None = None,
    transport: str = "udp",
    scenario: str = "reception_caller.xml",
) -> Sipp:
    text = (SCENARIOS / scenario).read_text()
    text = text.replace("@ALLOW@", "REFER" if refer else "OPTIONS").replace("@INFO@", info)
    path = tmp_path / f"reception_caller-{free_port()}.xml"
    transfer = then if then is not None else (REFER if refer else THIRD_PARTY)
    path.write_text(text.replace("@TRANSFER@", transfer))
    sub = tmp_path / f"caller-{free_port()}"
    sub.mkdir()
    args = ("-s", "join", "-key", "domain", "vc.example.com", "-key", "caller", "room1")
    assert room.video is not None
    args += ("-key", "rtp_port", str(room.port), "-key", "video_port", str(room.video.port))
    gateway = gw.udp if transport == "udp" else f"127.0.0.1:{gw.tcp_port}"
    args += ("-t", "u1" if transport == "udp" else "t1", "-m", "1", gateway)
    return await Sipp(path, free_port(), sub, args).start()


def not_silence(packets: list[RtpPacket]) -> float:
    decoder = get_decoder(codec_parameters(Codec(payload_type=0, name="PCMU", clock_rate=8000)))
    pcm = b""
    for packet in packets:
        for frame in decoder.decode(JitterFrame(data=packet.payload, timestamp=packet.timestamp)):
            pcm += bytes(frame.planes[0])[: frame.samples * 2]
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def splash_sizes(packets: list[RtpPacket]) -> list[tuple[int, int]]:
    """The size of the first splash frame the room got (VP8, decoded by aiortc)."""
    assert packets, "no video reached the room"
    assert {p.payload_type for p in packets} == {97}
    first = packets[0].timestamp
    frame = sorted((p for p in packets if p.timestamp == first), key=lambda p: p.sequence_number)
    assert frame[-1].marker == 1
    params = codec_parameters(Codec(payload_type=97, name="VP8", clock_rate=90000))
    data = b"".join(depayload(params, p.payload) for p in frame)
    decoded = get_decoder(params).decode(JitterFrame(data=data, timestamp=first))
    return [(f.width, f.height) for f in decoded]  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_rfc4733_id_then_refer(
    gw: GatewayUnderTest, media: tuple[RoomMedia, int], tmp_path: Path, transport: str
) -> None:
    room, _ = media
    sipp = await caller(tmp_path, gw, room, transport=transport)
    await asyncio.wait_for(room.first.wait(), 10)
    await asyncio.sleep(0.5)  # a moment of the prompt
    room.press("123456789#")
    result = (await sipp.wait(40)).check()
    refer_to = unquote(result.logs.split("REFER refer-to=")[1].splitlines()[0])
    gateway = gw.udp if transport == "udp" else f"127.0.0.1:{gw.tcp_port}"
    route = f"<sip:{gateway};transport={transport};lr>"
    assert refer_to.strip() == f"<sip:123456789@zoomcrc.com?Route={route}>"
    assert "answer m=audio" in result.logs
    assert "RTP/AVP 0 101" in result.logs
    call = await gw.ended()
    assert (call.reception, call.digits_outcome, call.transfer_method) == ("Join", "id", "refer")
    assert call.cause == "transferred"
    assert call.routed_alias == "123456789@zoomcrc.com"
    assert call.rule == "Zoom"
    assert call.endpoint_name == "Oslo Fjord"
    audio = [p for p in room.packets if p.payload_type != 101]
    assert len(audio) >= 100  # 20 ms packets over the 2 s the call lasted at least
    assert {p.payload_type for p in audio} == {0}
    assert not_silence(audio[:150]) > 300
    assert room.video is not None
    assert splash_sizes(room.video.packets) == [(1280, 720)]
    assert CALENDAR.asked == ["fjord@example.com"]
    heard = len(room.packets)
    await asyncio.sleep(0.3)
    assert len(room.packets) == heard  # the prompt stopped with the call
    assert gw.gateway.proxy is not None
    assert gw.gateway.proxy.licences.in_use == 0


@pytest.mark.parametrize("kind", ["application/dtmf-relay", "application/dtmf"])
async def test_sip_info_hash_joins_the_rooms_meeting(
    gw: GatewayUnderTest, media: tuple[RoomMedia, int], tmp_path: Path, kind: str
) -> None:
    room, _ = media
    CALENDAR.offers["fjord@example.com"] = CalendarOffer(
        alias="abc-defg-hij@google.pexip.me",
        subject="Weekly sync",
        platform=Platform.GOOGLE_MEET,
        start=datetime.now(UTC),
    )
    sipp = await caller(tmp_path, gw, room, info=info_keys("#", kind))
    result = (await sipp.wait(40)).check()
    assert "<sip:abc-defg-hij@google.pexip.me?Route=" in unquote(result.logs)
    call = await gw.ended()
    assert (call.digits_outcome, call.transfer_method, call.rule) == (
        "calendar_join",
        "refer",
        "SIP Guest Join",
    )
    assert call.conference == "abc-defg-hij"


async def test_a_room_without_refer_is_connected_by_3pcc_to_the_far_end_found_by_dns(
    gw: GatewayUnderTest, zone: ZoneServer, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, port = media
    far = await uas(tmp_path, "reception_far_3pcc.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], domain="zoomcrc.com"))
    sipp = await caller(
        tmp_path, gw, room, info=info_keys("987654321#", "application/dtmf"), refer=False
    )
    result = (await sipp.wait(40)).check()
    far_result = (await far.wait()).check()
    assert "re-INVITE offer=o=far 7 7" in result.logs  # the far end's offer reached the room
    assert "INVITE sip:987654321@zoomcrc.com SIP/2.0" in far_result.logs
    assert "len= 0 " in far_result.logs  # an offerless INVITE (RFC 3725 §4.1)
    assert 'from= "Oslo Fjord" <sip:room1@' in far_result.logs  # the room's name for the host
    assert f"ACK answer=m=audio {port}" in far_result.logs  # the room's answer in the ACK
    assert "ACK bandwidth=b=AS:2000" in far_result.logs  # capped like any outbound leg
    call = await gw.ended()
    assert (call.digits_outcome, call.transfer_method, call.cause) == ("id", "3pcc", "completed")
    assert call.target == f"udp:127.0.0.1:{far.port}"


async def test_a_room_refusing_refer_with_405_is_connected_by_3pcc(
    gw: GatewayUnderTest, zone: ZoneServer, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    far = await uas(tmp_path, "reception_far_3pcc.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], domain="zoomcrc.com"))
    sipp = await caller(
        tmp_path, gw, room, info=info_keys("987654321#", "application/dtmf"), then=REFUSE_REFER
    )
    result = (await sipp.wait(40)).check()
    (await far.wait()).check()
    assert "re-INVITE offer=o=far 7 7" in result.logs
    call = await gw.ended()
    assert (call.transfer_method, call.cause) == ("3pcc", "completed")


async def test_unroutable_and_unknown_ids_use_up_the_attempts_then_goodbye(
    gw: GatewayUnderTest, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    # 12 digits and 2 digits: no ID rule matches; "#" alone: this room has no meeting now.
    # Three failures end the call.
    keys = info_keys("123456789012#12#", "application/dtmf") + info_keys_from(18, "#")
    sipp = await caller(tmp_path, gw, room, info=keys, then=GOODBYE)
    result = (await sipp.wait(40)).check()
    assert "answer m=audio" in result.logs
    call = await gw.ended()
    assert (call.cause, call.digits_outcome, call.transfer_method) == (
        "reception_gave_up",
        "invalid",
        "",
    )
    assert "3 attempts" in call.detail
    assert gw.gateway.proxy is not None
    assert gw.gateway.proxy.licences.in_use == 0


def info_keys_from(first_cseq: int, keys: str) -> str:
    return "".join(
        _request("INFO", first_cseq + n, key, "application/dtmf") + '  <recv response="200"/>\n'
        for n, key in enumerate(keys)
    )


async def test_an_id_no_routing_rule_reaches_is_an_attempt(
    zone: ZoneServer, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    reception = VirtualReception(
        name="Join",
        aliases=(r"join@vc\.example\.com",),
        id_rules=(IdRule(match=r"(\d{4})", replace=r"\1@nowhere.example.com"),),
        attempts=1,
    )
    config = GatewayConfig(rules=(ZOOM,), endpoints=(ROOM,), receptions=(reception,))
    async with running_gateway(config, GatewayOptions(reload_interval=0)) as gw:
        sipp = await caller(
            tmp_path, gw, room, info=info_keys("1234#", "application/dtmf"), then=GOODBYE
        )
        (await sipp.wait(40)).check()
        call = await gw.ended()
    assert call.cause == "reception_gave_up"
    assert "no call routing rule matches 1234@nowhere.example.com" in call.detail


async def test_a_room_that_accepts_the_refer_then_hangs_up_was_transferred(
    gw: GatewayUnderTest, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    keys = info_keys("123456789#", "application/dtmf")
    sipp = await caller(tmp_path, gw, room, info=keys, then=ACCEPT_THEN_LEAVE)
    (await sipp.wait(40)).check()
    call = await gw.ended()
    assert (call.cause, call.transfer_method, call.detail) == (
        "transferred",
        "refer",
        "caller hung up",
    )


class SlowCalendar(RoomCalendar):
    """A store that takes a second to answer: the room's CANCEL arrives meanwhile."""

    def offer(self, room: str, now: datetime) -> CalendarOffer | None:
        threading.Event().wait(1.0)
        return super().offer(room, now)


async def test_a_cancel_before_the_answer_gets_487_and_ends_the_call(
    zone: ZoneServer, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    config = GatewayConfig(rules=(ZOOM,), endpoints=(ROOM,), receptions=(JOIN,))
    options = GatewayOptions(reload_interval=0)
    async with running_gateway(config, options, calendar=SlowCalendar()) as gw:
        sub = tmp_path / "cancel"
        sub.mkdir()
        args = ("-s", "join", "-key", "domain", "vc.example.com", "-key", "caller", "room1")
        args += ("-key", "rtp_port", str(room.port), "-m", "1", gw.udp)
        sipp = await Sipp(SCENARIOS / "reception_cancel.xml", free_port(), sub, args).start()
        (await sipp.wait(20)).check()
        call = await gw.ended()
        assert gw.gateway.proxy is not None
        assert gw.gateway.proxy.licences.in_use == 0
    assert (call.cause, call.final_code, call.reception) == ("cancelled", 487, "Join")
    assert room.packets == []  # no prompt was ever sent


async def test_a_finished_reception_call_is_freed_without_the_cycle_collector(
    zone: ZoneServer, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    """The leg, its media and its splash (megabytes of pixels) go when the call does, by
    reference counting: the gateway runs the cyclic collector only rarely."""
    room, _ = media
    config = GatewayConfig(
        rules=(ZOOM,), endpoints=(ROOM,), receptions=(JOIN,), settings=GatewaySettings()
    )
    # short transaction timers: the REFER's and BYE's transactions (which hold the leg's
    # callbacks) end within a moment of the call
    options = GatewayOptions(reload_interval=0, timers=Timers(t1=0.05, t2=0.2, t4=0.2))
    async with running_gateway(config, options) as gw:
        receptions = gw.gateway.receptions
        assert receptions is not None
        gc.collect()
        gc.disable()
        try:
            sipp = await caller(
                tmp_path, gw, room, info=info_keys("123456789#", "application/dtmf")
            )
            loop = asyncio.get_running_loop()
            while not receptions.legs:
                await asyncio.sleep(0.01)
            leg = weakref.ref(next(iter(receptions.legs.values())))
            (await sipp.wait(40)).check()
            await gw.ended()
            deadline = loop.time() + 10
            while leg() is not None and loop.time() < deadline:
                await asyncio.sleep(0.1)
            alive = leg()
            referrers = [type(r).__name__ for r in gc.get_referrers(alive)] if alive else []
            del alive
            assert leg() is None, f"the leg is still referenced by {referrers}"
        finally:
            gc.enable()


async def test_a_session_refresh_after_3pcc_reaches_the_far_end_and_comes_back_answered(
    gw: GatewayUnderTest, zone: ZoneServer, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    far = await uas(tmp_path, "reception_far_3pcc_refresh.xml")
    zone.set_zone(meet_zone([("127.0.0.1", far.port)], domain="zoomcrc.com"))
    keys = info_keys("987654321#", "application/dtmf")
    sipp = await caller(tmp_path, gw, room, info=keys, refer=False, then=THIRD_PARTY_THEN_REFRESH)
    result = (await sipp.wait(40)).check()
    far_result = (await far.wait()).check()
    # the room's refresh went on to the far end (capped like any outbound offer) ...
    assert "re-INVITE o=room 1 2 IN IP4 127.0.0.1 b=AS:2000" in far_result.logs
    assert "UPDATE len= 0" in far_result.logs
    # ... and the far end's new answer came back to the room: the session goes on
    assert "refresh answer o=far 7 8 IN IP4 127.0.0.1" in result.logs
    call = await gw.ended()
    assert (call.transfer_method, call.cause) == ("3pcc", "completed")


async def test_a_session_refresh_during_the_reception_is_answered_unchanged(
    gw: GatewayUnderTest, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    sipp = await caller(tmp_path, gw, room, then=REFRESH_DURING_RECEPTION)
    result = (await sipp.wait(40)).check()
    first = result.logs.split("origin ")[1].splitlines()[0].strip()
    assert first.startswith("o=")
    refreshed = result.logs.split("refresh answer ")[1].splitlines()[0].strip()
    assert refreshed == first  # the same description, the same version (RFC 3264 §8)
    call = await gw.ended()
    assert (call.reception, call.cause) == ("Join", "completed")


async def test_a_room_without_sdp_in_its_invite_gets_the_offer_and_answers_in_the_ack(
    gw: GatewayUnderTest, media: tuple[RoomMedia, int], tmp_path: Path
) -> None:
    room, _ = media
    sipp = await caller(tmp_path, gw, room, scenario="reception_caller_late.xml")
    await asyncio.wait_for(room.first.wait(), 10)  # media flows to the ACK's addresses
    await asyncio.sleep(0.5)
    room.press("123456789#")  # RFC 4733 with the payload type the reception offered
    result = (await sipp.wait(40)).check()
    assert "offer m=audio" in result.logs
    offered = result.logs.split("offer m=audio ")[1].splitlines()[0].split()[2:]
    assert offered == ["0", "8", "9", "111", "101"]
    assert "123456789@zoomcrc.com" in unquote(result.logs)
    call = await gw.ended()
    assert (call.digits_outcome, call.transfer_method, call.cause) == ("id", "refer", "transferred")
    audio = [p for p in room.packets if p.payload_type != 101]
    assert {p.payload_type for p in audio} == {0}  # the codec the ACK chose
    assert not_silence(audio[:150]) > 300
    assert room.video is not None
    assert splash_sizes(room.video.packets) == [(1280, 720)]
