"""Offer/answer after the caller's INVITE: the answer to a delayed offer in the ACK (RFC 3261
§13.2.1), and session updates by re-INVITE (§14) or UPDATE (RFC 3311), such as a room's RFC 4028
session refresh.

While the reception itself answers the call, an update that changes nothing (no SDP, or an
offer whose ``o=`` line is the one answered: RFC 3264 §8) is answered with the reception's own
description; a changed offer is refused with 488 and the session goes on as it was (§14.2).

After a 3pcc transfer the reception is a back-to-back user agent between the caller and the far
end: each side's update is sent on in the other side's dialog and the answer comes back
(``ThirdParty.relay``). An offerless re-INVITE is answered with the other side's current
description. One update at a time: another while one is pending gets 491 (§14.2). A 2xx to a
re-INVITE is retransmitted until its ACK (§13.3.1.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from guestjoin import cdr
from guestjoin.reception.sdp import Answer, SdpError, accept_answer
from guestjoin.sip import Request, Response, make_response

if TYPE_CHECKING:
    from guestjoin.reception.leg import ReceptionLeg

log = logging.getLogger(__name__)

METHODS = frozenset({"INVITE", "UPDATE"})
T1, T2 = 0.5, 4.0

Respond = Callable[[Response], None]


def origin_line(sdp: bytes) -> bytes | None:
    """The ``o=`` line of a session description (RFC 4566 §5.2), None without one."""
    for line in sdp.splitlines():
        if line.startswith(b"o="):
            return line.strip()
    return None


def answer(leg: ReceptionLeg, request: Request, status: int, body: bytes, respond: Respond) -> None:
    """Answer an update from the caller's or the far end's side of ``leg``; a 2xx to a
    re-INVITE is sent again until the ACK of its CSeq arrives."""
    headers: tuple[tuple[str, str], ...] = ()
    if 200 <= status < 300:
        contact = leg.contact if request.call_id == leg.invite.call_id else _far_contact(leg)
        headers = (("Contact", f"<{contact}>"),)
    if body:
        headers = (*headers, ("Content-Type", "application/sdp"))
    response = make_response(request, status, headers=headers, body=body)
    respond(response)
    if request.method == "INVITE" and 200 <= status < 300:
        acked = leg.expect_ack(request.call_id, request.cseq.number)
        leg.spawn(until_acked(leg, response, respond, acked, "the 200 OK to a re-INVITE"))


def _far_contact(leg: ReceptionLeg) -> str:
    third = leg.thirdparty
    return third.contact if third is not None else leg.contact


async def until_acked(
    leg: ReceptionLeg, response: Response, respond: Respond, acked: asyncio.Event, what: str
) -> None:
    """Send a 2xx to an INVITE again, T1 doubling to T2, until ``acked`` (§13.3.1.4); after
    64*T1 without the ACK the call ends."""
    interval = T1
    for _ in range(10):  # 64*T1 in all
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(acked.wait(), interval)
            return
        respond(response)
        interval = min(2 * interval, T2)
    log.info("%s: no ACK for %s", response.call_id, what)
    leg.bye(cdr.NO_ACK, f"no ACK for {what}")


async def answer_in_ack(leg: ReceptionLeg, offered: bytes) -> Answer | None:
    """The streams the caller's ACK accepts of our offer to its delayed offer (None: the call
    was ended, for want of the ACK or of a usable answer in it)."""
    try:
        await asyncio.wait_for(leg.acked.wait(), 64 * T1)
    except TimeoutError:
        return None  # until_acked ends the call
    try:
        accepted = accept_answer(offered, leg.remote_sdp, leg.media.ports)
    except SdpError as exc:
        leg.bye(cdr.FAILED, f"unusable SDP answer in the ACK: {exc}")
        return None
    if accepted.stream("audio") is None:
        leg.bye(cdr.FAILED, "the ACK accepted no audio codec of the reception's offer")
        return None
    return accepted


def answer_locally(leg: ReceptionLeg, request: Request, respond: Respond) -> None:
    """An update while the reception itself holds the media."""
    ours = leg.answer
    if ours is None:  # our own 2xx is not out yet: the initial offer/answer is pending
        respond(make_response(request, 491))
        return
    if request.body and origin_line(request.body) != origin_line(leg.remote_sdp):
        log.info("%s: a changed offer during the reception: 488", request.call_id)
        respond(make_response(request, 488))
        return
    body = ours.body if (request.body or request.method == "INVITE") else b""
    answer(leg, request, 200, body, respond)
