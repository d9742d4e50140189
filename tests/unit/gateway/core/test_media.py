"""Relayed media in the sans-I/O core (``media: relay``): which rtpengine steps the core asks
for, in which order, and what the peers see meanwhile. The harness answers ``RelayMedia``
steps when the test says so (the real rtpengine is tested in tests/integration/gateway)."""

from __future__ import annotations

from dataclasses import replace

from guestjoin import cdr
from guestjoin.core.actions import Action, MediaRef, RelayMedia
from guestjoin.media.commands import MediaFigures
from guestjoin.media.relay import RelayUnavailable
from guestjoin.media.session import AnswerStep, OfferStep
from tests.unit.gateway.core.harness import FAR_A, RULE, SDP, Harness, cancel, in_dialog, invite

RELAYED = replace(RULE, media="relay")
OUTSIDE = b"c=IN IP4 203.0.113.99"  # what the fake engine writes toward the far end
INSIDE = b"c=IN IP4 10.0.0.99"  # toward the room
FAR_SDP = b"v=0\r\no=far 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
FAR_SDP += b"m=audio 5000 RTP/AVP 0\r\n"


class MediaHarness(Harness):
    """The harness, with the media relay's steps kept until the test answers them."""

    def __init__(self, encryption: str = "none") -> None:
        super().__init__()
        rule = replace(RELAYED, outbound_media_encryption=encryption)
        self.config = replace(self.config, rules=(rule,))
        self.steps: list[MediaRef] = []

    def _do(self, action: Action) -> None:
        if isinstance(action, RelayMedia):
            self.steps.append(action.ref)
        else:
            super()._do(action)

    def engine(self, result: object = None) -> MediaRef:
        """The oldest pending step answered: the body rewritten as rtpengine would (its
        address toward the other side), or ``result``."""
        ref = self.steps.pop(0)
        if result is None and ref.step is not None:
            step = ref.step
            if isinstance(step, OfferStep):
                toward_far = step.from_side == "inside"
            else:  # an answer goes back to the offerer
                toward_far = step.from_tag != ref.room_tag
            address = OUTSIDE if toward_far else INSIDE
            lines = [
                address if line.startswith(b"c=") else line for line in ref.body.split(b"\r\n")
            ]
            result = b"\r\n".join(lines)
        self.run(self.core.media_done(ref, result))  # type: ignore[arg-type]
        return ref


def test_the_offer_is_relayed_before_the_invite_leaves_and_the_answer_before_it_returns() -> None:
    h = MediaHarness()
    server = h.send(invite())
    assert server is not None
    assert h.far == []  # nothing forwarded while rtpengine rewrites the offer
    offer = h.engine()
    assert offer.step == OfferStep(from_tag="room1", from_side="inside", encryption="none")
    assert offer.call_id.startswith("call-1~")  # unique per call
    [out] = h.far
    assert OUTSIDE in out.request.body  # the far end is sent rtpengine's outside address
    assert b"b=AS:2000" in out.request.body  # and the bandwidth cap still applies
    h.respond(out, 183, body=FAR_SDP)
    h.respond(out, 200, body=FAR_SDP)  # waits for the 183's answer step
    assert server.statuses == [100]
    answer = h.engine()
    assert answer.step == AnswerStep(from_tag="room1", to_tag="far1", require_srtp=False)
    assert h.steps == []  # the 200 repeats the 183's SDP: answered from memory
    assert server.statuses == [100, 183, 200]
    assert all(INSIDE in r.body for r, _ in server.responses[1:])
    h.send(in_dialog("BYE", answer=server.final, from_caller=True, branch="z9hG4bK-b", cseq=2))  # type: ignore[arg-type]
    [bye] = h.to(FAR_A, "BYE")
    h.respond(bye, 200)
    delete = h.steps[0]
    assert delete.step is None
    assert delete.room_tag == "room1"
    h.engine(MediaFigures(engine="127.0.0.1:2223", room_packets=50, far_packets=49))
    detail = h.cdr("call-1")
    assert (detail.cause, detail.media_engine, detail.media_room_packets) == (
        cdr.COMPLETED,
        "127.0.0.1:2223",
        50,
    )
    assert detail.media_far_packets == 49


def test_no_engine_answering_fails_the_call_with_503_and_nothing_is_forwarded() -> None:
    h = MediaHarness()
    server = h.send(invite())
    assert server is not None
    h.engine(RelayUnavailable("no rtpengine answered: 127.0.0.1:2223 did not answer"))
    assert h.far == []
    assert server.final is not None
    assert (server.final.status, server.final.reason) == (503, "Media Relay Unavailable")
    assert server.final.get("Retry-After") == "5"
    detail = h.cdr("call-1")
    assert (detail.cause, detail.final_code) == (cdr.MEDIA_UNAVAILABLE, 503)
    assert "127.0.0.1:2223" in detail.detail
    assert h.steps[0].step is None  # the (absent) session is released all the same


def test_cancel_while_the_offer_is_relayed_answers_487() -> None:
    h = MediaHarness()
    data = invite()
    server = h.send(data)
    assert server is not None
    h.send(cancel(data))
    h.engine()
    assert h.far == []
    assert server.final is not None
    assert server.final.status == 487
    assert h.cdr("call-1").cause == cdr.CANCELLED


def test_required_srtp_answered_in_plain_rtp_is_refused_and_the_far_leg_ended() -> None:
    h = MediaHarness("required")
    server = h.send(invite())
    assert server is not None
    offer = h.engine()
    assert offer.step == OfferStep(from_tag="room1", from_side="inside", encryption="required")
    [out] = h.far
    h.respond(out, 200, body=FAR_SDP)  # RTP/AVP: no SRTP
    [delete] = h.steps  # refused without asking rtpengine; the session is deleted
    assert delete.step is None
    assert server.final is not None
    assert (server.final.status, server.final.reason) == (488, "Not Acceptable Here")
    [(ack, target)] = h.stateless
    assert (ack.method, ack.cseq.number, target) == ("ACK", 1, FAR_A)
    [bye] = h.to(FAR_A, "BYE")
    assert "cause=488" in (bye.request.get("Reason") or "")
    detail = h.cdr("call-1")
    assert detail.cause == cdr.MEDIA_ENCRYPTION_REFUSED
    assert "instead of RTP/SAVP" in detail.detail


def test_required_srtp_refused_in_a_183_cancels_the_branch() -> None:
    h = MediaHarness("required")
    server = h.send(invite())
    assert server is not None
    h.engine()
    [out] = h.far
    h.respond(out, 183, body=FAR_SDP)
    [cancelled] = h.to(FAR_A, "CANCEL")
    assert cancelled.request.cseq.method == "CANCEL"
    h.respond(out, 487)
    assert server.final is not None
    assert server.final.status == 488
    assert h.cdr("call-1").cause == cdr.MEDIA_ENCRYPTION_REFUSED


def test_a_far_end_488_to_required_srtp_is_recorded_as_refused_encryption() -> None:
    h = MediaHarness("required")
    server = h.send(invite())
    assert server is not None
    h.engine()
    h.respond(h.far[0], 488)
    assert server.final is not None
    assert server.final.status == 488
    assert h.cdr("call-1").cause == cdr.MEDIA_ENCRYPTION_REFUSED


def test_a_re_invite_from_the_far_end_is_an_offer_toward_the_room() -> None:
    h = MediaHarness("required")
    server = h.send(invite())
    assert server is not None
    h.engine()
    srtp = (
        FAR_SDP.replace(b"RTP/AVP", b"RTP/SAVP")
        + b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:k\r\n"
    )
    h.respond(h.far[0], 200, body=srtp)
    h.engine()
    answer = server.final
    assert answer is not None
    assert answer.status == 200
    reinvite = in_dialog(
        "INVITE", answer=answer, from_caller=False, branch="z9hG4bK-re", cseq=7, body=srtp
    )
    far_server = h.send(reinvite, source=(FAR_A.host, FAR_A.port))
    assert far_server is not None
    assert far_server.statuses == [], far_server.responses
    offer = h.engine()
    assert offer.step == OfferStep(from_tag="far1", from_side="outside", encryption="none")
    [toward_room] = [
        c for c in h.far if c.request.method == "INVITE" and c.request.cseq.number == 7
    ]
    assert INSIDE in toward_room.request.body
    h.respond(toward_room, 200, tag="room1", body=SDP)
    step = h.engine()
    assert step.step == AnswerStep(from_tag="far1", to_tag="room1", require_srtp=False)
    assert far_server.final is not None
    assert OUTSIDE in far_server.final.body


def test_a_2xx_racing_the_cancel_of_a_refused_183_is_ended_too() -> None:
    h = MediaHarness("required")
    server = h.send(invite())
    assert server is not None
    h.engine()
    [out] = h.far
    h.respond(out, 183, body=FAR_SDP)  # plain RTP: refused, the branch cancelled
    h.respond(out, 200, body=FAR_SDP)  # the far end answered before the CANCEL arrived
    assert [s for s in server.statuses if s >= 200] == [488]
    assert [r.method for r, _ in h.stateless] == ["ACK"]
    assert len(h.to(FAR_A, "BYE")) == 1
    h.respond(out, 200, body=FAR_SDP)  # a retransmission: not passed upstream
    assert [s for s in server.statuses if s >= 200] == [488]
    assert h.cdr("call-1").cause == cdr.MEDIA_ENCRYPTION_REFUSED


def test_a_finished_relayed_call_leaves_no_reference_cycles() -> None:
    """As for direct calls (test_no_cycles.py): the media anchor's pending steps and cached
    bodies do not keep a finished call alive."""
    import gc

    from guestjoin.core.branch import Call
    from guestjoin.core.media import MediaAnchor

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        h = MediaHarness()
        server = h.send(invite())
        assert server is not None
        h.engine()
        h.respond(h.far[0], 200, body=FAR_SDP)
        h.engine()
        answer = server.final
        assert answer is not None
        h.send(in_dialog("BYE", answer=answer, from_caller=True, branch=h.branch(), cseq=2))
        h.respond(h.far[-1], 200)
        h.engine(MediaFigures(engine="e"))
        h.advance(60)
        assert h.core.calls == {}
        h.far.clear()
        h.servers.clear()
        del server, answer
        gc.collect()
        assert [o for o in gc.garbage if isinstance(o, Call | MediaAnchor)] == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
