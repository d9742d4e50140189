"""PURE ng commands for one relayed call, per routing rule, and the media figures of a
``delete`` reply (rtpengine's ng protocol: ``offer``/``answer``/``delete``).

The room is on the ``inside`` interface and the far end on the ``outside`` one. Encryption
towards the far end (``outbound_media_encryption``): ``none`` leaves the room's profile;
``best_effort`` offers opportunistic SRTP (RFC 8643: ``RTP/AVP`` with SDES ``a=crypto``, which
the far end may take or ignore); ``required`` offers ``RTP/SAVP`` (RFC 3711, SDES RFC 4568) and
an answer without it refuses the call. The room always keeps the plain profile it offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Encryption = Literal["none", "best_effort", "required"]
Side = Literal["inside", "outside"]

#: SDES suites not offered: NULL ciphers do not encrypt, F8 and the 192-bit suites are rarely
#: implemented, and every a=crypto line makes the INVITE bigger (over 1300 bytes it must leave
#: UDP, RFC 3261 §18.1.1). Offered: AES_CM_128_HMAC_SHA1_80/32 (RFC 4568, what SIP video
#: endpoints and Pexip support) and AES_256_CM_HMAC_SHA1_80 (RFC 6188).
_WEAK_SUITES = (
    "no-NULL_HMAC_SHA1_80",
    "no-NULL_HMAC_SHA1_32",
    "no-F8_128_HMAC_SHA1_80",
    "no-F8_128_HMAC_SHA1_32",
    "no-AES_192_CM_HMAC_SHA1_80",
    "no-AES_192_CM_HMAC_SHA1_32",
    "no-AES_256_CM_HMAC_SHA1_32",
    "no-AEAD_AES_256_GCM",
    "no-AEAD_AES_128_GCM",
)
SECURE_PROFILES = ("RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")


def offer(
    *,
    call_id: str,
    from_tag: str,
    sdp: str,
    from_side: Side = "inside",
    encryption: Encryption = "none",
) -> dict[str, Any]:
    """The ``offer`` for an SDP offer received on ``from_side`` (INVITE, re-INVITE, UPDATE)."""
    to_side: Side = "outside" if from_side == "inside" else "inside"
    command: dict[str, Any] = {
        "command": "offer",
        "call-id": call_id,
        "from-tag": from_tag,
        "sdp": sdp,
        "direction": [from_side, to_side],
        "ICE": "remove",
        "replace": ["origin", "session-connection"],
    }
    if to_side == "outside" and encryption != "none":
        command["DTLS"] = "off"
        command["SDES"] = list(_WEAK_SUITES)
        if encryption == "required":
            command["transport-protocol"] = "RTP/SAVP"
        else:
            command["OSRTP"] = ["offer"]
    elif to_side == "inside":
        command["transport-protocol"] = "RTP/AVP"  # the room gets plain RTP
        command["OSRTP"] = ["accept"]
    return command


def answer(*, call_id: str, from_tag: str, to_tag: str, sdp: str) -> dict[str, Any]:
    """The ``answer`` for the SDP answer of a 183/2xx (``from_tag``: the offerer's tag)."""
    return {
        "command": "answer",
        "call-id": call_id,
        "from-tag": from_tag,
        "to-tag": to_tag,
        "sdp": sdp,
        "ICE": "remove",
        "replace": ["origin", "session-connection"],
    }


def delete(*, call_id: str, from_tag: str) -> dict[str, Any]:
    """The ``delete`` of the call, without rtpengine's delete delay (the ``from-tag`` makes
    rtpengine answer with the call's statistics)."""
    return {"command": "delete", "call-id": call_id, "from-tag": from_tag, "delete delay": 0}


def encryption_refused(answer_sdp: str) -> str | None:
    """Why the far end's answer to a ``required`` offer is not SRTP (None when it is)."""
    media: list[tuple[str, bool]] = []
    for line in answer_sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 3 and parts[1] != "0":
                media.append((parts[2], False))
            else:
                media.append(("rejected", True))
        elif line.startswith("a=crypto:") and media:
            media[-1] = (media[-1][0], True)
    accepted = [(profile, crypto) for profile, crypto in media if profile != "rejected"]
    if not accepted:
        return "the far end accepted no media stream"
    for profile, crypto in accepted:
        if profile not in SECURE_PROFILES:
            return f"the far end answered {profile} instead of RTP/SAVP"
        if not crypto and not profile.startswith("UDP/TLS"):
            return "the far end answered RTP/SAVP without an a=crypto key"
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class MediaFigures:
    """What rtpengine relayed for one call, per direction (from its ``delete`` reply)."""

    engine: str
    room_packets: int = 0
    room_bytes: int = 0
    room_lost: int = 0
    far_packets: int = 0
    far_bytes: int = 0
    far_lost: int = 0


def figures(reply: Mapping[str, Any], *, engine: str, room_tag: str) -> MediaFigures:
    """Packets and bytes received from the room and from the far end, and packets lost.

    Each tag's streams count what rtpengine received from that party; lost packets are the
    ``cumulative loss`` of the reply's SSRC section for that party's SSRCs (rtpengine 10.5
    adds an entry once RTCP receiver reports about the stream gave it a MOS; without RTCP
    there is none and the loss is 0). A reply without ``tags`` gives zeros.
    """
    totals = {"room": [0, 0, 0], "far": [0, 0, 0]}
    tags = reply.get("tags")
    ssrc_section = reply.get("SSRC")
    ssrc_stats = ssrc_section if isinstance(ssrc_section, Mapping) else {}
    if isinstance(tags, Mapping):
        for tag, info in tags.items():
            side = totals["room" if tag == room_tag else "far"]
            for stream in _streams(info):
                stats = stream.get("stats")
                if isinstance(stats, Mapping):
                    side[0] += _int(stats.get("packets"))
                    side[1] += _int(stats.get("bytes"))
                ssrc = stream.get("SSRC")
                entry = ssrc_stats.get(str(ssrc)) if ssrc is not None else None
                if isinstance(entry, Mapping):
                    side[2] += _int(entry.get("cumulative loss"))
    room, far = totals["room"], totals["far"]
    return MediaFigures(
        engine=engine,
        room_packets=room[0],
        room_bytes=room[1],
        room_lost=room[2],
        far_packets=far[0],
        far_bytes=far[1],
        far_lost=far[2],
    )


def _streams(info: object) -> list[Mapping[str, Any]]:
    if not isinstance(info, Mapping):
        return []
    medias = info.get("medias")
    out: list[Mapping[str, Any]] = []
    for media in medias if isinstance(medias, list) else []:
        streams = media.get("streams") if isinstance(media, Mapping) else None
        out.extend(s for s in streams or [] if isinstance(s, Mapping))
    return out


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
