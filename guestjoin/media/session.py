"""PURE offer/answer bookkeeping of one relayed call (RFC 3264 over RFC 3261 dialogs): which
side offered, with which tag, so that each SDP body goes to rtpengine as the right command.

The room is the caller (``inside``, its From tag); the far end answers on the ``outside``.
An offer may come from either side (initial INVITE, re-INVITE, UPDATE, or a 2xx answering an
INVITE without SDP); SDP from the other side answers it (every 183 and the 2xx of the same
INVITE answer the one offer) until the offer is ``settled`` (the final response, or the ACK of
a late offer). rtpengine's ``from-tag`` is the offerer's tag and its ``to-tag`` the answerer's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from guestjoin.media.commands import Encryption, Side


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferStep:
    """Send ``offer`` for this body."""

    from_tag: str
    from_side: Side
    encryption: Encryption


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerStep:
    """Send ``answer`` for this body; ``require_srtp``: refuse it unless it is SRTP."""

    from_tag: str
    to_tag: str
    require_srtp: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class MediaLeg:
    """A relayed call's offer/answer state."""

    call_id: str
    room_tag: str
    encryption: Encryption = "none"
    pending_side: Side | None = None  # the side whose offer awaits its answer
    pending_tag: str = ""

    def body(self, *, side: Side, tag: str) -> tuple[MediaLeg, OfferStep | AnswerStep]:
        """An SDP body from ``side`` (``tag``: the sender's dialog tag):
        the answer to the pending offer when it comes from the other side, else a new offer."""
        if self.pending_side is not None and self.pending_side != side:
            step = AnswerStep(
                from_tag=self.pending_tag,
                to_tag=tag,
                require_srtp=side == "outside" and self.encryption == "required",
            )
            return self, step
        offer = OfferStep(
            from_tag=tag,
            from_side=side,
            encryption=self.encryption if side == "inside" else "none",
        )
        return replace(self, pending_side=side, pending_tag=tag), offer

    def settled(self) -> MediaLeg:
        """The offer/answer exchange is over (final answer, failure, ACK): nothing pending."""
        return replace(self, pending_side=None, pending_tag="")
