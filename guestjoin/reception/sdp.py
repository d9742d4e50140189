"""PURE: the reception's SDP answer to a caller's offer (RFC 3264 offer/answer, RFC 4566).

Audio: the offerer's first codec among PCMU, PCMA, G.722 and Opus, plus ``telephone-event``
(RFC 4733) when offered. Video: the offerer's first of H.264 (packetization-mode 1 preferred)
and VP8. Plain ``RTP/AVP`` only (the reception offers no ICE or DTLS to SIP endpoints): any
other stream, and any stream with no codec we have, is refused with port 0 (§6). The answer
is ``sendrecv`` unless the offer was ``sendonly``/``recvonly``/``inactive``.

A caller whose INVITE has no SDP (a delayed offer, RFC 3261 §13.2.1) gets our offer in the 2xx
(``build_offer``: every codec above) and answers in its ACK (``accept_answer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: (encoding name, clock rate) we can send, by media kind.
AUDIO = (("PCMU", 8000), ("PCMA", 8000), ("G722", 8000), ("OPUS", 48000))
VIDEO = (("H264", 90000), ("VP8", 90000))
_STATIC = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1)}
_DIRECTIONS = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly"}


class SdpError(ValueError):
    """An offer we cannot read."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Codec:
    """One payload type of a media line."""

    payload_type: int
    name: str
    clock_rate: int
    channels: int = 1
    fmtp: str = ""

    @property
    def mime_type(self) -> str:
        """``audio/PCMU`` style MIME type for aiortc's ``get_encoder``."""
        kind = "video" if (self.name.upper(), self.clock_rate) in VIDEO else "audio"
        return f"{kind}/{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class MediaOffer:
    """One ``m=`` line of the offer."""

    kind: str
    port: int
    proto: str
    formats: tuple[str, ...]
    address: str
    codecs: tuple[Codec, ...]
    direction: str = "sendrecv"


@dataclass(frozen=True, kw_only=True, slots=True)
class Offer:
    """A parsed offer."""

    media: tuple[MediaOffer, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Stream:
    """A stream the answer accepts: where to send, what, and the telephone-event type."""

    kind: str
    remote: tuple[str, int]
    codec: Codec
    local_port: int
    events: Codec | None = None
    direction: str = "sendrecv"

    @property
    def sending(self) -> bool:
        """Whether we send on this stream."""
        return self.direction in ("sendrecv", "sendonly")


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """The answer body and the streams it accepted."""

    body: bytes
    streams: tuple[Stream, ...] = field(default=())

    def stream(self, kind: str) -> Stream | None:
        """The accepted stream of a kind (audio, video)."""
        return next((s for s in self.streams if s.kind == kind), None)


def parse_offer(body: bytes) -> Offer:
    """Read the media lines, codecs, connection addresses and directions of an offer."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    if not text.startswith("v="):
        raise SdpError("not SDP (no v= line first)")
    session_address = ""
    session_direction = "sendrecv"
    sections: list[dict[str, object]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        current = sections[-1] if sections else None
        if kind == "m":
            parts = value.split()
            if len(parts) < 3 or not parts[1].partition("/")[0].isdigit():
                raise SdpError(f"bad media line m={value}")
            sections.append(
                {
                    "kind": parts[0],
                    "port": int(parts[1].partition("/")[0]),
                    "proto": parts[2],
                    "formats": tuple(parts[3:]),
                    "rtpmap": {},
                    "fmtp": {},
                    "address": "",
                    "direction": "",
                }
            )
        elif kind == "c":
            address = _connection(value)
            if current is None:
                session_address = address
            else:
                current["address"] = address
        elif kind == "a":
            name, _, attr = value.partition(":")
            if name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                if current is None:
                    session_direction = name
                else:
                    current["direction"] = name
            elif current is not None and name in ("rtpmap", "fmtp"):
                pt, _, rest = attr.partition(" ")
                table = current[name]
                assert isinstance(table, dict)
                table[pt.strip()] = rest.strip()
    media = []
    for section in sections:
        formats = section["formats"]
        rtpmap = section["rtpmap"]
        fmtp = section["fmtp"]
        assert isinstance(formats, tuple)
        assert isinstance(rtpmap, dict)
        assert isinstance(fmtp, dict)
        codecs = tuple(c for c in (_codec(f, rtpmap, fmtp) for f in formats) if c is not None)
        media.append(
            MediaOffer(
                kind=str(section["kind"]),
                port=int(str(section["port"])),
                proto=str(section["proto"]),
                formats=formats,
                address=str(section["address"] or session_address),
                codecs=codecs,
                direction=str(section["direction"] or session_direction),
            )
        )
    return Offer(media=tuple(media))


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"bad connection line c={value}")
    return parts[2].partition("/")[0]


def _codec(fmt: str, rtpmap: dict[str, str], fmtp: dict[str, str]) -> Codec | None:
    if not fmt.isdigit():
        return None
    pt = int(fmt)
    if fmt in rtpmap:
        name, _, rest = rtpmap[fmt].partition("/")
        rate, _, channels = rest.partition("/")
        if not rate.isdigit():
            return None
        return Codec(
            payload_type=pt,
            name=name,
            clock_rate=int(rate),
            channels=int(channels) if channels.isdigit() else 1,
            fmtp=fmtp.get(fmt, ""),
        )
    if pt in _STATIC:
        static_name, static_rate, static_channels = _STATIC[pt]
        return Codec(
            payload_type=pt, name=static_name, clock_rate=static_rate, channels=static_channels
        )
    return None


def _choose(media: MediaOffer) -> Codec | None:
    wanted = AUDIO if media.kind == "audio" else VIDEO
    usable = [c for c in media.codecs if (c.name.upper(), c.clock_rate) in wanted]
    if media.kind == "video":
        h264 = [c for c in usable if c.name.upper() == "H264"]
        mode1 = [c for c in h264 if "packetization-mode=1" in c.fmtp.replace(" ", "")]
        if mode1 and usable[0].name.upper() == "H264":
            return mode1[0]
    return usable[0] if usable else None


def _events(media: MediaOffer, codec: Codec) -> Codec | None:
    events = [c for c in media.codecs if c.name.lower() == "telephone-event"]
    same_rate = [c for c in events if c.clock_rate == codec.clock_rate]
    found = same_rate or events
    return found[0] if found else None


#: What the reception offers to a caller that sent no offer, by media kind.
OFFERED: dict[str, tuple[Codec, ...]] = {
    "audio": (
        Codec(payload_type=0, name="PCMU", clock_rate=8000),
        Codec(payload_type=8, name="PCMA", clock_rate=8000),
        Codec(payload_type=9, name="G722", clock_rate=8000),
        Codec(payload_type=111, name="opus", clock_rate=48000, channels=2),
        Codec(payload_type=101, name="telephone-event", clock_rate=8000, fmtp="0-15"),
    ),
    "video": (
        Codec(payload_type=126, name="H264", clock_rate=90000, fmtp="packetization-mode=1"),
        Codec(payload_type=97, name="VP8", clock_rate=90000),
    ),
}


def _session_lines(address: str, session_id: int, version: int) -> list[str]:
    family = "IP6" if ":" in address else "IP4"
    return [
        "v=0",
        f"o=otj-reception {session_id} {version} IN {family} {address}",
        "s=Virtual Reception",
        f"c=IN {family} {address}",
        "t=0 0",
    ]


def _codec_lines(codecs: list[Codec] | tuple[Codec, ...]) -> list[str]:
    lines = []
    for c in codecs:
        channels = f"/{c.channels}" if c.channels > 1 else ""
        lines.append(f"a=rtpmap:{c.payload_type} {c.name}/{c.clock_rate}{channels}")
        if c.fmtp:
            lines.append(f"a=fmtp:{c.payload_type} {c.fmtp}")
    return lines


def build_offer(*, address: str, ports: dict[str, int], session_id: int) -> bytes:
    """Our offer from ``address`` (``ports``: our RTP port per kind), every codec we have."""
    lines = _session_lines(address, session_id, 1)
    for kind in ("audio", "video"):
        if kind in ports:
            codecs = OFFERED[kind]
            types = " ".join(str(c.payload_type) for c in codecs)
            lines += [f"m={kind} {ports[kind]} RTP/AVP {types}", *_codec_lines(codecs)]
            lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode()


def accept_answer(offered: bytes, answer: bytes, ports: dict[str, int]) -> Answer:
    """The streams the caller's ``answer`` (in its ACK) accepts of our ``offered`` description
    (RFC 3264 §6: a port of 0 declines a stream, the answer lists the codecs chosen)."""
    streams: list[Stream] = []
    for media in parse_offer(answer).media:
        codec = _choose(media) if media.kind in ports else None
        taken = any(s.kind == media.kind for s in streams)
        if codec is None or taken or media.port == 0 or media.proto.upper() != "RTP/AVP":
            continue
        streams.append(
            Stream(
                kind=media.kind,
                remote=(media.address, media.port),
                codec=codec,
                local_port=ports[media.kind],
                events=_events(media, codec) if media.kind == "audio" else None,
                direction=_DIRECTIONS.get(media.direction, "inactive"),
            )
        )
    return Answer(body=offered, streams=tuple(streams))


def build_answer(
    offer: Offer, *, address: str, ports: dict[str, int], session_id: int, version: int = 1
) -> Answer:
    """The answer for ``offer`` from ``address``; ``ports`` gives our RTP port per kind."""
    lines = _session_lines(address, session_id, version)
    streams: list[Stream] = []
    taken: set[str] = set()
    for media in offer.media:
        codec = _choose(media) if media.kind in ("audio", "video") else None
        accept = (
            codec is not None
            and media.proto.upper() == "RTP/AVP"
            and media.port != 0
            and media.kind not in taken
            and media.kind in ports
        )
        if not accept or codec is None:
            lines.append(f"m={media.kind} 0 {media.proto} {' '.join(media.formats[:1]) or '0'}")
            continue
        taken.add(media.kind)
        events = _events(media, codec) if media.kind == "audio" else None
        chosen = [codec, *([events] if events else [])]
        port = ports[media.kind]
        types = " ".join(str(c.payload_type) for c in chosen)
        lines.append(f"m={media.kind} {port} RTP/AVP {types}")
        lines += _codec_lines(chosen)
        direction = _DIRECTIONS.get(media.direction, "inactive")
        lines.append(f"a={direction}")
        streams.append(
            Stream(
                kind=media.kind,
                remote=(media.address, media.port),
                codec=codec,
                local_port=port,
                events=events,
                direction=direction,
            )
        )
    body = ("\r\n".join(lines) + "\r\n").encode()
    return Answer(body=body, streams=tuple(streams))
