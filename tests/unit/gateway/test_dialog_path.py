"""Where an in-dialog request may go (pure): the route sets and remote targets of its dialog."""

from __future__ import annotations

from guestjoin.dialog_path import DialogPath, hop_of, same_address
from guestjoin.sip.uri import SipUri, parse_uri

OURS = "<sip:192.0.2.1:5060;transport=udp;lr;otj-dlg=00>"


def ours(uri: SipUri) -> bool:
    return uri.host == "192.0.2.1"


def answered() -> DialogPath:
    path = DialogPath.from_invite(["<sip:edge.example;lr>"], "<sip:room@198.51.100.9:5070>")
    return path.answered(
        ["<sip:q2.example;lr>", "<sip:q1.example:5080;lr>", OURS, "<sip:edge.example;lr>"],
        "<sip:conf@203.0.113.5;transport=tls>",
        ours,
    )


def test_hops_fill_in_default_ports() -> None:
    assert hop_of(parse_uri("sip:A.Example")) == ("a.example", 5060)
    assert hop_of(parse_uri("sips:a.example")) == ("a.example", 5061)
    assert hop_of(parse_uri("sip:[2001:db8::1];transport=TLS")) == ("2001:db8::1", 5061)
    # the resolver goes to the maddr (RFC 3263 §4): so does the hop
    assert hop_of(parse_uri("sip:x@a.example:5070;maddr=192.0.2.66")) == ("192.0.2.66", 5070)


def test_the_route_sets_on_each_side() -> None:
    path = answered()
    assert path.caller_routes == (("edge.example", 5060),)
    assert path.callee_routes == (("q1.example", 5080), ("q2.example", 5060))
    assert path.caller_targets == {("198.51.100.9", 5070)}
    assert path.callee_targets == {("203.0.113.5", 5061)}


def test_toward_the_callee_only_along_its_route_set() -> None:
    path = answered()
    routes = ["<sip:q1.example:5080;lr>", "<sip:q2.example;lr>"]
    target = "sip:conf@203.0.113.5;transport=tls"
    assert path.refusal(toward_caller=False, routes=routes, uri=target) is None
    # a loose router on the route set forwards to the Request-URI: it must be the target
    assert (
        path.refusal(toward_caller=False, routes=routes, uri="sip:+1555@pstn.example") is not None
    )
    assert path.refusal(toward_caller=False, routes=routes[:1], uri="sip:x") is not None
    assert path.refusal(toward_caller=False, routes=[], uri="sip:x") is not None
    assert (
        path.refusal(
            toward_caller=False, routes=["<sip:pstn.example;lr>", *routes], uri="sip:+1555@x"
        )
        is not None
    )


def test_without_a_route_set_only_to_the_remote_target() -> None:
    path = DialogPath.from_invite([], "<sip:room@198.51.100.9>").answered(
        [OURS], "<sip:conf@203.0.113.5:5070>", ours
    )
    assert path.refusal(toward_caller=False, routes=[], uri="sip:conf@203.0.113.5:5070") is None
    assert path.refusal(toward_caller=False, routes=[], uri="sip:+15551234@203.0.113.5") is not None
    assert (
        path.refusal(toward_caller=False, routes=[], uri="sip:+15551234@pstn.example") is not None
    )
    assert path.refusal(toward_caller=False, routes=[], uri="tel:+15551234") is not None
    # toward the caller over its own flow the Request-URI does not decide
    assert path.refusal(toward_caller=True, routes=[], uri=None) is None
    assert path.refusal(toward_caller=True, routes=[], uri="sip:room@198.51.100.9") is None
    assert path.refusal(toward_caller=True, routes=[], uri="sip:x@pstn.example") is not None
    assert path.refusal(toward_caller=True, routes=["<sip:pstn.example;lr>"], uri=None) is not None


def test_a_target_refresh_adds_a_remote_target() -> None:
    path = DialogPath().with_target("<sip:conf@203.0.113.6>", caller=False)
    path = path.with_target("*", caller=False).with_target("garbage", caller=True)
    assert path.callee_targets == {("203.0.113.6", 5060)}
    assert path.caller_targets == frozenset()
    assert path.callee_hosts() == {"203.0.113.6"}


def test_same_address_sees_through_spellings() -> None:
    assert same_address("::ffff:192.0.2.7", "192.0.2.7")
    assert same_address("[2001:DB8::1]", "2001:db8:0::1")
    assert same_address("Edge.Example", "edge.example")
    assert not same_address("192.0.2.7", "192.0.2.8")
