"""Trusted calls answer the far end's digest challenge (issue 13 §2), attribution names the
caller (§4): through the sans-I/O core with in-memory peers."""

from __future__ import annotations

from dataclasses import replace

from guestjoin import cdr
from guestjoin.sip import Response
from guestjoin.sip.digest import check_response, parse_authorization
from otj.model import CallRoutingRule, Endpoint, SipCredential
from otj.secret import Secret
from tests.unit.gateway.core.harness import FAR_A, MEET, SDP, Harness, in_dialog, invite

TRUSTED = CallRoutingRule(
    name="Trusted", priority=5, match_string=r"[a-z\-]{10,12}@google\.pexip\.me",
    match_source=("198.51.100.0/24",), outbound_credentials="office-token",
)  # fmt: skip
UNTRUSTED = CallRoutingRule(
    name="Untrusted", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
TOKEN = SipCredential(
    name="office-token", username="oslo-gw", password=Secret("trust-pw"), realm="pexip.example"
)
CHALLENGE = 'Digest realm="pexip.example", nonce="n-1", qop="auth", algorithm=SHA-256'


def harness(*, rules: tuple[CallRoutingRule, ...] = (TRUSTED, UNTRUSTED)) -> Harness:
    h = Harness()
    h.config = replace(h.config, rules=rules, credentials=(TOKEN,))
    return h


def challenged_call(h: Harness, status: int = 401) -> tuple[object, Response]:
    server = h.send(invite())
    assert server is not None
    [first] = h.to(FAR_A, "INVITE")
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    h.respond(first, status, headers=((header, CHALLENGE),))
    return server, h.to(FAR_A, "INVITE")[-1].request  # type: ignore[return-value]


def test_a_trusted_call_answers_the_challenge_and_keeps_the_caller_s_cseq() -> None:
    h = harness()
    server, again = challenged_call(h)
    assert len(h.to(FAR_A, "INVITE")) == 2
    assert server.statuses == [100]  # type: ignore[attr-defined]  # the caller saw no 401
    creds = parse_authorization(again.get("Authorization") or "")  # type: ignore[attr-defined]
    assert (creds.username, creds.realm, creds.uri) == ("oslo-gw", "pexip.example", MEET)
    assert creds.algorithm == "SHA-256"
    assert check_response(creds, method="INVITE", password="trust-pw")
    assert again.cseq.number == 2  # type: ignore[attr-defined]
    retry = h.to(FAR_A, "INVITE")[-1]
    assert retry.request.top_via.branch != h.to(FAR_A, "INVITE")[0].request.top_via.branch
    h.respond(retry, 200, body=SDP)
    answer = server.final  # type: ignore[attr-defined]
    assert answer.status == 200
    assert answer.cseq.number == 1  # the caller's own transaction
    h.send(in_dialog("ACK", answer=answer, from_caller=True, branch=h.branch(), cseq=1))
    [(ack, _)] = h.stateless
    assert ack.cseq.number == 2  # the ACK of the INVITE the far end answered
    bye = h.send(in_dialog("BYE", answer=answer, from_caller=True, branch=h.branch(), cseq=2))
    assert bye is not None
    [out_bye] = h.to(FAR_A, "BYE")
    assert out_bye.request.cseq.number == 3
    later = parse_authorization(out_bye.request.get("Authorization") or "")
    assert later.nc == "00000002"
    assert check_response(later, method="BYE", password="trust-pw")
    h.respond(out_bye, 200)
    assert bye.final is not None
    assert bye.final.cseq.number == 2
    assert h.cdr("call-1").cause == cdr.COMPLETED


def test_a_407_is_answered_with_proxy_authorization() -> None:
    h = harness()
    _, again = challenged_call(h, 407)
    assert again.get("Proxy-Authorization") is not None  # type: ignore[attr-defined]
    assert again.get("Authorization") is None  # type: ignore[attr-defined]


def test_wrong_credentials_are_tried_once_and_the_challenge_then_reaches_the_caller() -> None:
    h = harness()
    server, _ = challenged_call(h)
    h.respond(h.to(FAR_A, "INVITE")[-1], 401, headers=(("WWW-Authenticate", CHALLENGE),))
    assert len(h.to(FAR_A, "INVITE")) == 2
    final = server.final  # type: ignore[attr-defined]
    assert final.status == 401
    assert final.cseq.number == 1


def test_an_untrusted_call_gets_the_challenge_unchanged() -> None:
    h = harness()
    server = h.send(invite(), source=("203.0.113.99", 5060))
    assert server is not None
    [out] = h.to(FAR_A, "INVITE")
    h.respond(out, 401, headers=(("WWW-Authenticate", CHALLENGE),))
    assert len(h.to(FAR_A, "INVITE")) == 1
    final = server.final
    assert final is not None
    assert final.status == 401
    assert final.get("WWW-Authenticate") == CHALLENGE
    assert h.cdr("call-1").rule == "Untrusted"


def test_a_challenged_in_dialog_request_is_sent_again_with_credentials() -> None:
    h = harness()
    server = h.send(invite())
    assert server is not None
    h.respond(h.to(FAR_A, "INVITE")[-1], 200, body=SDP)
    answer = server.final
    assert answer is not None
    h.send(in_dialog("ACK", answer=answer, from_caller=True, branch=h.branch(), cseq=1))
    bye = h.send(in_dialog("BYE", answer=answer, from_caller=True, branch=h.branch(), cseq=2))
    assert bye is not None
    [first] = h.to(FAR_A, "BYE")
    assert first.request.get("Authorization") is None  # never challenged before
    h.respond(first, 407, headers=(("Proxy-Authenticate", CHALLENGE),))
    [_, again] = h.to(FAR_A, "BYE")
    assert again.request.cseq.number == 3
    creds = parse_authorization(again.request.get("Proxy-Authorization") or "")
    assert check_response(creds, method="BYE", password="trust-pw")
    h.respond(again, 200)
    assert bye.statuses == [200]
    assert bye.final is not None
    assert bye.final.cseq.number == 2


def test_attribution_names_the_room_or_marks_the_caller_unverified() -> None:
    h = harness(rules=(UNTRUSTED,))
    h.send(invite())
    [out] = h.to(FAR_A, "INVITE")
    assert out.request.from_.display == "Oslo Fjord (unverified)"
    assert h.cdr("call-1").attribution == ""
    fjord = Endpoint(
        name="Oslo Fjord", group="g", room_resource_email="fjord@resource.example.com",
        api_address="198.51.100.7", sip_uri="sip:fjord@example.com",
    )  # fmt: skip
    h.config = replace(h.config, endpoints=(fjord,))
    h.send(invite(call_id="call-2", branch="z9hG4bK-inv2"))
    second = h.to(FAR_A, "INVITE")[-1]
    assert second.request.from_.display == "Oslo Fjord"
    detail = h.cdr("call-2")
    assert (detail.endpoint_name, detail.attribution) == ("Oslo Fjord", "from_uri")
