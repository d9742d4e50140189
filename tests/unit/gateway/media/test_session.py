"""Offer/answer bookkeeping of a relayed call: which command each SDP body becomes."""

from __future__ import annotations

from guestjoin.media.session import AnswerStep, MediaLeg, OfferStep


def test_initial_offer_from_the_room_then_answers_from_the_far_end() -> None:
    leg = MediaLeg(call_id="c", room_tag="room", encryption="required")
    leg, step = leg.body(side="inside", tag="room")
    assert step == OfferStep(from_tag="room", from_side="inside", encryption="required")
    leg, step = leg.body(side="outside", tag="far")  # 183
    assert step == AnswerStep(from_tag="room", to_tag="far", require_srtp=True)
    leg, step = leg.body(side="outside", tag="far")  # the 200 answers the same offer
    assert step == AnswerStep(from_tag="room", to_tag="far", require_srtp=True)
    leg = leg.settled()
    # a re-INVITE from the far end: an offer towards the room, plain RTP there
    leg, step = leg.body(side="outside", tag="far")
    assert step == OfferStep(from_tag="far", from_side="outside", encryption="none")
    leg, step = leg.body(side="inside", tag="room")
    assert step == AnswerStep(from_tag="far", to_tag="room", require_srtp=False)
    assert leg.settled().pending_side is None


def test_late_offer_in_the_2xx_is_answered_by_the_ack() -> None:
    leg = MediaLeg(call_id="c", room_tag="room")
    leg, step = leg.body(side="outside", tag="far")
    assert step == OfferStep(from_tag="far", from_side="outside", encryption="none")
    leg, step = leg.body(side="inside", tag="room")
    assert step == AnswerStep(from_tag="far", to_tag="room", require_srtp=False)


def test_a_refused_offer_leaves_nothing_pending() -> None:
    leg, _ = MediaLeg(call_id="c", room_tag="room").body(side="inside", tag="room")
    assert leg.settled().pending_side is None
    _, step = leg.settled().body(side="inside", tag="room")
    assert isinstance(step, OfferStep)
