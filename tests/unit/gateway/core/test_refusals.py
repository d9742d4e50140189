"""Refusals of the sans-I/O core: licences, no route, loops, Max-Forwards, dialog tokens —
each answered statelessly, with nothing forwarded."""

from __future__ import annotations

from dataclasses import replace

from guestjoin import cdr
from guestjoin.core.options import ProxyOptions
from tests.unit.gateway.core.harness import (
    FAR_A,
    GATEWAY,
    SDP,
    Harness,
    in_dialog,
    invite,
)


def test_licences_exhausted_is_a_stateless_503() -> None:
    h = Harness(licences=2)  # two licences per call: room for one
    first = h.send(invite(call_id="one", branch="z9hG4bK-a"))
    assert first is not None
    assert first.statuses == [100]
    second = h.send(invite(call_id="two", branch="z9hG4bK-b", tag="room2"))
    assert second is not None
    [(response, stateless)] = second.responses
    assert (response.status, response.reason, stateless) == (
        503,
        "Call Licence Limit Reached",
        True,
    )
    assert response.get("Retry-After") == "30"
    assert h.cdr("two").cause == cdr.LICENCE_LIMIT
    assert len(h.far) == 1
    h.respond(h.far[0], 486)  # the first call ends: its licences come back
    third = h.send(invite(call_id="three", branch="z9hG4bK-c", tag="room3"))
    assert third is not None
    assert third.statuses == [100]


def test_no_matching_rule_is_a_stateless_404() -> None:
    h = Harness()
    server = h.send(invite(uri="sip:someone@example.com"))
    assert server is not None
    [(response, stateless)] = server.responses
    assert (response.status, response.reason, stateless) == (
        404,
        "No Matching Call Routing Rule",
        True,
    )
    assert h.far == []
    assert h.cdr("call-1").cause == cdr.NO_ROUTE
    assert h.core.licences.in_use == 0


def test_a_domain_that_does_not_exist_is_404() -> None:
    h = Harness(zone={})
    server = h.send(invite())
    assert server is not None
    assert server.final is not None
    assert server.final.status == 404
    assert h.cdr("call-1").cause == cdr.DNS_FAILURE


def test_non_ascii_request_uri_is_never_routed() -> None:
    h = Harness()
    server = h.send(invite(uri="sip:abc-defg-hij@google.pexip.m\u0435"))
    assert server is not None
    assert server.statuses == [404]
    assert h.far == []


def test_a_request_that_comes_back_is_a_loop() -> None:
    h = Harness()
    h.send(invite())
    [out] = h.far
    # a proxy at the far end routed it back to us: its Via on top of ours
    came_back = out.request.prepend("Via", "SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-far")
    back = h.send(came_back, source=(FAR_A.host, FAR_A.port))
    assert back is not None
    [(response, stateless)] = back.responses
    assert (response.status, stateless) == (482, True)
    assert len(h.far) == 1


def test_a_target_that_is_the_gateway_itself_is_skipped() -> None:
    h = Harness(zone={"google.pexip.me": (replace(FAR_A, host=GATEWAY), FAR_B_)})
    server = h.send(invite())
    assert server is not None
    [out] = h.far
    assert out.target == FAR_B_


FAR_B_ = replace(FAR_A, host="203.0.113.9")


def test_max_forwards_zero_is_483() -> None:
    h = Harness()
    server = h.send(invite(max_forwards=0))
    assert server is not None
    [(response, stateless)] = server.responses
    assert (response.status, response.reason, stateless) == (483, "Too Many Hops", True)


def test_source_limit_is_a_stateless_503() -> None:
    h = Harness()
    h.config = replace(h.config, settings=replace(h.config.settings, max_calls_per_source=1))
    h.send(invite(call_id="one", branch="z9hG4bK-a"))
    second = h.send(invite(call_id="two", branch="z9hG4bK-b", tag="r2"))
    assert second is not None
    assert second.responses[0][0].reason == "Too Many Calls From This Source"


def test_preloaded_route_is_refused() -> None:
    h = Harness()
    server = h.send(invite(extra="Route: <sip:203.0.113.99;lr>\r\n"))
    assert server is not None
    assert server.statuses == [403]


def test_in_dialog_requests_need_our_token() -> None:
    h = Harness()
    h.send(invite())
    out = h.far[0]
    h.respond(out, 200, body=SDP)
    answer = h.servers["z9hG4bK-inv1 INVITE"].final
    assert answer is not None
    no_route = in_dialog("BYE", answer=answer, from_caller=True, branch="z9hG4bK-x1", cseq=2)
    no_route = no_route.replace(b"Route: ", b"X-Old-Route: ")
    refused = h.send(no_route)
    assert refused is not None
    assert refused.statuses == [481]
    forged = in_dialog("BYE", answer=answer, from_caller=True, branch="z9hG4bK-x2", cseq=3)
    token = answer.values("Record-Route")[0].split("otj-dlg=")[1].rstrip(">")
    refused = h.send(forged.replace(token.encode(), b"0" * len(token)))
    assert refused is not None
    assert refused.statuses == [403]
    assert h.to(FAR_A, "BYE") == []


def test_a_callee_request_from_elsewhere_is_refused() -> None:
    h = Harness()
    h.send(invite())
    h.respond(h.far[0], 200, body=SDP)
    answer = h.servers["z9hG4bK-inv1 INVITE"].final
    assert answer is not None
    data = in_dialog("BYE", answer=answer, from_caller=False, branch="z9hG4bK-y", cseq=9)
    refused = h.send(data, source=("203.0.113.200", 5060))
    assert refused is not None
    assert refused.statuses == [403]
    assert h.core.live_calls == 1


def test_options_answers_with_allow_and_message_outside_a_dialog_is_405() -> None:
    h = Harness()
    options = invite().replace(b"INVITE sip", b"OPTIONS sip").replace(b"1 INVITE", b"1 OPTIONS")
    server = h.send(options)
    assert server is not None
    assert server.final is not None
    allow = server.final.get("Allow") or ""
    assert "MESSAGE" in allow.split(", ")
    message = invite(branch="z9hG4bK-m").replace(b"INVITE sip", b"MESSAGE sip")
    refused = h.send(message.replace(b"1 INVITE", b"1 MESSAGE"))
    assert refused is not None
    assert refused.statuses == [405]


def test_a_bug_answers_500_and_the_core_keeps_going() -> None:
    h = Harness()

    def broken() -> None:
        raise RuntimeError("boom")

    h.core.config = broken  # type: ignore[assignment,method-assign]
    server = h.send(invite())
    assert server is not None
    assert server.statuses == [500]
    h.core.config = lambda: h.config  # type: ignore[method-assign]
    server = h.send(invite(call_id="call-2", branch="z9hG4bK-2"))
    assert server is not None
    assert server.statuses == [100]


def test_options_disabled_registrar_is_405() -> None:
    h = Harness(options=ProxyOptions(registrar=False, dialog_key=b"k" * 32))
    register = invite().replace(b"INVITE sip", b"REGISTER sip").replace(b"1 INVITE", b"1 REGISTER")
    server = h.send(register)
    assert server is not None
    assert server.statuses == [405]
