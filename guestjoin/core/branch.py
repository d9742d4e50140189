"""One proxied call (RFC 3261 §16.6–16.8): serial forking with failover, Timer C, the CDR.

``Call`` is the response context of an initial INVITE: it forwards to one resolved target at a
time, fails over on a timeout, a transport error or a 503 (RFC 3263 §4.3), keeps Timer C,
picks the best response (§16.7 step 6), and keeps its CDR up to date. It talks to the rest of
the core only through ``CallEnv``; every effect goes to the ``Outbox``.

Extension point, CDR: ``Call.stage(**fields)`` changes the record without writing it,
``Call.update(**fields)`` changes and records it; a new field is a new ``CallRecord`` field
(``guestjoin.cdr``) set from here or from the admission step (``guestjoin.core.invite``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from guestjoin import cdr
from guestjoin.cdr import CallRecord, utc
from guestjoin.core import auth
from guestjoin.core.actions import ClientRef, ServerRef, TimerRef
from guestjoin.core.forward import (
    Branching,
    CallEnv,
    Flow,
    best_response,
    describe_target,
    final_answer,
    forwarded_invite,
    ignore,
)
from guestjoin.core.messages import ANSWER, SdpContext
from guestjoin.dialog_path import DialogPath
from guestjoin.routing import RouteDecision
from guestjoin.sip.digest_client import DialogAuth
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.values import Received, StreamConnection, Target

if TYPE_CHECKING:
    from guestjoin.core.media import MediaAnchor

log = logging.getLogger("guestjoin.proxy")

__all__ = ["Branching", "Call", "CallEnv", "Flow", "best_response", "describe_target", "ignore"]


class Call(Branching):
    """An initial INVITE: serial failover over the resolved targets, the answer, the CDR."""

    def __init__(
        self,
        env: CallEnv,
        server: ServerRef,
        request: Request,
        received: Received,
        detail: CallRecord,
    ) -> None:
        super().__init__(env, server)
        self.request = request
        self.received = received
        self.detail = detail
        self.key = detail.key
        self.decision: RouteDecision | None = None
        self.targets: list[Target] = []
        self.index = 0
        self.target: Target | None = None
        self.responses: list[tuple[Response, bool]] = []  # (response, from downstream)
        self.failover: TimerRef | None = None
        self.timer_c_fired = False
        self.caller_tag = request.from_.tag or ""
        self.display: str | None = None
        self.answered_at: float | None = None
        self.ended = False
        self.flow = Flow(
            transport=received.transport, host=received.remote[0], port=received.remote[1]
        )
        self.connection: StreamConnection | None = received.connection
        self.expiry: TimerRef | None = None
        self.answer: Response | None = None  # the 2xx forwarded upstream
        self.path = DialogPath.from_invite(request.values("Record-Route"), request.get("Contact"))
        self.ack_timer: TimerRef | None = None
        # the far end's digest challenge (guestjoin.core.auth): the answer and the CSeq shift
        self.auth: DialogAuth | None = None
        self.cseq_offset = 0
        self.auth_retried = False
        self.media: MediaAnchor | None = None  # media: relay (guestjoin.core.media)

    def sdp_context(self, kind: str, *, toward_caller: bool, method: str) -> SdpContext:
        """Where an SDP body of this call is going (for the SDP steps)."""
        return SdpContext(
            call_key=self.key,
            call_id=self.call_id,
            kind=kind,
            toward_caller=toward_caller,
            method=method,
        )

    # --- CDR ---------------------------------------------------------------------------------
    def stage(self, **changes: object) -> None:
        """Change the record without writing it yet."""
        self.detail = replace(self.detail, **changes)  # type: ignore[arg-type]

    def update(self, **changes: object) -> None:
        """Change the record and hand it to the recorder."""
        self.detail = replace(self.detail, **changes)  # type: ignore[arg-type]
        self.env.fx.record(self.detail)

    def end(self, *, cause: str, code: int | None = None, detail: str = "") -> None:
        """Finish the record and give the licences back (idempotent)."""
        if self.ended:
            return
        self.ended = True
        for timer in (self.expiry, self.ack_timer, self.failover, self.timer_c):
            if timer is not None:
                timer.cancel()
        changes: dict[str, object] = {"end_at": utc(self.env.wall()), "cause": cause}
        if code is not None:
            changes["final_code"] = code
        if detail:
            changes["detail"] = detail[:500]
        self.update(**changes)
        self.env.call_ended(self)

    # --- forwarding --------------------------------------------------------------------------
    def start(self, targets: list[Target]) -> None:
        """Forward to the first of ``targets`` (RFC 3263 order)."""
        self.targets = targets
        media, request = self.media, self.request
        if media and media.offer_body is None and request.content_type == "application/sdp":
            media.offer(self, self.try_next)  # the offer through rtpengine first
            return
        self.try_next()

    def try_next(self) -> None:
        """Forward to the next target, or answer with the best response when none is left."""
        self._stop_failover()
        env = self.env
        while not self.cancelled and self.index < len(self.targets):
            target = self.targets[self.index]
            self.index += 1
            if env.build.locality.is_local(target.host, target.port, target.transport):
                log.warning(
                    "%s: target %s:%d is this gateway: skipped",
                    self.call_id,
                    target.host,
                    target.port,
                )
                self.responses.append((make_response(self.request, 482), False))
                continue
            try:
                out, target = forwarded_invite(self, target)
            except (OSError, ValueError) as exc:
                log.info(
                    "%s: cannot forward to %s:%d: %s", self.call_id, target.host, target.port, exc
                )
                continue
            self.target = target
            self.auth_retried = False
            self.out = out
            self.provisional = False
            self.cancel_pending = False
            self.update(target=describe_target(target, self.decision))
            self.ct = env.fx.start_client(out, target, self._on_response, self._on_failure)
            self.failover = env.fx.later(env.options.failover_timeout, self._on_silence)
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
        self.env.fx.abandon(ct)
        self.responses.append((make_response(self.request, 408), False))
        self.try_next()

    def _on_failure(self, ct: ClientRef, reason: str) -> None:
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

    def _upstream(self, response: Response) -> Response:
        response = auth.toward_caller(self.request, response)
        if not response.body:
            return self.env.build.upstream(response, None)
        context = self.sdp_context(ANSWER, toward_caller=True, method="INVITE")
        return self.env.build.upstream(response, context)

    def _answer_challenge(self, response: Response) -> bool:
        """401/407 for a rule with ``outbound_credentials``: send the INVITE again, once."""
        target, sent = self.target, self.out
        if self.auth_retried or self.cancelled or target is None or sent is None:
            return False
        again = auth.answer_challenge(self, sent, response)
        if again is None:
            return False
        self.auth_retried = True
        build, fx = self.env.build, self.env.fx
        out = again.prepend("Via", build.via(target.transport, target.host, build.branch(sent)))
        self.out = out
        self.provisional = False
        self.ct = fx.start_client(out, target, self._on_response, self._on_failure)
        self.failover = fx.later(self.env.options.failover_timeout, self._on_silence)
        self._arm_timer_c()
        return True

    def _on_response(self, ct: ClientRef, response: Response) -> None:
        if ct is self.ct and self.media is not None:
            self.media.response(self, ct, response, self._handle_response)
        else:
            self._handle_response(ct, response)

    def _handle_response(self, ct: ClientRef, response: Response) -> None:
        if ct is not self.ct:
            return
        fx = self.env.fx
        if self.done:
            if 200 <= response.status < 300 and self.answer is not None:
                # a 2xx retransmission (or another fork's 2xx) in the Accepted state (RFC 6026)
                fx.respond(self.server, self._upstream(response))
            return
        self._stop_failover()
        status = response.status
        if status < 200:
            first = not self.provisional
            self.provisional = True
            self._arm_timer_c()
            if first and self.cancel_pending:
                self.cancel_pending = False
                self.send_cancel(ct)
            if status == 100:
                return
            if status in (180, 183) and self.detail.ringing_at is None:
                self.update(ringing_at=utc(self.env.wall()))
            tag = response.to.tag
            if tag:
                self._learn(response)  # an early dialog (RFC 3261 §12.1)
            fx.respond(self.server, self._upstream(response))
            return
        self._stop_timer_c()
        if status < 300:
            self._answered(response)
            return
        if status in (401, 407) and self._answer_challenge(response):
            return
        self.responses.append((response, True))
        if status in (503, 408) and not self.cancelled and not self.timer_c_fired:
            self.try_next()
            return
        self._finish_best()

    def _answered(self, response: Response) -> None:
        env = self.env
        self.done = True
        self.answered_at = env.now()
        self.answer = response
        self._learn(response)
        env.fx.respond(self.server, self._upstream(response))
        # RFC 3261 §13.3.1.4: no ACK within 64*T1 and the caller is gone
        self.ack_timer = env.fx.later(env.timer_b, self._on_no_ack)
        self.update(answer_at=utc(env.wall()), final_code=response.status, detail="answered")
        self.expiry = env.fx.later(
            env.options.max_call_duration,
            lambda: self.end(cause=cdr.EXPIRED, detail="no BYE seen"),
        )

    def _learn(self, response: Response) -> None:
        """The callee's route set and remote target, from a response to the INVITE."""
        locality = self.env.build.locality
        self.path = self.path.answered(
            response.values("Record-Route"),
            response.get("Contact"),
            lambda uri: locality.is_local(uri.host, uri.port),
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
        seconds = self.env.timer_b
        log.info("%s: no ACK for the 2xx within %g s: ending the call", self.call_id, seconds)
        self.env.teardown(self)
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
            self.send_cancel(self.ct)
            return
        self.env.fx.abandon(self.ct)
        self.responses.append((make_response(self.request, 408), False))
        self._finish_best()

    def finish(
        self,
        status: int,
        reason: str | None,
        cause: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        detail: str = "",
        stateless: bool = False,
    ) -> None:
        """Answer with a locally generated final response and end the record."""
        self.done = True
        build = self.env.build
        if stateless:
            response = build.stateless_response(self.request, status, reason, headers)
            self.env.fx.respond_statelessly(self.server, response)
        else:
            response = build.local_response(self.request, status, reason, headers)
            self.env.fx.respond(self.server, response)
        self.end(cause=cause, code=status, detail=detail or f"{status} {reason or ''}".strip())

    def _finish_best(self) -> None:
        """Send the best final response (§16.7 step 6) and finish the record."""
        if self.done:
            return
        self.done = True
        self._stop_failover()
        self._stop_timer_c()
        media = self.media
        if media is not None and media.refusal is not None:
            code, reason, refused, why = media.refusal
            self.finish(code, reason, refused, detail=why)
            return
        upstream, cause = final_answer(
            self.request,
            self.responses,
            cancelled=self.cancelled,
            timer_c_fired=self.timer_c_fired,
            encryption_required=media is not None and media.encryption == "required",
            retry_after=self.env.options.retry_after,
            build=self.env.build,
            upstream=self._upstream,
        )
        self.env.fx.respond(self.server, upstream)
        last = self.responses[-1][0] if self.responses else upstream
        detail = last.get("Reason") or f"{last.status} {last.reason}"
        self.end(cause=cause, code=upstream.status, detail=detail)
