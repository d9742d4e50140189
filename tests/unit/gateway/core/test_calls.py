"""A Guest Join call through the sans-I/O core: answer, lobby, rejection, failover, CANCEL,
re-INVITE and the no-ACK teardown, on a manual clock with in-memory peers."""

from __future__ import annotations

from guestjoin import cdr
from guestjoin.sip import Response
from tests.unit.gateway.core.harness import (
    FAR_A,
    FAR_B,
    MEET,
    SDP,
    Harness,
    cancel,
    in_dialog,
    invite,
)


def answered(h: Harness, call_id: str = "call-1") -> Response:
    """Set up a call that the far end answers; the caller's view of the 200."""
    server = h.send(invite(call_id=call_id))
    assert server is not None
    out = h.to(FAR_A, "INVITE")[-1]
    h.respond(out, 180)
    h.respond(out, 200, body=SDP)
    final = server.final
    assert final is not None
    assert final.status == 200
    return final


def test_a_full_call_is_forwarded_answered_acked_and_hung_up() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    assert server.statuses == [100]
    [out] = h.far
    assert out.target == FAR_A
    request = out.request
    assert request.uri == MEET
    assert request.max_forwards == 69
    assert request.top_via.host == "192.0.2.10"
    [rr] = request.values("Record-Route")
    assert "192.0.2.10:5060" in rr
    assert ";lr;" in rr
    assert "otj-dlg=" in rr
    assert b"b=AS:2000" in request.body  # max_outbound_kbps caps the offer
    h.respond(out, 180)
    assert server.statuses == [100, 180]
    assert server.responses[-1][0].top_via.host == "198.51.100.7"  # our Via removed
    h.respond(out, 200, body=SDP)
    answer = server.final
    assert answer is not None
    assert answer.status == 200
    assert h.core.licences.in_use == 2
    assert h.core.live_calls == 1
    detail = h.cdr("call-1")
    assert detail.answer_at is not None
    assert detail.ringing_at is not None
    assert detail.rule == "SIP Guest Join"
    assert detail.target == "udp:203.0.113.5:5060"

    h.send(in_dialog("ACK", answer=answer, from_caller=True, branch=h.branch(), cseq=1))
    [(ack, target)] = h.stateless
    assert target == FAR_A
    assert ack.method == "ACK"
    assert ack.get("Route") is None
    h.advance(120)  # well past the lobby window and Timer B: the call stays up
    assert h.core.live_calls == 1

    bye = h.send(in_dialog("BYE", answer=answer, from_caller=True, branch=h.branch(), cseq=2))
    assert bye is not None
    [out_bye] = h.to(FAR_A, "BYE")
    h.respond(out_bye, 200)
    assert bye.statuses == [200]
    detail = h.cdr("call-1")
    assert detail.cause == cdr.COMPLETED
    assert detail.end_at is not None
    assert h.core.licences.in_use == 0
    assert h.core.live_calls == 0
    h.advance(40)
    assert h.clock.pending == 0  # every timer of the call was stopped or has fired


def test_far_end_hanging_up_in_the_lobby_is_not_admitted() -> None:
    h = Harness()
    answer = answered(h)
    h.send(in_dialog("ACK", answer=answer, from_caller=True, branch=h.branch(), cseq=1))
    h.advance(30)  # the Meet lobby gives up after about 30 s
    bye = h.send(
        in_dialog("BYE", answer=answer, from_caller=False, branch=h.branch(), cseq=1),
        source=(FAR_A.host, FAR_A.port),
    )
    assert bye is not None
    [to_room] = [c for c in h.far if c.request.method == "BYE"]
    assert (to_room.target.host, to_room.target.port) == ("198.51.100.7", 5060)
    h.respond(to_room, 200)
    assert bye.statuses == [200]
    assert h.cdr("call-1").cause == cdr.NOT_ADMITTED
    assert h.core.licences.in_use == 0


def test_a_480_after_a_wait_in_the_lobby_is_passed_to_the_room() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    [out] = h.far
    h.respond(out, 183)
    h.advance(100)  # longer than the lobby: Timer C (180 s) must not have fired
    h.respond(out, 480, "Call rejected")
    final = server.final
    assert final is not None
    assert (final.status, final.reason) == (480, "Call rejected")
    assert h.cdr("call-1").cause == cdr.CALL_REJECTED
    assert h.core.licences.in_use == 0


def test_timer_c_cancels_a_branch_that_never_answers() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    [out] = h.far
    h.respond(out, 180)
    h.advance(181)
    [cancel_out] = h.to(FAR_A, "CANCEL")
    assert cancel_out.request.top_via.branch == out.request.top_via.branch
    h.respond(out, 487)
    final = server.final
    assert final is not None
    assert (final.status, final.reason) == (
        408,
        "No Final Response (Timer C)",
    )
    assert h.cdr("call-1").cause == cdr.TIMEOUT


def test_a_503_fails_over_to_the_next_target() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    [first] = h.far
    h.respond(first, 503)
    [second] = h.to(FAR_B, "INVITE")
    h.respond(second, 200, body=SDP)
    final = server.final
    assert final is not None
    assert final.status == 200
    assert h.cdr("call-1").target == "udp:203.0.113.6:5060"


def test_every_target_answering_503_is_a_500_not_a_503() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    h.respond(h.far[0], 503)
    h.respond(h.to(FAR_B, "INVITE")[0], 503)
    final = server.final
    assert final is not None
    assert (final.status, final.reason) == (500, "All Targets Unavailable")
    assert h.cdr("call-1").cause == cdr.UNAVAILABLE


def test_silence_fails_over_after_the_failover_timeout() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    [first] = h.far
    h.advance(3.9)
    assert h.to(FAR_B) == []
    h.advance(0.2)
    assert h.abandoned == [first]
    [second] = h.to(FAR_B, "INVITE")
    h.respond(second, 200, body=SDP)
    assert server.final is not None
    assert server.final.status == 200


def test_a_transport_failure_fails_over_at_once() -> None:
    h = Harness()
    server = h.send(invite())
    assert server is not None
    h.fail(h.far[0], "transport error: connection refused")
    [second] = h.to(FAR_B, "INVITE")
    h.respond(second, 486)
    assert server.final is not None
    assert server.final.status == 486


def test_cancel_in_the_lobby_cancels_the_branch() -> None:
    h = Harness()
    data = invite()
    server = h.send(data)
    assert server is not None
    [out] = h.far
    h.respond(out, 180)
    h.advance(10)
    cancelled = h.send(cancel(data))
    assert cancelled is not None
    assert cancelled.statuses == [200]
    [cancel_out] = h.to(FAR_A, "CANCEL")
    assert cancel_out.request.cseq.method == "CANCEL"
    h.respond(out, 487)
    assert server.final is not None
    assert server.final.status == 487
    assert h.cdr("call-1").cause == cdr.CANCELLED
    assert h.core.licences.in_use == 0


def test_cancel_before_any_provisional_waits_for_one() -> None:
    h = Harness()
    data = invite()
    server = h.send(data)
    assert server is not None
    h.send(cancel(data))
    assert h.to(FAR_A, "CANCEL") == []  # §9.1: not before a provisional response
    h.respond(h.far[0], 100)
    assert len(h.to(FAR_A, "CANCEL")) == 1


def test_cancel_while_dns_answers_is_a_487() -> None:
    h = Harness(dns_waits=True)
    data = invite()
    server = h.send(data)
    assert server is not None
    assert h.cdr("call-1").live  # recorded while DNS answers
    h.send(cancel(data))
    h.answer_dns()
    assert h.far == []
    assert server.final is not None
    assert server.final.status == 487


def test_an_unknown_cancel_is_481() -> None:
    h = Harness()
    server = h.send(cancel(invite(branch="z9hG4bK-none")))
    assert server is not None
    assert server.statuses == [481]


def test_a_re_invite_goes_along_the_dialog_both_ways() -> None:
    h = Harness()
    answer = answered(h)
    h.send(in_dialog("ACK", answer=answer, from_caller=True, branch=h.branch(), cseq=1))
    reinvite = h.send(
        in_dialog("INVITE", answer=answer, from_caller=True, branch=h.branch(), cseq=2, body=SDP)
    )
    assert reinvite is not None
    [out] = [c for c in h.to(FAR_A, "INVITE") if c.request.to.tag == "far1"]
    assert b"b=AS:2000" in out.request.body
    h.respond(out, 200, body=SDP)
    assert reinvite.statuses == [200]
    far_reinvite = h.send(
        in_dialog("INVITE", answer=answer, from_caller=False, branch=h.branch(), cseq=5, body=SDP),
        source=(FAR_A.host, FAR_A.port),
    )
    assert far_reinvite is not None
    [to_room] = [c for c in h.far if c.target.host == "198.51.100.7"]
    h.respond(to_room, 200, tag="room1", body=SDP)
    assert far_reinvite.statuses == [200]
    assert h.core.live_calls == 1


def test_no_ack_for_the_2xx_ends_the_call_and_byes_the_far_end() -> None:
    h = Harness()
    answered(h)
    h.advance(32.5)
    [bye] = h.to(FAR_A, "BYE")
    assert bye.request.to.tag == "far1"
    detail = h.cdr("call-1")
    assert detail.cause == cdr.NO_ACK
    assert h.core.licences.in_use == 0


def test_a_response_that_lost_the_caller_s_via_is_not_forwarded_as_it_is() -> None:
    """RFC 3261 §16.7 step 3: a far end answering with only the gateway's Via (a 487 built
    from the CANCEL's Via) must not reach the caller without its own Via."""
    h = Harness()
    server = h.send(invite())
    assert server is not None
    [out] = h.to(FAR_A, "INVITE")
    ours = out.request.values("Via")[0]
    stripped = Response(
        status=180,
        reason="Ringing",
        headers=(
            ("Via", ours),
            *((k, v) for k, v in out.request.headers if k in ("From", "To", "Call-ID", "CSeq")),
        ),
    )
    h.run(h.core.client_response(out, stripped))
    assert server.statuses == [100]  # the provisional one is dropped
    final = Response(status=487, reason="Request Terminated", headers=stripped.headers)
    h.run(h.core.client_response(out, final))
    answer = server.final
    assert answer is not None
    assert answer.status == 487
    assert answer.top_via.host == "198.51.100.7"  # the caller's own Via
