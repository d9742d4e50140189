"""The reception's media on loopback, checked with aiortc's decoders: the prompt is speech,
not silence, in the negotiated codec; the splash decodes to 1280×720; RFC 4733 keys arrive."""

from __future__ import annotations

import asyncio
import math
import struct
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from aiortc.codecs import depayload, get_decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from guestjoin.reception import prompts, sdp, splash
from guestjoin.reception.machine import CalendarOffer, Phrase
from guestjoin.reception.media import MediaSession, codec_parameters
from otj.model import Platform
from tests.unit.gateway.support import build_event

pytestmark = pytest.mark.timeout(60)


class Catcher(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []
        self.got = asyncio.Event()
        self.want = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.packets.append(RtpPacket.parse(data))
        if len(self.packets) >= self.want:
            self.got.set()


async def catcher(want: int) -> tuple[asyncio.DatagramTransport, Catcher, int]:
    loop = asyncio.get_running_loop()
    proto = Catcher()
    proto.want = want
    transport, _ = await loop.create_datagram_endpoint(lambda: proto, local_addr=("127.0.0.1", 0))
    return transport, proto, transport.get_extra_info("sockname")[1]


def offer(audio_port: int, video_port: int, audio: str, video: str) -> bytes:
    return (
        "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {audio_port} RTP/AVP {audio} 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        f"m=video {video_port} RTP/AVP {video}\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1\r\na=rtpmap:97 VP8/90000\r\n"
    ).encode()


def rms(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


@pytest.mark.parametrize(("audio", "video"), [("0", "97"), ("8", "96"), ("9", "97"), ("111", "96")])
async def test_prompt_and_splash_decode(audio: str, video: str) -> None:
    audio_t, audio_rx, audio_port = await catcher(60)
    video_t, video_rx, video_port = await catcher(1)
    session = MediaSession("127.0.0.1")
    await session.open()
    answer = sdp.build_answer(
        sdp.parse_offer(offer(audio_port, video_port, audio, video)),
        address="127.0.0.1",
        ports=session.ports,
        session_id=1,
    )
    meeting = CalendarOffer(
        alias="a@b", subject="Weekly", platform=Platform.ZOOM, start=datetime.now(UTC)
    )
    image = splash.render(splash.splash_lines("Join", meeting, UTC))
    done = asyncio.Event()
    session.on_prompt_done = done.set
    session.play(prompts.compose([Phrase.WELCOME]))
    session.start(answer, image)
    try:
        await asyncio.wait_for(audio_rx.got.wait(), 10)
        await asyncio.wait_for(done.wait(), 10)
        while len(video_rx.packets) < 2 or not any(p.marker for p in video_rx.packets[1:]):
            await asyncio.sleep(0.05)
    finally:
        await session.close()
        audio_t.close()
        video_t.close()
    stream = answer.stream("audio")
    assert stream is not None
    assert {p.payload_type for p in audio_rx.packets} == {int(audio)}
    decoder = get_decoder(codec_parameters(stream.codec))
    pcm = b""
    for packet in audio_rx.packets[:100]:
        for frame in decoder.decode(JitterFrame(data=packet.payload, timestamp=packet.timestamp)):
            pcm += bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)]
    assert rms(pcm) > 300, "the prompt is not silence"
    vstream = answer.stream("video")
    assert vstream is not None
    frames: dict[int, list[RtpPacket]] = defaultdict(list)
    for packet in video_rx.packets:
        assert packet.payload_type == int(video)
        frames[packet.timestamp].append(packet)
    first = min(frames, key=lambda ts: frames[ts][0].sequence_number)
    params = codec_parameters(vstream.codec)
    data = b"".join(
        depayload(params, p.payload) for p in sorted(frames[first], key=lambda p: p.sequence_number)
    )
    decoded = get_decoder(params).decode(JitterFrame(data=data, timestamp=first))
    assert [(f.width, f.height) for f in decoded] == [(1280, 720)]


async def test_rfc4733_keys_reach_the_session_from_the_latched_source_only() -> None:
    session = MediaSession("127.0.0.1")
    await session.open(("audio",))
    sink_t, _sink, sink_port = await catcher(10**9)
    answer = sdp.build_answer(
        sdp.parse_offer(offer(sink_port, 0, "0", "97")),
        address="127.0.0.1",
        ports=session.ports,
        session_id=1,
    )
    keys: list[str] = []
    heard = asyncio.Event()

    def on_key(key: str) -> None:
        keys.append(key)
        if len(keys) == 2:
            heard.set()

    session.on_key = on_key
    session.start(answer, None)
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    intruder, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    seq = 1
    # the room's "4", an injected "9" from another source, the room's "#"
    for source, ts, key in ((sender, 8000, "4"), (intruder, 12000, "9"), (sender, 16000, "#")):
        for duration, end in ((160, False), (320, False), (480, True), (480, True), (480, True)):
            packet = RtpPacket(payload_type=101, sequence_number=seq, timestamp=ts, ssrc=7)
            packet.payload = build_event(key, end=end, duration=duration)
            source.sendto(packet.serialize(), ("127.0.0.1", session.ports["audio"]))
            seq += 1
        await asyncio.sleep(0.05)  # one key after the other, as a person presses them
    try:
        await asyncio.wait_for(heard.wait(), 5)
    finally:
        sender.close()
        intruder.close()
        sink_t.close()
        await session.close()
    assert keys == ["4", "#"]
