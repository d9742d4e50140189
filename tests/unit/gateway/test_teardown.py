"""The BYE sent for a call whose caller never ACKed the 2xx (pure)."""

from __future__ import annotations

from guestjoin.sip import Request, Response, parse_message
from guestjoin.sip.uri import SipUri
from guestjoin.teardown import bye_toward_callee

INVITE = (
    b"INVITE sip:abc-defg-hij@meet.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-otj1\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-c\r\n"
    b"Record-Route: <sip:192.0.2.1:5060;transport=udp;lr;otj-dlg=00>\r\n"
    b"Max-Forwards: 69\r\n"
    b'From: "Room 1" <sip:room1@198.51.100.9>;tag=caller\r\n'
    b"To: <sip:abc-defg-hij@google.pexip.me>\r\n"
    b"Call-ID: c-1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-otj1\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-c\r\n"
    b"Record-Route: <sip:edge2.example;lr>, <sip:edge1.example;lr>\r\n"
    b"Record-Route: <sip:192.0.2.1:5060;transport=udp;lr;otj-dlg=00>\r\n"
    b"Record-Route: <sip:upstream.example;lr>\r\n"
    b'From: "Room 1" <sip:room1@198.51.100.9>;tag=caller\r\n'
    b"To: <sip:abc-defg-hij@google.pexip.me>;tag=callee\r\n"
    b"Contact: <sip:conf@203.0.113.5:5070;transport=tcp>\r\n"
    b"Call-ID: c-1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
)


def ours(uri: SipUri) -> bool:
    return uri.host == "192.0.2.1"


def parsed(data: bytes) -> Request | Response:
    return parse_message(data)


def test_bye_follows_the_callee_route_set_to_its_contact() -> None:
    invite, ok = parsed(INVITE), parsed(OK)
    assert isinstance(invite, Request)
    assert isinstance(ok, Response)
    bye = bye_toward_callee(invite, ok, ours)
    assert bye is not None
    assert bye.method == "BYE"
    assert bye.uri == "sip:conf@203.0.113.5:5070;transport=tcp"
    assert bye.values("Route") == ["<sip:edge1.example;lr>", "<sip:edge2.example;lr>"]
    assert bye.from_.tag == "caller"
    assert bye.to.tag == "callee"
    assert bye.call_id == "c-1"
    assert str(bye.cseq.number) == "8"
    assert bye.get("Via") is None  # the sender adds its own
    assert "408" in (bye.get("Reason") or "")
    via = "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-x"
    reparsed = parse_message(bye.prepend("Via", via).to_bytes())
    assert isinstance(reparsed, Request)


def test_no_contact_no_bye() -> None:
    invite = parsed(INVITE)
    ok = parsed(OK.replace(b"Contact: <sip:conf@203.0.113.5:5070;transport=tcp>\r\n", b""))
    assert isinstance(invite, Request)
    assert isinstance(ok, Response)
    assert bye_toward_callee(invite, ok, ours) is None
