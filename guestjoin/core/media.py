"""A relayed call's media in the core (``media: relay``): every SDP body of the call goes
through rtpengine before it is forwarded, as ``RelayMedia`` actions the driver carries out.

The INVITE's offer is relayed before the first target is tried (no engine answering → ``503
Media Relay Unavailable``, cause ``media_unavailable``); each 18x/2xx answer, each re-INVITE
or UPDATE offer and its answer, and the ACK answering a late offer are relayed in the order
they arrive (a message that comes while a step is pending waits for it). A far end that does
not answer ``required`` SRTP with SRTP is refused: its 2xx is ACKed and BYEd, a 18x cancels
the branch, and the caller gets ``488`` (cause ``media_encryption_refused``). The session is
deleted when the call ends; the figures of the delete join the CDR.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from guestjoin import cdr
from guestjoin.core import indialog
from guestjoin.core.actions import ClientRef, MediaRef, MediaResult, Outbox
from guestjoin.core.forward import ignore
from guestjoin.media.commands import Encryption, MediaFigures, Side, encryption_refused
from guestjoin.media.session import AnswerStep, MediaLeg
from guestjoin.sip.message import Request, Response
from guestjoin.sip.uri import SipUri
from guestjoin.teardown import ack_toward_callee, bye_toward_callee

if TYPE_CHECKING:
    from guestjoin.core.branch import Call

log = logging.getLogger("guestjoin.proxy")

UNAVAILABLE = (503, "Media Relay Unavailable", cdr.MEDIA_UNAVAILABLE)
REFUSED = (488, "Not Acceptable Here", cdr.MEDIA_ENCRYPTION_REFUSED)


class EncryptionRefused(Exception):
    """The far end answered a ``required`` SRTP offer without SRTP."""


def has_sdp(message: Request | Response) -> bool:
    """Whether the message carries an SDP body (an RFC 3264 offer or answer)."""
    return bool(message.body) and message.content_type == "application/sdp"


class MediaAnchor:
    """One relayed call's offer/answer state, its rewritten bodies and its pending step."""

    def __init__(self, *, call_id: str, room_tag: str, encryption: Encryption) -> None:
        self.leg = MediaLeg(call_id=call_id, room_tag=room_tag, encryption=encryption)
        self.busy = False
        self.waiting: deque[Callable[[], None]] = deque()
        self.exchange = 0  # offers so far: a cached body belongs to one offer/answer exchange
        self.rewritten: dict[tuple[int, Side, str, bytes], bytes] = {}
        self.offer_body: bytes | None = None  # the INVITE's offer as rtpengine rewrote it
        self.refusal: tuple[int, str, str, str] | None = None  # code, reason, cause, detail
        self.released = False

    @property
    def encryption(self) -> Encryption:
        """The rule's ``outbound_media_encryption``."""
        return self.leg.encryption

    # --- the steps ---------------------------------------------------------------------------
    def when_idle(self, work: Callable[[], None]) -> None:
        """Run ``work`` now, or after the pending step (messages keep their order)."""
        if self.busy:
            self.waiting.append(work)
        else:
            work()

    def through(
        self,
        fx: Outbox,
        *,
        side: Side,
        tag: str,
        body: bytes,
        then: Callable[[bytes | Exception], None],
        request: bool = False,
    ) -> None:
        """``body`` (from ``side``, sender's dialog tag ``tag``) through rtpengine; ``then``
        gets the body to forward, or the error. A response or ACK body seen before is
        answered from memory (a retransmitted 2xx, a 200 repeating its 183's SDP); a
        request's body (an offer) always goes to rtpengine."""
        done = None if request else self.rewritten.get((self.exchange, side, tag, body))
        if done is not None:
            then(done)
            return
        leg, step = self.leg.body(side=side, tag=tag)
        if not isinstance(step, AnswerStep):
            self.exchange += 1
        key = (self.exchange, side, tag, body)
        if isinstance(step, AnswerStep) and step.require_srtp:
            reason = encryption_refused(body.decode("utf-8", "replace"))
            if reason is not None:
                self.leg = leg.settled()
                then(EncryptionRefused(reason))
                return
        self.busy = True

        def finished(result: MediaResult) -> None:
            self.busy = False
            if isinstance(result, bytes):
                self.leg = leg
                self.rewritten[key] = result
                then(result)
            else:
                then(result if isinstance(result, Exception) else ValueError("no SDP"))
            while self.waiting and not self.busy:
                self.waiting.popleft()()

        fx.relay_media(
            MediaRef(
                call_id=leg.call_id, room_tag=leg.room_tag, step=step, body=body, callback=finished
            )
        )

    def settle(self) -> None:
        """The current offer got its final answer (or failed)."""
        self.leg = self.leg.settled()

    def release(self, call: Call) -> None:
        """Delete the session (once); its figures join the call's record. A call refused
        before any SDP went to rtpengine has no session: nothing to delete."""
        if self.released or self.exchange == 0:
            return
        self.released = True

        def deleted(result: MediaResult) -> None:
            if isinstance(result, MediaFigures):
                call.update(
                    media_engine=result.engine,
                    media_room_packets=result.room_packets,
                    media_room_bytes=result.room_bytes,
                    media_room_lost=result.room_lost,
                    media_far_packets=result.far_packets,
                    media_far_bytes=result.far_bytes,
                    media_far_lost=result.far_lost,
                )

        leg = self.leg
        call.env.fx.relay_media(
            MediaRef(
                call_id=leg.call_id, room_tag=leg.room_tag, step=None, body=b"", callback=deleted
            )
        )

    # --- the initial INVITE ------------------------------------------------------------------
    def offer(self, call: Call, then: Callable[[], None]) -> None:
        """The INVITE's offer through rtpengine, then ``then`` (forward to the first target)."""

        def done(result: bytes | Exception) -> None:
            if call.done:
                return
            if isinstance(result, Exception):
                log.warning("%s: media relay unavailable: %s", call.call_id, result)
                code, reason, cause = UNAVAILABLE
                retry = (("Retry-After", "5"),)
                call.finish(code, reason, cause, headers=retry, detail=str(result))
            elif call.cancelled:
                call.finish(487, None, cdr.CANCELLED)
            else:
                self.offer_body = result
                then()

        fx, body = call.env.fx, call.request.body
        self.through(fx, side="inside", tag=call.caller_tag, body=body, then=done, request=True)

    def response(
        self,
        call: Call,
        ct: ClientRef,
        response: Response,
        handle: Callable[[ClientRef, Response], None],
    ) -> None:
        """A response to the INVITE: its SDP (18x/2xx) through rtpengine, then ``handle``."""

        def onward(out: Response) -> None:
            if out.status >= 200 and self.offer_body is not None:
                self.settle()
            handle(ct, out)

        def work() -> None:
            if self.refusal and 200 <= response.status < 300:  # answered despite the CANCEL
                code, reason, cause, why = self.refusal
                self.refuse(call, ct, response, (code, reason, cause), why)
                return
            if not (has_sdp(response) and 100 < response.status < 300) or self.refusal:
                onward(response)
                return

            def done(result: bytes | Exception) -> None:
                if isinstance(result, EncryptionRefused):
                    self.refuse(call, ct, response, REFUSED, str(result))
                elif isinstance(result, Exception):
                    self.refuse(call, ct, response, UNAVAILABLE, str(result))
                else:
                    onward(response.with_body(result))

            tag = response.to.tag or ""
            self.through(call.env.fx, side="outside", tag=tag, body=response.body, then=done)

        self.when_idle(work)

    def refuse(
        self,
        call: Call,
        ct: ClientRef,
        response: Response,
        refusal: tuple[int, str, str],
        detail: str,
    ) -> None:
        """The far end's media cannot be relayed: end its leg, fail the call upstream."""
        if call.done:
            return
        code, reason, cause = refusal
        log.info("%s: %s: %s", call.call_id, reason, detail)
        if response.status < 200:  # a 18x: cancel the branch; answered when it ends
            self.refusal = (code, reason, cause, detail)
            call.provisional = True
            call.send_cancel(ct)
            return
        end_far_leg(call, response, f'SIP;cause={code};text="{reason}: {detail}"')
        call.finish(code, reason, cause, detail=detail)

    # --- inside the dialog -------------------------------------------------------------------
    def in_dialog(
        self,
        call: Call,
        request: Request,
        *,
        from_caller: bool,
        then: Callable[[Request | None], None],
    ) -> None:
        """A re-INVITE/UPDATE offer or an ACK's answer through rtpengine; ``then`` gets the
        request to forward (None: refused, the caller answers 503)."""

        def work() -> None:
            def done(result: bytes | Exception) -> None:
                if request.method == "ACK":
                    self.settle()
                if isinstance(result, Exception):
                    log.warning("%s: %s SDP not relayed: %s", call.call_id, request.method, result)
                    then(None if request.method != "ACK" else request)
                else:
                    then(request.with_body(result))

            side: Side = "inside" if from_caller else "outside"
            tag = request.from_.tag or ""
            offer = request.method != "ACK"
            fx = call.env.fx
            self.through(fx, side=side, tag=tag, body=request.body, then=done, request=offer)

        self.when_idle(work)

    def in_dialog_response(
        self,
        call: Call,
        response: Response,
        *,
        from_caller: bool,
        offered: bool,
        handle: Callable[[Response], None],
    ) -> None:
        """The answer to a re-INVITE/UPDATE (or its late offer) through rtpengine."""

        def onward(out: Response) -> None:
            if out.status >= 200 and offered:
                self.settle()
            handle(out)

        def work() -> None:
            if not (has_sdp(response) and 100 < response.status < 300):
                onward(response)
                return

            def done(result: bytes | Exception) -> None:
                if isinstance(result, Exception):
                    log.warning("%s: answer not relayed: %s", call.call_id, result)
                    onward(response)
                else:
                    onward(response.with_body(result))

            side: Side = "outside" if from_caller else "inside"
            tag = response.to.tag or ""
            self.through(call.env.fx, side=side, tag=tag, body=response.body, then=done)

        self.when_idle(work)


def end_far_leg(call: Call, answer: Response, reason: str) -> None:
    """ACK and BYE a 2xx the gateway does not pass upstream (RFC 3261 §13.2.2.4, §15)."""
    out = call.out
    if out is None:
        return
    build = call.env.build
    locality = build.locality

    def is_local(uri: SipUri) -> bool:
        return locality.is_local(uri.host, uri.port)

    for request in (
        ack_toward_callee(out, answer, is_local),
        bye_toward_callee(out, answer, is_local, reason=reason),
    ):
        if request is None:
            continue
        target = indialog.known_next_hop(request, call, toward_caller=False) or call.target
        if target is None:
            continue
        via = build.via(target.transport, target.host, build.branch(request))
        if request.method == "ACK":
            call.env.fx.add_send(request.prepend("Via", via), target)
        else:
            call.env.fx.start_client(request.prepend("Via", via), target, ignore, ignore)
