"""Reception aliases and ID rules, DTMF parsing, SDP answers, calendar offers, REFER/3pcc."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from guestjoin.reception import aliases, calendar, dtmf, sdp, transfer
from guestjoin.sip import Via, parse_message
from guestjoin.sip.message import Request
from otj.model import CallProtocol, IdRule, Meeting, Platform, VirtualReception
from tests.unit.gateway.support import build_event

JOIN = VirtualReception(
    name="Join",
    aliases=(r"join@vc\.example\.com", "join"),
    id_rules=(IdRule(match=r"(\d{9,11})", replace=r"\1@zoomcrc.com"),),
)


@pytest.mark.parametrize(
    ("uri", "found"),
    [
        ("sip:join@vc.example.com", True),
        ("sip:JOIN@VC.EXAMPLE.COM;transport=tcp", True),
        ("sips:join@10.0.0.1:5061", True),  # the user part alone matches 'join'
        ("sip:join2@vc.example.com", False),
        ("sip:abc-defg-hij@google.pexip.me", False),
        ("sip:joİn@vc.example.com", False),
    ],
)
def test_aliases_fully_match_case_insensitively(uri: str, found: bool) -> None:
    assert (aliases.find_reception([JOIN], uri) is JOIN) is found


def test_id_rules_and_validation() -> None:
    assert aliases.map_digits(JOIN, "123456789") == "123456789@zoomcrc.com"
    assert aliases.map_digits(JOIN, "12") is None
    plain = VirtualReception(name="P", aliases=("p",), id_rules=(IdRule(match=r"\d+"),))
    assert aliases.map_digits(plain, "42") == "42"
    broken = VirtualReception(
        name="B",
        aliases=("(",),
        language="xx",
        id_rules=(IdRule(match=r"(\d+)", replace=r"\2@x"), IdRule(match="[")),
    )
    problems = {(p.path, p.warning) for p in aliases.validate_reception(broken)}
    assert (("aliases", 0), False) in problems
    assert (("id_rules", 0, "replace"), False) in problems
    assert (("id_rules", 1, "match"), False) in problems
    assert (("language",), True) in problems
    assert aliases.validate_reception(JOIN) == []


def test_rfc4733_events_give_one_key_per_press() -> None:
    tracker = dtmf.EventTracker()
    press = [build_event("5", end=False, duration=d) for d in (160, 320)]
    press += [build_event("5", end=True, duration=480)] * 3  # end packets repeated (§2.5.1.4)
    assert [tracker.feed(1000, p) for p in press] == ["5", None, None, None, None]
    assert tracker.feed(2000, build_event("#", end=False, duration=160)) == "#"
    event = dtmf.parse_event(build_event("*", end=True, duration=800, volume=7))
    assert (event.key, event.end, event.volume, event.duration) == ("*", True, 7, 800)
    with pytest.raises(dtmf.DtmfError):
        dtmf.parse_event(b"\x10\x00\x00\xa0")  # event 16 is not DTMF
    with pytest.raises(dtmf.DtmfError):
        dtmf.parse_event(b"\x01")


@pytest.mark.parametrize(
    ("content_type", "body", "key"),
    [
        ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", "5"),
        ("application/dtmf-relay", b"Signal= #\r\nDuration=160", "#"),
        ("application/dtmf-relay", b"Signal=11\r\n", "#"),
        ("application/dtmf-relay", b"signal=*\r\n", "*"),
        ("application/dtmf; charset=x", b"7", "7"),
    ],
)
def test_info_bodies(content_type: str, body: bytes, key: str) -> None:
    assert dtmf.parse_info(content_type, body) == key


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/dtmf-relay", b"Duration=160"),
        ("text/plain", b"5"),
        ("application/dtmf", b"55"),
    ],
)
def test_info_bodies_without_a_key(content_type: str, body: bytes) -> None:
    with pytest.raises(dtmf.DtmfError):
        dtmf.parse_info(content_type, body)


OFFER = b"""v=0\r
o=room 1 1 IN IP4 192.0.2.10\r
s=-\r
c=IN IP4 192.0.2.10\r
t=0 0\r
m=audio 40000 RTP/AVP 111 9 0 8 101\r
a=rtpmap:111 opus/48000/2\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
m=video 40002 RTP/AVP 97 96\r
c=IN IP4 192.0.2.11\r
a=rtpmap:97 VP8/90000\r
a=rtpmap:96 H264/90000\r
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r
a=sendonly\r
m=application 5000 UDP/BFCP *\r
"""


def test_answer_takes_the_offerers_first_codec_and_telephone_event() -> None:
    answer = sdp.build_answer(
        sdp.parse_offer(OFFER),
        address="198.51.100.5",
        ports={"audio": 7000, "video": 7002},
        session_id=9,
    )
    audio, video = answer.stream("audio"), answer.stream("video")
    assert audio is not None
    assert video is not None
    assert (audio.codec.name, audio.codec.clock_rate, audio.codec.channels) == ("opus", 48000, 2)
    assert audio.events is not None
    assert audio.events.payload_type == 101
    assert audio.remote == ("192.0.2.10", 40000)
    assert video.codec.name == "VP8"
    assert video.remote == ("192.0.2.11", 40002)
    assert video.direction == "recvonly"
    assert not video.sending
    text = answer.body.decode()
    assert "m=audio 7000 RTP/AVP 111 101\r\n" in text
    assert "a=rtpmap:111 opus/48000/2\r\n" in text
    assert "m=video 7002 RTP/AVP 97\r\n" in text
    assert "m=application 0 UDP/BFCP *\r\n" in text
    assert "c=IN IP4 198.51.100.5\r\n" in text


def test_answer_prefers_h264_mode_1_and_refuses_srtp_and_unknown_codecs() -> None:
    offer = (
        OFFER.replace(b"97 96", b"96 95 97")
        .replace(b"a=rtpmap:97", b"a=rtpmap:95 H264/90000\r\na=rtpmap:97")
        .replace(b"m=audio 40000 RTP/AVP", b"m=audio 40000 RTP/SAVP")
    )
    answer = sdp.build_answer(
        sdp.parse_offer(offer), address="::1", ports={"audio": 1, "video": 2}, session_id=1
    )
    video = answer.stream("video")
    assert video is not None
    assert video.codec.payload_type == 96
    assert answer.stream("audio") is None
    assert b"m=audio 0 RTP/SAVP" in answer.body
    assert b"IN IP6 ::1" in answer.body
    g711 = sdp.parse_offer(b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4 RTP/AVP 18 8\r\n")
    chosen = sdp.build_answer(g711, address="10.0.0.2", ports={"audio": 5}, session_id=1)
    stream = chosen.stream("audio")
    assert stream is not None
    assert stream.codec.name == "PCMA"
    assert stream.events is None
    with pytest.raises(sdp.SdpError):
        sdp.parse_offer(b"hello")


def _meeting(
    event: str, start: datetime, *, alias: str | None = "m@x", listed: bool = True
) -> Meeting:
    return Meeting(
        room="room@example.com",
        event_id=event,
        subject=event,
        organizer_name="",
        organizer_email="",
        start=start,
        end=start + timedelta(hours=1),
        join_from=start - timedelta(minutes=5),
        join_until=start + timedelta(hours=1),
        alias=alias,
        protocol=CallProtocol.SIP,
        platform=Platform.ZOOM,
        rule=None,
        listed=listed,
    )


def test_calendar_offer_is_the_current_meeting_else_the_next_in_its_window() -> None:
    nine = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    meetings = [_meeting("a", nine), _meeting("b", nine + timedelta(minutes=58))]
    offer = calendar.offer_for(meetings, nine + timedelta(minutes=56))
    assert offer is not None
    assert offer.subject == "a"
    offer = calendar.offer_for(meetings, nine + timedelta(minutes=61))
    assert offer is not None
    assert offer.subject == "b"
    assert calendar.offer_for(meetings, nine - timedelta(minutes=6)) is None
    hidden = [_meeting("c", nine, listed=False), _meeting("d", nine, alias=None)]
    assert calendar.offer_for(hidden, nine) is None


INVITE = (
    b"INVITE sip:join@gw.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc\r\n"
    b"Record-Route: <sip:edge.example.com;lr>\r\n"
    b'From: "Room 1" <sip:room1@example.com>;tag=caller\r\n'
    b"To: <sip:join@gw.example.com>\r\n"
    b"Call-ID: c1\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:room1@192.0.2.10:5060>\r\n"
    b"Allow: INVITE, ACK, BYE, CANCEL, INFO\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_refer_within_the_dialog_carries_the_alias_routed_through_the_gateway() -> None:
    invite = parse_message(INVITE)
    assert isinstance(invite, Request)
    dialog = transfer.uas_dialog(invite, "rcp", "sip:join@198.51.100.5:5060")
    dialog, cseq = dialog.next()
    via = Via(transport="UDP", host="198.51.100.5", port=5060, params=(("branch", "z9hG4bKr1"),))
    refer = transfer.build_refer(
        dialog,
        cseq,
        via,
        alias="123456789@zoomcrc.com",
        gateway="198.51.100.5:5060",
        transport="udp",
    )
    wire = parse_message(refer.to_bytes())
    assert isinstance(wire, Request)
    assert wire.method == "REFER"
    assert wire.uri == "sip:room1@192.0.2.10:5060"
    assert wire.get("Route") == "<sip:edge.example.com;lr>"
    assert wire.from_.tag == "rcp"
    assert wire.to.tag == "caller"
    assert wire.get("CSeq") == "1 REFER"
    refer_to = wire.get("Refer-To") or ""
    assert refer_to.startswith("<sip:123456789@zoomcrc.com?Route=")
    assert (
        unquote(refer_to)
        == "<sip:123456789@zoomcrc.com?Route=<sip:198.51.100.5:5060;transport=udp;lr>>"
    )
    assert not transfer.supports_refer(invite)  # Allow without REFER
    assert transfer.supports_refer(invite.remove("Allow"))
    assert transfer.sipfrag_status(b"SIP/2.0 200 OK\r\n") == 200
    assert transfer.sipfrag_status(b"garbage") is None


def test_3pcc_messages() -> None:
    invite = parse_message(INVITE)
    assert isinstance(invite, Request)
    via = Via(transport="UDP", host="198.51.100.5", port=5060, params=(("branch", "z9hG4bKf"),))
    far = transfer.far_invite(
        call_id="far-1",
        target_uri="sip:123456789@zoomcrc.com",
        alias="123456789@zoomcrc.com",
        caller=invite.from_,
        local_tag="ft",
        contact="sip:rcp@198.51.100.5:5060",
        via=via,
        display="Room 1",
    )
    assert far.body == b""
    cancel = transfer.cancel_for(far)
    assert (cancel.method, cancel.uri, cancel.get("CSeq")) == (
        "CANCEL",
        "sip:123456789@zoomcrc.com",
        "1 CANCEL",
    )
    assert cancel.get("Via") == far.get("Via")
    assert cancel.get("To") == far.get("To")
    assert far.from_.display == "Room 1"
    assert far.from_.tag == "ft"
    ok = parse_message(
        b"SIP/2.0 200 OK\r\nVia: "
        + str(via).encode()
        + b"\r\nFrom: "
        + str(far.from_).encode()
        + b"\r\nTo: <sip:123456789@zoomcrc.com>;tag=far\r\nCall-ID: far-1\r\nCSeq: 1 INVITE\r\n"
        b"Contact: <sip:zoom@203.0.113.9>\r\nContent-Length: 0\r\n\r\n"
    )
    far_dialog = transfer.uac_dialog(far, ok)  # type: ignore[arg-type]
    ack = transfer.ack_for(far_dialog, 1, via, body=b"v=0\r\n")
    assert ack.uri == "sip:zoom@203.0.113.9"
    assert ack.get("CSeq") == "1 ACK"
    assert ack.to.tag == "far"
    assert ack.content_type == "application/sdp"
    caller = transfer.uas_dialog(invite, "rcp", "sip:rcp@198.51.100.5")
    caller, cseq = caller.next()
    reinvite = transfer.in_dialog(
        caller, "INVITE", cseq, via, body=b"v=0\r\n", content_type="application/sdp"
    )
    assert reinvite.get("Contact") == "<sip:rcp@198.51.100.5>"
    assert reinvite.get("CSeq") == "1 INVITE"


def test_the_meeting_is_spoken_by_espeak_ng_when_installed_else_left_out() -> None:
    import math
    import shutil
    import struct
    from datetime import timezone

    from guestjoin.reception import prompts, splash
    from guestjoin.reception.machine import CalendarOffer, Phrase

    offer = CalendarOffer(
        alias="a@b",
        subject="Weekly sync",
        platform=Platform.GOOGLE_MEET,
        start=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
    )
    oslo = timezone(timedelta(hours=1))
    assert splash.spoken_meeting(offer, oslo) == "Weekly sync, on Google Meet, at 10:30."
    assert prompts.synthesize("Weekly sync", "en", program="no-such-espeak") == b""
    phrases = (Phrase.PRESS_HASH, Phrase.MEETING, Phrase.OR_ENTER_ID)
    without = prompts.compose(phrases)
    assert without == prompts.compose((Phrase.PRESS_HASH, Phrase.OR_ENTER_ID))
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed here: the fallback above is what runs")
    pcm = prompts.synthesize(splash.spoken_meeting(offer, oslo))
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    assert len(samples) > prompts.RATE  # more than a second of speech at 8 kHz
    assert math.sqrt(sum(s * s for s in samples) / len(samples)) > 300
    spoken = prompts.compose(phrases, spoken={Phrase.MEETING: pcm})
    assert len(spoken) > len(without) + len(pcm)  # the meeting and a pause in between


@pytest.mark.parametrize(
    "alias", ["a b@x", "a@x>\r\nEvil: 1", 'a"@x', "a@x;transport=tcp", "a@x?Route=y", ""]
)
def test_refer_to_refuses_aliases_that_are_not_plain(alias: str) -> None:
    with pytest.raises(ValueError, match="cannot be transferred"):
        transfer.refer_to(alias, "192.0.2.1:5060")
