"""One proxied call and one in-dialog forward (RFC 3261 §16.6–16.10): the state machines.

``Call`` is the response context of an initial INVITE: it forwards to one resolved target at a
time, fails over (RFC 3263 §4.3), keeps Timer C, picks the best response and keeps the CDR up
to date. ``InDialog`` forwards one request inside an established dialog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from guestjoin import cdr
from guestjoin.cdr import CallDetail, utc
from guestjoin.clock import TimerHandle
from guestjoin.dialog_path import DialogPath
from guestjoin.media.anchor import CallMedia, EncryptionRefused
from guestjoin.media.ng import NgError
from guestjoin.media.relay import RelayUnavailable
from guestjoin.routing import RouteDecision
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.transaction import ClientTransaction, ServerTransaction, State
from guestjoin.transport import Received, Target, TransportError, render_host

if TYPE_CHECKING:
    from guestjoin.proxy import Proxy

log = logging.getLogger("guestjoin.proxy")


@dataclass(frozen=True, kw_only=True, slots=True)
class Flow:
    """Where the caller's requests came from, for requests travelling back to it."""

    transport: str
    host: str
    port: int


class Branching:
    """One stateful forward: a server transaction and the current client transaction."""

    def __init__(self, proxy: Proxy, st: ServerTransaction) -> None:
        self.proxy = proxy
        self.st = st
        self.ct: ClientTransaction | None = None
        self.out: Request | None = None
        self.provisional = False
        self.cancel_pending = False
        self.cancelled = False
        self.done = False
        self.timer_c: TimerHandle | None = None

    @property
    def call_id(self) -> str:
        return self.st.request.call_id

    def cancel(self) -> None:
        """CANCEL from upstream (§16.10)."""
        self.cancelled = True
        self._cancel_branch()

    def _cancel_branch(self) -> None:
        ct = self.ct
        if ct is None or self.done or ct.state in (State.COMPLETED, State.TERMINATED):
            return
        if not self.provisional:
            self.cancel_pending = True  # send it when the first provisional arrives (§9.1)
            return
        self.proxy.send_cancel(ct)

    def _arm_timer_c(self) -> None:
        if self.timer_c is not None:
            self.timer_c.cancel()
        self.timer_c = self.proxy.clock.call_later(self.proxy.options.timer_c, self._on_timer_c)

    def _on_timer_c(self) -> None:
        raise NotImplementedError

    def _stop_timer_c(self) -> None:
        if self.timer_c is not None:
            self.timer_c.cancel()
            self.timer_c = None


class Call(Branching):
    """An initial INVITE: admission, routing, serial failover over the resolved targets, CDR."""

    def __init__(
        self,
        proxy: Proxy,
        st: ServerTransaction,
        request: Request,
        received: Received,
        detail: CallDetail,
    ) -> None:
        super().__init__(proxy, st)
        self.request = request
        self.received = received
        self.detail = detail
        self.key = detail.key
        self.decision: RouteDecision | None = None
        self.targets: list[Target] = []
        self.index = 0
        self.target: Target | None = None
        self.responses: list[tuple[Response, bool]] = []  # (response, from downstream)
        self.failover: TimerHandle | None = None
        self.timer_c_fired = False
        self.caller_tag = request.from_.tag or ""
        self.callee_tag = ""
        self.display: str | None = None
        self.answered_at: float | None = None
        self.ended = False
        self.flow = Flow(
            transport=received.transport, host=received.remote[0], port=received.remote[1]
        )
        self.connection = received.connection
        self.expiry: TimerHandle | None = None
        self.answer: Response | None = None  # the 2xx forwarded upstream
        self.path = DialogPath.from_invite(request.values("Record-Route"), request.get("Contact"))
        self.ack_timer: TimerHandle | None = None
        self.media: CallMedia | None = None  # media: relay (guestjoin.media)
        self.offer_body: bytes | None = None  # the INVITE's SDP as rtpengine rewrote it
        self.media_refusal: tuple[int, str, str, str] | None = None  # code, reason, cause, detail

    # --- CDR ---------------------------------------------------------------------------------
    def stage(self, **changes: object) -> None:
        """Change the record without writing it yet."""
        self.detail = replace(self.detail, **changes)  # type: ignore[arg-type]

    def update(self, **changes: object) -> None:
        """Change the record and hand it to the recorder."""
        self.detail = replace(self.detail, **changes)  # type: ignore[arg-type]
        self.proxy.record(self.detail)

    def end(self, *, cause: str, code: int | None = None, detail: str = "") -> None:
        """Finish the record and give the licences back (idempotent)."""
        if self.ended:
            return
        self.ended = True
        self.proxy.licences.release(self.key)
        self.proxy.sources.release(self.key)
        if self.expiry is not None:
            self.expiry.cancel()
        if self.ack_timer is not None:
            self.ack_timer.cancel()
        changes: dict[str, object] = {"end_at": utc(self.proxy.clock.wall()), "cause": cause}
        if code is not None:
            changes["final_code"] = code
        if detail:
            changes["detail"] = detail[:500]
        self.update(**changes)
        self.proxy.call_ended(self)
        if self.media is not None:
            self.proxy.spawn(self._media_end(self.media))

    async def _media_end(self, media: CallMedia) -> None:
        """Delete the media session; its figures join the record."""
        figures = await media.end()
        if figures is not None:
            self.update(
                media_engine=figures.engine,
                media_room_packets=figures.room_packets,
                media_room_bytes=figures.room_bytes,
                media_room_lost=figures.room_lost,
                media_far_packets=figures.far_packets,
                media_far_bytes=figures.far_bytes,
                media_far_lost=figures.far_lost,
            )

    # --- forwarding --------------------------------------------------------------------------
    def start(self, targets: list[Target]) -> None:
        self.targets = targets
        if self.media is not None and self.offer_body is None and has_sdp(self.request):
            self.proxy.spawn(self._media_offer(self.media))
            return
        self.try_next()

    async def _media_offer(self, media: CallMedia) -> None:
        """The INVITE's offer through rtpengine, then the first target."""
        try:
            async with media.lock:
                self.offer_body = await media.body(
                    side="inside", tag=self.caller_tag, body=self.request.body
                )
        except (RelayUnavailable, NgError) as exc:
            log.warning("%s: media relay unavailable: %s", self.call_id, exc)
            if not self.done:
                self.done = True
                self.st.respond(
                    self.proxy.local_response(
                        self.request, 503, "Media Relay Unavailable", (("Retry-After", "5"),)
                    )
                )
                self.end(cause=cdr.MEDIA_UNAVAILABLE, code=503, detail=str(exc))
            return
        if self.cancelled and not self.done:
            self.done = True
            self.st.respond(self.proxy.local_response(self.request, 487))
            self.end(cause=cdr.CANCELLED, code=487)
            return
        self.try_next()

    def try_next(self) -> None:
        """Forward to the next target, or answer with the best response when none is left."""
        self._stop_failover()
        while not self.cancelled and self.index < len(self.targets):
            target = self.targets[self.index]
            self.index += 1
            if self.proxy.transport.is_local(target.host, target.port, target.transport):
                log.warning(
                    "%s: target %s:%d is this gateway: skipped",
                    self.call_id,
                    target.host,
                    target.port,
                )
                self.responses.append((make_response(self.request, 482), False))
                continue
            try:
                out, target = self.proxy.outbound_invite(self, target)
            except (TransportError, ValueError) as exc:
                log.info(
                    "%s: cannot forward to %s:%d: %s", self.call_id, target.host, target.port, exc
                )
                continue
            self.target = target
            self.out = out
            self.provisional = False
            self.cancel_pending = False
            self.update(target=describe_target(target, self.decision))
            self.ct = self.proxy.transactions.start_client(
                out, target, self._on_response, self._on_failure
            )
            self.failover = self.proxy.clock.call_later(
                self.proxy.options.failover_timeout, self._on_silence
            )
            self._arm_timer_c()
            return
        self._finish_best()

    def _stop_failover(self) -> None:
        if self.failover is not None:
            self.failover.cancel()
            self.failover = None

    def _on_silence(self) -> None:
        """No response at all from this target: fail over (RFC 3263 §4.3)."""
        self.failover = None
        ct = self.ct
        if ct is None or self.provisional or self.done:
            return
        log.info(
            "%s: no response from %s:%d, trying the next target",
            self.call_id,
            ct.target.host,
            ct.target.port,
        )
        ct.abandon()
        self.responses.append((make_response(self.request, 408), False))
        self.try_next()

    def _on_failure(self, ct: ClientTransaction, reason: str) -> None:
        if ct is not self.ct or self.done:
            return
        log.info("%s: %s:%d failed: %s", self.call_id, ct.target.host, ct.target.port, reason)
        self._stop_failover()
        code = 408 if reason == "timeout" else 503
        text = " ".join(reason.split())[:200]  # one line: it becomes a reason phrase
        target = f"{ct.target.transport}:{ct.target.host}:{ct.target.port}"
        self.responses.append((make_response(self.request, code, f"{target} {text}"), False))
        if self.provisional:
            self._finish_best()  # a proceeding branch that timed out is not retried
        else:
            self.try_next()

    def _on_response(self, ct: ClientTransaction, response: Response) -> None:
        if ct is not self.ct:
            return
        if self.media is not None:  # every response in order, SDP through rtpengine
            self.proxy.spawn(self._media_response(self.media, ct, response))
            return
        self._on_response_now(ct, response)

    async def _media_response(
        self, media: CallMedia, ct: ClientTransaction, response: Response
    ) -> None:
        async with media.lock:
            status = response.status
            if has_sdp(response) and 100 < status < 300 and not self.media_refusal:
                try:
                    body = await media.body(
                        side="outside", tag=response.to.tag or "", body=response.body
                    )
                except EncryptionRefused as exc:
                    self._refuse_media(
                        ct,
                        response,
                        (488, "Not Acceptable Here", cdr.MEDIA_ENCRYPTION_REFUSED),
                        str(exc),
                    )
                    return
                except (RelayUnavailable, NgError) as exc:
                    self._refuse_media(
                        ct,
                        response,
                        (503, "Media Relay Unavailable", cdr.MEDIA_UNAVAILABLE),
                        str(exc),
                    )
                    return
                response = response.with_body(body)
            if status >= 200 and self.offer_body is not None:
                media.settle()
            self._on_response_now(ct, response)

    def _refuse_media(
        self,
        ct: ClientTransaction,
        response: Response,
        refusal: tuple[int, str, str],
        detail: str,
    ) -> None:
        """The far end's media cannot be relayed: end its leg, fail the call upstream."""
        if self.done:
            return
        code, reason, cause = refusal
        log.info("%s: %s: %s", self.call_id, reason, detail)
        if response.status >= 200:  # its dialog exists: ACK and BYE it
            self.done = True
            self._stop_failover()
            self._stop_timer_c()
            self.callee_tag = response.to.tag or ""
            self.answer = response
            self._learn(response)
            self.proxy.end_far_leg(self, f"{code} {reason}")
            self.st.respond(self.proxy.local_response(self.request, code, reason))
            self.end(cause=cause, code=code, detail=detail)
            return
        self.media_refusal = (code, reason, cause, detail)  # answered when the CANCEL ends it
        self.provisional = True
        self.proxy.send_cancel(ct)

    def _on_response_now(self, ct: ClientTransaction, response: Response) -> None:
        if self.done:
            if 200 <= response.status < 300 and self.answer is not None:
                # a 2xx retransmission (or another fork's 2xx) in the Accepted state (RFC 6026)
                self.st.respond(self.proxy.upstream(response, self))
            return
        self._stop_failover()
        status = response.status
        if status < 200:
            first = not self.provisional
            self.provisional = True
            self._arm_timer_c()
            if first and self.cancel_pending:
                self.cancel_pending = False
                self.proxy.send_cancel(ct)
            if status == 100:
                return
            if status in (180, 183) and self.detail.ringing_at is None:
                self.update(ringing_at=utc(self.proxy.clock.wall()))
            tag = response.to.tag
            if tag:
                self.callee_tag = tag
                self._learn(response)  # an early dialog (RFC 3261 §12.1)
            self.st.respond(self.proxy.upstream(response, self))
            return
        self._stop_timer_c()
        if status < 300:
            self.done = True
            self.callee_tag = response.to.tag or ""
            self.answered_at = self.proxy.clock.now()
            self.answer = response
            self._learn(response)
            self.st.respond(self.proxy.upstream(response, self))
            # RFC 3261 §13.3.1.4: no ACK within 64*T1 and the caller is gone
            self.ack_timer = self.proxy.clock.call_later(
                self.proxy.transactions.timers.b, self._on_no_ack
            )
            self.update(
                answer_at=utc(self.proxy.clock.wall()), final_code=status, detail="answered"
            )
            self.expiry = self.proxy.clock.call_later(
                self.proxy.options.max_call_duration,
                lambda: self.end(cause=cdr.EXPIRED, detail="no BYE seen"),
            )
            return
        self.responses.append((response, True))
        if status in (503, 408) and not self.cancelled and not self.timer_c_fired:
            self.try_next()
            return
        self._finish_best()

    def _learn(self, response: Response) -> None:
        """The callee's route set and remote target, from a response to the INVITE."""
        self.path = self.path.answered(
            response.values("Record-Route"), response.get("Contact"), self.proxy.is_ours
        )

    def acked(self) -> None:
        """The caller's ACK for the 2xx passed through (§13.2.2.4)."""
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None

    def _on_no_ack(self) -> None:
        """No ACK for the 2xx within 64*T1: end the far end's leg and give the licences back."""
        self.ack_timer = None
        if self.ended:
            return
        seconds = self.proxy.transactions.timers.b
        log.info("%s: no ACK for the 2xx within %g s: ending the call", self.call_id, seconds)
        self.proxy.send_teardown(self)
        self.end(
            cause=cdr.NO_ACK,
            detail=f"no ACK for the 2xx within {seconds:g} s (RFC 3261 §13.3.1.4): BYE sent",
        )

    def _on_timer_c(self) -> None:
        """§16.8: CANCEL a proceeding branch, else act as if it answered 408."""
        self.timer_c = None
        if self.done or self.ct is None:
            return
        self.timer_c_fired = True
        if self.provisional:
            log.info("%s: Timer C fired: cancelling", self.call_id)
            self.proxy.send_cancel(self.ct)
            return
        self.ct.abandon()
        self.responses.append((make_response(self.request, 408), False))
        self._finish_best()

    def _finish_best(self) -> None:
        """Send the best final response (§16.7 step 6) and finish the record."""
        if self.done:
            return
        self.done = True
        self._stop_failover()
        self._stop_timer_c()
        picked = best_response(self.responses)
        proxy = self.proxy
        if self.media_refusal is not None:
            code, reason, refused, detail = self.media_refusal
            self.st.respond(proxy.local_response(self.request, code, reason))
            self.end(cause=refused, code=code, detail=detail)
            return
        if self.cancelled:
            cause = cdr.CANCELLED
            if picked is not None and picked[1] and picked[0].status == 487:
                upstream = proxy.upstream(picked[0], self)
            else:
                upstream = proxy.local_response(self.request, 487)
        elif self.timer_c_fired:
            cause = cdr.TIMEOUT
            upstream = proxy.local_response(self.request, 408, "No Final Response (Timer C)")
        elif picked is None:
            cause = cdr.UNAVAILABLE
            upstream = proxy.local_response(
                self.request,
                503,
                "No Reachable Target",
                (("Retry-After", str(proxy.options.retry_after)),),
            )
        else:
            response, downstream = picked
            cause = cdr.cause_for(response.status)
            if response.status == 488 and self.media and self.media.encryption == "required":
                cause = cdr.MEDIA_ENCRYPTION_REFUSED
            if response.status == 503:
                # §16.7 step 6: a 503 is not passed upstream; it only says that target failed
                upstream = proxy.local_response(self.request, 500, "All Targets Unavailable")
            elif downstream:
                upstream = proxy.upstream(response, self)
            else:
                upstream = proxy.local_response(self.request, response.status)
        self.st.respond(upstream)
        last = self.responses[-1][0] if self.responses else upstream
        detail = last.get("Reason") or f"{last.status} {last.reason}"
        self.end(cause=cause, code=upstream.status, detail=detail)


class InDialog(Branching):
    """An in-dialog request (BYE, re-INVITE, UPDATE, INFO, …) forwarded along the route set."""

    def __init__(
        self, proxy: Proxy, st: ServerTransaction, call: Call | None, *, from_caller: bool = True
    ) -> None:
        super().__init__(proxy, st)
        self.call = call
        self.from_caller = from_caller
        self.sent_at = proxy.clock.now()

    def forward(self, out: Request, target: Target) -> None:
        self.out = out
        self.sent_at = self.proxy.clock.now()  # a BYE's time decides "not admitted"
        self.ct = self.proxy.transactions.start_client(
            out, target, self._on_response, self._on_failure
        )
        if out.method == "INVITE":
            self._arm_timer_c()

    def _on_response(self, ct: ClientTransaction, response: Response) -> None:
        call, out = self.call, self.out
        media = call.media if call is not None else None
        if media is not None and out is not None and out.method in ("INVITE", "UPDATE"):
            self.proxy.spawn(self._media_response(media, ct, response, has_sdp(out)))
            return
        self._on_response_now(ct, response)

    async def _media_response(
        self, media: CallMedia, ct: ClientTransaction, response: Response, offered: bool
    ) -> None:
        """A re-INVITE's or UPDATE's answer (or late offer) through rtpengine."""
        async with media.lock:
            if has_sdp(response) and 100 < response.status < 300:
                try:
                    body = await media.body(
                        side="outside" if self.from_caller else "inside",
                        tag=response.to.tag or "",
                        body=response.body,
                    )
                    response = response.with_body(body)
                except (RelayUnavailable, NgError, EncryptionRefused) as exc:
                    log.warning("%s: answer not relayed: %s", self.call_id, exc)
            if response.status >= 200 and offered:
                media.settle()
            self._on_response_now(ct, response)

    def _on_response_now(self, ct: ClientTransaction, response: Response) -> None:
        if self.done:
            if self.out is not None and self.out.method == "INVITE" and response.status < 300:
                self.st.respond(self.proxy.upstream(response, self.call))  # 2xx retransmission
            return
        if response.status < 200:
            first = not self.provisional
            self.provisional = True
            if first and self.cancel_pending:
                self.proxy.send_cancel(ct)
            if response.status != 100:
                self.st.respond(self.proxy.upstream(response, self.call))
            return
        self.done = True
        self._stop_timer_c()
        call = self.call
        if call is not None and response.status < 300:
            # a target refresh answered (§12.2): the Contact of the side that answered
            call.path = call.path.with_target(response.get("Contact"), caller=not self.from_caller)
        ended = response.status < 300 or response.status in (408, 481)  # §15.1.2
        if call is not None and self.st.request.method == "BYE" and ended:
            self.proxy.bye_passed(call, self.st.request, self.from_caller, self.sent_at)
        self.st.respond(self.proxy.upstream(response, self.call))
        self.proxy.forget_forward(self.st)

    def _on_failure(self, ct: ClientTransaction, reason: str) -> None:
        if self.done:
            return
        self.done = True
        self._stop_timer_c()
        if self.call is not None and self.st.request.method == "BYE":
            self.proxy.bye_passed(self.call, self.st.request, self.from_caller, self.sent_at)
        code = 408 if reason == "timeout" else 503
        self.st.respond(self.proxy.local_response(self.st.request, code))
        self.proxy.forget_forward(self.st)

    def _on_timer_c(self) -> None:
        if self.done or self.ct is None:
            return
        if self.provisional:
            self.proxy.send_cancel(self.ct)
        else:
            self.ct.abandon()
            self._on_failure(self.ct, "timeout")


def best_response(responses: list[tuple[Response, bool]]) -> tuple[Response, bool] | None:
    """6xx wins; otherwise the lowest class, preferring real answers to 408/503 (§16.7 step 6)."""
    if not responses:
        return None
    six = [r for r in responses if r[0].status >= 600]
    if six:
        return six[-1]
    lowest = min(r[0].status // 100 for r in responses)
    same = [r for r in responses if r[0].status // 100 == lowest]
    answers = [r for r in same if r[0].status not in (408, 503)]
    return (answers or same)[-1]


def describe_target(target: Target, decision: RouteDecision | None) -> str:
    text = f"{target.transport}:{render_host(target.host)}:{target.port}"
    if decision is not None and decision.proxy:
        return f"{text} via proxy {decision.proxy}"
    if target.tls_name and target.tls_name != target.host:
        return f"{text} ({target.tls_name})"
    return text


def has_sdp(message: Request | Response) -> bool:
    """Whether the message carries an SDP body (RFC 3264 offer or answer)."""
    return bool(message.body) and message.content_type == "application/sdp"
