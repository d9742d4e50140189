"""The ng commands built per routing rule, SRTP refusal, and media figures from ``delete``."""

from __future__ import annotations

from typing import Any

import pytest

from guestjoin.media import commands
from guestjoin.media.ng import NgError, parse_reply, request, split_reply

SDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"


def test_offer_from_the_room_plain() -> None:
    offer = commands.offer(call_id="c", from_tag="f", sdp=SDP)
    assert offer == {
        "command": "offer",
        "call-id": "c",
        "from-tag": "f",
        "sdp": SDP,
        "direction": ["inside", "outside"],
        "ICE": "remove",
        "replace": ["origin", "session-connection"],
    }


def test_offer_with_required_and_best_effort_encryption() -> None:
    required = commands.offer(call_id="c", from_tag="f", sdp=SDP, encryption="required")
    assert required["transport-protocol"] == "RTP/SAVP"
    assert required["DTLS"] == "off"
    assert "no-NULL_HMAC_SHA1_80" in required["SDES"]
    best = commands.offer(call_id="c", from_tag="f", sdp=SDP, encryption="best_effort")
    assert best["OSRTP"] == ["offer"]
    assert "transport-protocol" not in best


def test_offer_from_the_far_end_gives_the_room_plain_rtp() -> None:
    offer = commands.offer(
        call_id="c", from_tag="t", sdp=SDP, from_side="outside", encryption="required"
    )
    assert offer["direction"] == ["outside", "inside"]
    assert offer["transport-protocol"] == "RTP/AVP"
    assert "SDES" not in offer


def test_answer_and_delete() -> None:
    assert commands.answer(call_id="c", from_tag="f", to_tag="t", sdp=SDP)["to-tag"] == "t"
    assert commands.delete(call_id="c", from_tag="f") == {
        "command": "delete",
        "call-id": "c",
        "from-tag": "f",
        "delete delay": 0,
    }


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n", None),
        ("m=audio 4000 RTP/AVP 0\r\n", "answered RTP/AVP instead of RTP/SAVP"),
        ("m=audio 4000 RTP/SAVP 0\r\n", "without an a=crypto key"),
        ("m=audio 0 RTP/SAVP 0\r\n", "accepted no media stream"),
        (
            (
                "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"
                "m=video 0 RTP/AVP 96\r\n"
            ),
            None,
        ),
    ],
)
def test_encryption_refused(answer: str, reason: str | None) -> None:
    found = commands.encryption_refused(SDP + answer)
    assert (found is None) if reason is None else (reason in (found or ""))


def _stream(packets: int, octets: int, ssrc: int | None = None) -> dict[str, Any]:
    stream: dict[str, Any] = {"stats": {"packets": packets, "bytes": octets, "errors": 0}}
    if ssrc is not None:
        stream["SSRC"] = ssrc
    return stream


def test_figures_per_direction() -> None:
    reply = {
        "result": "ok",
        "SSRC": {"1111": {"cumulative loss": 4}},
        "tags": {
            "room": {"medias": [{"streams": [_stream(26, 4472, 1111), _stream(2, 100)]}]},
            "far": {"medias": [{"streams": [_stream(10, 1720, 2222), _stream(0, 0)]}]},
        },
    }
    got = commands.figures(reply, engine="127.0.0.1:2223", room_tag="room")
    assert got == commands.MediaFigures(
        engine="127.0.0.1:2223",
        room_packets=28,
        room_bytes=4572,
        room_lost=4,
        far_packets=10,
        far_bytes=1720,
    )
    assert commands.figures({"result": "ok"}, engine="e", room_tag="x").room_packets == 0
    assert commands.figures({"tags": {"x": "junk"}}, engine="e", room_tag="x").far_bytes == 0


def test_ng_framing() -> None:
    req = request({"command": "ping"}, cookie="abc")
    assert req.datagram() == b"abc d7:command4:pinge"
    cookie, body = split_reply(b"abc d6:result4:ponge")
    assert parse_reply(cookie, body).body == {"result": "pong"}
    with pytest.raises(NgError, match="offer: rtpengine answered 'error': Unknown call-id"):
        parse_reply("c", b"d6:result5:error12:error-reason15:Unknown call-ide", "offer")
    with pytest.raises(NgError, match="malformed"):
        parse_reply("c", b"d6:result", "offer")
    with pytest.raises(NgError, match="cookie"):
        split_reply(b"nospace")
    with pytest.raises(ValueError, match="command"):
        request({"call-id": "x"})
