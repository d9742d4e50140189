"""The reception's media: prompt audio and splash video out, RFC 4733 events in, over plain RTP.

One UDP socket per stream (``open_media`` binds them before the answer is built, so the answer
carries their ports). aiortc does the codec work (``aiortc.codecs.get_encoder``) and its
``aiortc.rtp.RtpPacket`` frames every packet. Audio goes out every 20 ms (silence between
prompts, so the caller's media path stays open); the splash is re-encoded at a few frames a
second with a key frame every two seconds. Packets from the caller are parsed as RTP; telephone
events become keys. Symmetric RTP: once the caller sends from another address than its SDP
says (NAT), we send there; packets from any other source are then ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCRtpCodecParameters
from aiortc.codecs import get_encoder
from aiortc.rtp import RtpPacket
from av import AudioFrame, VideoFrame
from PIL import Image

from guestjoin.reception import prompts, splash
from guestjoin.reception.dtmf import DtmfError, EventTracker
from guestjoin.reception.sdp import Answer, Codec, Stream

log = logging.getLogger(__name__)

AUDIO_TICK = 0.02
VIDEO_FPS = 2
KEYFRAME_EVERY = 2 * VIDEO_FPS  # a key frame every 2 s (no RTCP feedback is read)
SILENCE = b"\x00" * prompts.FRAME_BYTES


@dataclass(slots=True)
class MediaStats:
    """Packets sent and received per stream kind, and keys heard (tests and the CDR detail)."""

    sent: dict[str, int] = field(default_factory=dict)
    received: int = 0
    keys: list[str] = field(default_factory=list)


def codec_parameters(codec: Codec) -> RTCRtpCodecParameters:
    """aiortc's description of an SDP codec (for ``get_encoder``/``get_decoder``)."""
    return RTCRtpCodecParameters(
        mimeType=codec.mime_type,
        clockRate=codec.clock_rate,
        channels=codec.channels if codec.channels > 1 else None,
        payloadType=codec.payload_type,
    )


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, on_packet: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.on_packet(data, (str(addr[0]), int(str(addr[1]))))


def _factory(sock: _Socket) -> Callable[[], _Socket]:
    def factory() -> _Socket:
        return sock

    return factory


class MediaSession:
    """The RTP streams of one reception call."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.stats = MediaStats()
        self.on_key: Callable[[str], None] = lambda key: None
        self.on_prompt_done: Callable[[], None] = lambda: None
        self._sockets: dict[str, _Socket] = {}
        self._streams: dict[str, Stream] = {}
        self._remote: dict[str, tuple[str, int]] = {}
        self._latched: dict[str, tuple[str, int]] = {}  # the caller's RTP source, per kind
        self._queue: deque[bytes] = deque()
        self._prompting = False
        self._splash: Image.Image | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tracker = EventTracker()

    @property
    def ports(self) -> dict[str, int]:
        """Our RTP port per kind (bound by ``open``)."""
        out = {}
        for kind, sock in self._sockets.items():
            assert sock.transport is not None
            out[kind] = int(sock.transport.get_extra_info("sockname")[1])
        return out

    async def open(self, kinds: tuple[str, ...] = ("audio", "video")) -> None:
        """Bind one UDP socket per kind on an ephemeral port."""
        loop = asyncio.get_running_loop()
        for kind in kinds:
            sock = _Socket(self._receiver(kind))
            await loop.create_datagram_endpoint(_factory(sock), local_addr=(self.host, 0))
            self._sockets[kind] = sock

    def _receiver(self, kind: str) -> Callable[[bytes, tuple[str, int]], None]:
        def receive(data: bytes, addr: tuple[str, int]) -> None:
            self._packet(kind, data, addr)

        return receive

    def start(self, answer: Answer, splash_image: Image.Image | None) -> None:
        """Start sending on the streams the answer accepted."""
        self._splash = splash_image
        for stream in answer.streams:
            self._streams[stream.kind] = stream
            self._remote[stream.kind] = stream.remote
        audio = answer.stream("audio")
        if audio is not None and audio.sending:
            self._tasks.append(asyncio.create_task(self._audio(audio)))
        video = answer.stream("video")
        if video is not None and video.sending and splash_image is not None:
            self._tasks.append(asyncio.create_task(self._video(video)))

    def play(self, pcm: bytes, *, interrupt: bool = True) -> None:
        """Queue 8 kHz PCM; ``on_prompt_done`` fires when the queue runs dry."""
        if interrupt:
            self._queue.clear()
        self._queue.extend(prompts.frames(pcm))
        self._prompting = True

    @property
    def playing(self) -> bool:
        """Whether prompt audio is still queued."""
        return bool(self._queue)

    async def close(self) -> None:
        """Stop sending and close the sockets."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()

    # --- receiving ---------------------------------------------------------------------------

    def _packet(self, kind: str, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            return  # RTCP or junk
        if kind in self._latched and self._latched[kind] != addr:
            return  # only the source that spoke first (no injection into a latched stream)
        self._latched.setdefault(kind, addr)
        self.stats.received += 1
        if kind in self._remote and self._remote[kind] != addr:
            self._remote[kind] = addr  # symmetric RTP (NAT)
        stream = self._streams.get(kind)
        if stream is None or stream.events is None:
            return
        if packet.payload_type != stream.events.payload_type:
            return
        try:
            key = self._tracker.feed(packet.timestamp, packet.payload)
        except DtmfError as exc:
            log.debug("telephone-event ignored: %s", exc)
            return
        if key is not None:
            self.stats.keys.append(key)
            self.on_key(key)

    # --- sending -----------------------------------------------------------------------------

    def _send(self, kind: str, packet: RtpPacket) -> None:
        sock = self._sockets.get(kind)
        if sock is None or sock.transport is None:
            return
        sock.transport.sendto(packet.serialize(), self._remote[kind])
        self.stats.sent[kind] = self.stats.sent.get(kind, 0) + 1

    async def _audio(self, stream: Stream) -> None:
        encoder = get_encoder(codec_parameters(stream.codec))
        step = stream.codec.clock_rate // 50  # RTP clock ticks per 20 ms
        ssrc, seq, ts = secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        loop = asyncio.get_running_loop()
        due = loop.time()
        index = 0
        first = True
        while True:
            pcm = self._queue.popleft() if self._queue else SILENCE
            frame = AudioFrame(format="s16", layout="mono", samples=prompts.FRAME_SAMPLES)
            frame.planes[0].update(pcm)
            frame.sample_rate = prompts.RATE
            frame.pts = index * prompts.FRAME_SAMPLES
            frame.time_base = fractions.Fraction(1, prompts.RATE)
            payloads, _timestamp = encoder.encode(frame)
            for payload in payloads:
                packet = RtpPacket(
                    payload_type=stream.codec.payload_type,
                    marker=1 if first else 0,
                    sequence_number=seq,
                    timestamp=ts,
                    ssrc=ssrc,
                    payload=payload,
                )
                self._send("audio", packet)
                seq = (seq + 1) & 0xFFFF
                first = False
            ts = (ts + step) & 0xFFFFFFFF
            index += 1
            if self._prompting and not self._queue:
                self._prompting = False
                self.on_prompt_done()
            due += AUDIO_TICK
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def _video(self, stream: Stream) -> None:
        encoder = get_encoder(codec_parameters(stream.codec))
        ssrc, seq = secrets.randbits(32), secrets.randbits(16)
        base = secrets.randbits(32)
        loop = asyncio.get_running_loop()
        due = loop.time()
        index = 0
        shown: Image.Image | None = None
        yuv: VideoFrame | None = None
        while True:
            image = self._splash
            if image is not None:
                if image is not shown or yuv is None:
                    shown, yuv = image, await loop.run_in_executor(None, splash.to_yuv, image)
                frame = splash.video_frame(yuv, index, VIDEO_FPS)
                payloads, timestamp = await loop.run_in_executor(
                    None, encoder.encode, frame, index % KEYFRAME_EVERY == 0
                )
                for n, payload in enumerate(payloads):
                    packet = RtpPacket(
                        payload_type=stream.codec.payload_type,
                        marker=1 if n == len(payloads) - 1 else 0,
                        sequence_number=seq,
                        timestamp=(base + timestamp) & 0xFFFFFFFF,
                        ssrc=ssrc,
                        payload=payload,
                    )
                    self._send("video", packet)
                    seq = (seq + 1) & 0xFFFF
            index += 1
            due += 1 / VIDEO_FPS
            await asyncio.sleep(max(0.0, due - loop.time()))
