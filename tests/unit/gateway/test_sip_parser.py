"""RFC 3261 parser and serialiser: real captured messages, compact forms, hostile input."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guestjoin.sip import (
    Keepalive,
    Limits,
    Request,
    Response,
    SipParseError,
    StreamError,
    StreamFramer,
    canonical_name,
    make_response,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_commas,
)
from guestjoin.sip.parser import via_for_reply
from tests.unit.gateway.support import vias

CAPTURES = sorted((Path(__file__).parent / "captures").glob("*.sip"))

INVITE = (
    b"INVITE sip:abc-defg-hij@google.pexip.me SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Oslo Fjord" <sip:fjord@example.com>;tag=1928301774\r\n'
    b"To: <sip:abc-defg-hij@google.pexip.me>\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:fjord@192.0.2.10:5060>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def test_there_are_captures() -> None:
    assert len(CAPTURES) >= 15
    sources = {p.name.split("-")[0] for p in CAPTURES}
    assert {"sipp", "baresip", "kamailio"} <= sources


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_real_captured_messages_round_trip(path: Path) -> None:
    raw = path.read_bytes()
    msg = parse_message(raw)
    # sipp pads Content-Length ("Content-Length:   129"); we always write the computed value
    assert msg.to_bytes() == re.sub(rb"Content-Length: +", b"Content-Length: ", raw)
    assert parse_message(msg.to_bytes()) == msg
    assert msg.call_id
    assert msg.top_via.branch is not None
    assert msg.top_via.branch.startswith("z9hG4bK")


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_real_messages_frame_on_a_stream_byte_by_byte(path: Path) -> None:
    raw = path.read_bytes()
    framer = StreamFramer()
    frames: list[bytes | Keepalive] = []
    for i in range(len(raw)):
        frames += framer.feed(raw[i : i + 1])
    assert frames == [raw]
    assert framer.pending == 0


def test_kamailio_record_route_and_two_vias() -> None:
    raw = next(p for p in CAPTURES if p.name.startswith("kamailio") and "invite" in p.name)
    msg = parse_message(raw.read_bytes())
    assert isinstance(msg, Request)
    assert len(vias(msg)) == 2
    rr = msg.values("Record-Route")
    assert len(rr) == 1
    assert parse_uri(parse_name_addr(rr[0]).uri).lr


def test_compact_forms_and_folding_are_understood() -> None:
    raw = (
        b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8,\r\n"
        b"   SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK2\r\n"
        b"V: SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK3;received=192.0.2.9\r\n"
        b"max-forwards: 70\r\n"
        b"f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
        b"t: Bob <sip:bob@biloxi.com>\r\n"
        b"i: a84b4c76e66710\r\n"
        b"cseq: 1 INVITE\r\n"
        b'm: <sip:alice@pc33.atlanta.com>, "A, B" <sip:x@y;lr>;q=0.5\r\n'
        b"l: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    assert isinstance(msg, Request)
    every = vias(msg)
    assert [v.transport for v in every] == ["UDP", "TCP", "TLS"]
    assert every[2].host == "[2001:db8::1]"
    assert every[2].port == 5061
    assert every[2].received == "192.0.2.9"
    assert msg.max_forwards == 70
    assert msg.from_.display == "Alice"
    assert msg.from_.tag == "1928301774"
    assert msg.to.tag is None
    contacts = [parse_name_addr(c) for c in msg.values("Contact")]
    assert contacts[1].display == "A, B"
    assert contacts[1].params == (("q", "0.5"),)
    assert b"Via: SIP/2.0/UDP pc33.atlanta.com" in msg.to_bytes()
    assert parse_message(msg.to_bytes()) == msg


def test_remove_first_value_of_a_folded_header() -> None:
    msg = parse_message(
        INVITE.replace(b"Max-Forwards", b"Route: <sip:p1;lr>, <sip:p2;lr>\r\nMax-Forwards")
    )
    assert msg.first_value("Route") == "<sip:p1;lr>"
    msg = msg.remove_first_value("Route")
    assert msg.values("Route") == ["<sip:p2;lr>"]
    msg = msg.remove_first_value("Route")
    assert msg.get("Route") is None


@pytest.mark.parametrize(
    ("uri", "user", "host", "port", "params"),
    [
        ("sip:abc-defg-hij@google.pexip.me", "abc-defg-hij", "google.pexip.me", None, ()),
        (
            "sips:bob:secret@[2001:db8::1]:5061;transport=tcp;lr",
            "bob",
            "[2001:db8::1]",
            5061,
            (("transport", "tcp"), ("lr", None)),
        ),
        (
            "SIP:+4712345678;phone-context=x@gw.example.com:5080;user=phone",
            "+4712345678;phone-context=x",
            "gw.example.com",
            5080,
            (("user", "phone"),),
        ),
        ("sip:10.0.0.1", None, "10.0.0.1", None, ()),
    ],
)
def test_uri_table(
    uri: str, user: str | None, host: str, port: int | None, params: tuple[object, ...]
) -> None:
    parsed = parse_uri(uri)
    assert (parsed.user, parsed.host, parsed.port, parsed.params) == (user, host, port, params)
    assert parse_uri(str(parsed)) == parsed


@pytest.mark.parametrize(
    "uri", ["tel:+4712345", "sip:", "sip:a@", "sip:host:99999", "sip:host:x", "sip:[::1", "sip:a b"]
)
def test_bad_uris(uri: str) -> None:
    with pytest.raises(ValueError):
        parse_uri(uri)


@pytest.mark.parametrize(
    ("text", "display", "uri", "tag"),
    [
        ('"Oslo \\"Fjord\\"" <sip:f@x>;tag=9', 'Oslo "Fjord"', "sip:f@x", "9"),
        ("Bob <sips:bob@biloxi.com> ;tag=a48s", "Bob", "sips:bob@biloxi.com", "a48s"),
        (
            "sip:+12125551212@server.phone2net.com;tag=887s",
            None,
            "sip:+12125551212@server.phone2net.com",
            "887s",
        ),
        ("<tel:+4712345678>", None, "tel:+4712345678", None),
    ],
)
def test_name_addr_table(text: str, display: str | None, uri: str, tag: str | None) -> None:
    addr = parse_name_addr(text)
    assert (addr.display, addr.uri, addr.tag) == (display, uri, tag)
    assert parse_name_addr(str(addr)) == addr


def test_display_names_cannot_inject_headers() -> None:
    addr = parse_name_addr("<sip:a@b>").with_display('Evil"\r\nVia: x')
    assert "\r" not in str(addr)
    assert "\n" not in str(addr)
    assert parse_name_addr(str(addr)).display == 'Evil"Via: x'
    msg = parse_message(INVITE)
    with pytest.raises(ValueError, match="forbidden"):
        msg.set("Subject", "x\r\nVia: SIP/2.0/UDP evil")


def test_split_commas_respects_quotes_and_brackets() -> None:
    assert split_commas('"a,b" <sip:x@y>, <sip:p;q=1,2>,c') == [
        '"a,b" <sip:x@y>',
        "<sip:p;q=1,2>",
        "c",
    ]


def test_make_response_copies_the_dialog_headers() -> None:
    req = parse_message(INVITE)
    assert isinstance(req, Request)
    resp = make_response(req, 404, to_tag="xyz", headers=(("Server", "otj"),))
    again = parse_message(resp.to_bytes())
    assert isinstance(again, Response)
    assert again.status == 404
    assert again.reason == "Not Found"
    assert again.to.tag == "xyz"
    assert again.from_.tag == "1928301774"
    assert vias(again) == vias(req)
    assert again.get("Server") == "otj"


def test_datagram_body_is_cut_at_content_length_and_trailing_bytes_ignored() -> None:
    msg = parse_message(INVITE + b"garbage")
    assert msg.body == b"v=0\n"


MALFORMED: list[tuple[str, bytes, int, bool]] = [
    ("truncated head", INVITE[:120], 400, False),
    ("body shorter than Content-Length", INVITE[:-2], 400, True),
    ("bad Content-Length", INVITE.replace(b"Content-Length: 4", b"Content-Length: x4"), 400, True),
    (
        "conflicting Content-Length",
        INVITE.replace(b"Content-Length: 4", b"Content-Length: 4\r\nl: 5"),
        400,
        True,
    ),
    ("no Call-ID", INVITE.replace(b"Call-ID: a84b4c76e66710@pc33.example.com\r\n", b""), 400, True),
    (
        "no Via",
        INVITE.replace(b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n", b""),
        400,
        False,
    ),
    ("CSeq method mismatch", INVITE.replace(b"314159 INVITE", b"314159 BYE"), 400, True),
    ("bad CSeq", INVITE.replace(b"314159 INVITE", b"abc INVITE"), 400, True),
    ("bad Max-Forwards", INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: seventy"), 400, True),
    (
        "bad From",
        INVITE.replace(b'"Oslo Fjord" <sip:fjord@example.com>', b'"Oslo <sip:x'),
        400,
        True,
    ),
    ("header name with space", INVITE.replace(b"Max-Forwards:", b"Max Forwards:"), 400, True),
    # §7.3.1: only list headers repeat; the proxy checks one dialog, the next hop another
    ("two To tags", INVITE.replace(b"pexip.me>\r\n", b"pexip.me>;tag=a;TAG=b\r\n", 1), 400, True),
    ("two Call-IDs", INVITE.replace(b"CSeq:", b"i: other@x\r\nCSeq:"), 400, True),
    ("two To", INVITE.replace(b"CSeq:", b"t: <sip:x@y>;tag=2\r\nCSeq:"), 400, True),
    ("two From", INVITE.replace(b"CSeq:", b"From: <sip:x@y>;tag=3\r\nCSeq:"), 400, True),
    (
        "two CSeq",
        INVITE.replace(b"Max-Forwards: 70", b"CSeq: 1 INVITE\r\nMax-Forwards: 70"),
        400,
        True,
    ),
    (
        "two Max-Forwards",
        INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nMax-Forwards: 9"),
        400,
        True,
    ),
    (
        "bare CR in value (injection)",
        INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\rVia: x"),
        400,
        True,
    ),
    ("NUL in value", INVITE.replace(b"tag=1928301774", b"tag=19\x0028"), 400, True),
    ("version", INVITE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505, True),
    ("request line", INVITE.replace(b"INVITE sip:", b"INVITE  sip:", 1), 400, False),
    ("method", INVITE.replace(b"INVITE sip:", b"INV(TE sip:", 1), 400, False),
    ("not UTF-8", INVITE.replace(b"Oslo", b"Os\xfflo"), 400, False),
    (
        "oversized header",
        INVITE.replace(b"Max-Forwards: 70", b"X-Big: " + b"a" * 20000),
        513,
        True,
    ),
    (
        "too many headers",
        INVITE.replace(b"Max-Forwards: 70", b"X-A: 1\r\n" * 200 + b"Max-Forwards: 70"),
        513,
        True,
    ),
    (
        "oversized body",
        INVITE.replace(b"Content-Length: 4", b"Content-Length: 100000") + b"x" * 100000,
        413,
        True,
    ),
    ("status code", b"SIP/2.0 2000 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n", 400, False),
    ("empty", b"\r\n\r\n", 400, False),
]


@pytest.mark.parametrize(
    ("name", "raw", "status", "replyable"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_messages_raise_a_parse_error_with_a_status(
    name: str, raw: bytes, status: int, replyable: bool
) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(raw)
    assert info.value.status == status
    assert info.value.reason
    assert via_for_reply(info.value) is replyable


def test_limits_are_configurable() -> None:
    with pytest.raises(SipParseError, match="body too large"):
        parse_message(INVITE, limits=Limits(max_body=2))


def test_stream_framing_keepalives_and_pipelined_messages() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [Keepalive.PING]
    assert framer.feed(b"\r\n") == []  # might be the start of a ping
    assert framer.feed(INVITE[:50]) == [Keepalive.PONG]
    assert framer.feed(INVITE[50:] + INVITE + INVITE[:10]) == [INVITE, INVITE]
    assert framer.feed(INVITE[10:]) == [INVITE]


def test_stream_framing_uses_compact_content_length() -> None:
    raw = INVITE.replace(b"Content-Length: 4", b"l: 4")
    assert StreamFramer().feed(raw + raw) == [raw, raw]


@pytest.mark.parametrize(
    "raw",
    [
        INVITE.replace(b"Content-Length: 4", b"Content-Length: -4"),
        INVITE.replace(b"Content-Length: 4", b"Content-Length: 999999999"),
        b"X" * 20000,
    ],
)
def test_stream_framing_errors(raw: bytes) -> None:
    with pytest.raises(StreamError):
        StreamFramer().feed(raw)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_parser_never_raises_anything_else_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse_message(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(INVITE)), st.binary(max_size=40))
def test_parser_survives_mutations_of_a_real_message(cut: int, noise: bytes) -> None:
    for data in (INVITE[:cut] + noise + INVITE[cut:], INVITE[:cut] + noise, INVITE[:cut]):
        try:
            msg = parse_message(data)
        except SipParseError:
            continue
        again = parse_message(msg.to_bytes())
        assert again.to_bytes() == msg.to_bytes()
        assert again.body == msg.body


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_framer_never_raises_anything_else(chunks: list[bytes]) -> None:
    framer = StreamFramer(Limits(max_head=512, max_body=512))
    try:
        for chunk in chunks:
            for frame in framer.feed(chunk):
                if isinstance(frame, bytes):
                    with contextlib.suppress(SipParseError):
                        parse_message(frame, stream=True)
    except StreamError:
        pass


TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    user=TOKEN,
    host=TOKEN,
    display=st.text(max_size=20),
    tag=TOKEN,
    body=st.binary(max_size=50),
    extra=st.lists(
        st.tuples(
            TOKEN.map(lambda t: "X-" + t),
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), max_size=30),
        ),
        max_size=5,
    ),
)
def test_built_messages_round_trip(
    user: str, host: str, display: str, tag: str, body: bytes, extra: list[tuple[str, str]]
) -> None:
    req = parse_message(INVITE)
    assert isinstance(req, Request)
    req = req.set(
        "From", str(parse_name_addr(f"<sip:{user}@{host}>").with_display(display).with_tag(tag))
    )
    for name, value in extra:
        req = req.append(name, value)
    req = req.with_body(body)
    again = parse_message(req.to_bytes())
    assert again.body == body
    assert again.from_.tag == tag
    assert again.from_.uri == f"sip:{user}@{host}"
    for name, value in extra:
        assert value.strip(" \t") in again.get_all(canonical_name(name))


def test_via_parse_with_spaces_around_slashes() -> None:
    via = parse_via(
        "SIP / 2.0 / UDP first.example.com: 4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1"
    )
    assert via.transport == "UDP"
    assert (via.host, via.port, via.branch) == ("first.example.com", 4000, "z9hG4bKa7c6a8dlze.1")
