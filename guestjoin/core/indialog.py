"""Requests inside an established dialog (RFC 3261 §16.6, §12.2): where they may go, and the
forward of one of them (BYE, re-INVITE, UPDATE, INFO, MESSAGE, NOTIFY, REFER, …).

A request from the caller goes along the callee's route set; one from the callee side goes
back to the caller over the caller's own flow. The path checks (``guestjoin.dialog_path``)
refuse anything that would leave the dialog's route, so a dialog token cannot be used to reach
another host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from guestjoin.core import auth
from guestjoin.core.actions import ClientRef, ServerRef
from guestjoin.core.branch import Branching, Call, CallEnv
from guestjoin.core.checks import next_hop_uri
from guestjoin.core.messages import IN_DIALOG_ANSWER
from guestjoin.dialog_path import same_address
from guestjoin.sip.message import Request, Response
from guestjoin.sip.uri import UriError
from guestjoin.values import Received, Target, host_of

log = logging.getLogger("guestjoin.proxy")


class DialogEnv(CallEnv, Protocol):
    """What an in-dialog forward needs beyond a call's environment."""

    def bye_passed(self, call: Call, request: Request, from_caller: bool, sent_at: float) -> None:
        """A BYE that ended the dialog went through."""

    def forget_forward(self, server: ServerRef) -> None:
        """The forward got its final response."""


def caller_flow_target(call: Call) -> Target | None:
    """The caller's own flow when it can still carry a request back (UDP, or a live stream)."""
    flow = call.flow
    conn = call.connection
    if flow.transport == "udp" or (conn is not None and conn.alive):
        return Target(transport=flow.transport, host=flow.host, port=flow.port)
    return None


def from_callee_side(call: Call, received: Received) -> bool:
    """Whether a request came from the callee's side of ``call`` (its targets, its route set,
    the address we sent the INVITE to): only those may send toward the caller, whose route
    set and Contact the caller chose itself."""
    hosts = set(call.path.callee_hosts())
    if call.target is not None:
        hosts.add(call.target.host)
    return any(same_address(received.remote[0], host) for host in hosts)


def path_refusal(request: Request, call: Call, from_caller: bool) -> str | None:
    """Why an in-dialog request leaves the dialog's path (``guestjoin.dialog_path``)."""
    uri: str | None = request.uri
    if not from_caller and request.get("Route") is None and caller_flow_target(call):
        uri = None  # it goes back over the caller's own flow
    return call.path.refusal(toward_caller=not from_caller, routes=request.values("Route"), uri=uri)


def refusal(request: Request, call: Call, received: Received, from_caller: bool) -> str | None:
    """Path refusal, or a request in the callee's name that did not come from its side."""
    why = path_refusal(request, call, from_caller)
    if not from_caller and not from_callee_side(call, received):
        why = "in the callee's name, not from the callee's side"
    return why


def known_next_hop(
    request: Request,
    call: Call,
    toward_caller: bool,
    cached: Callable[[Request], Target | None] | None = None,
) -> Target | None:
    """The next hop when it is known without DNS (the caller's flow, the far end)."""
    if toward_caller and request.get("Route") is None:
        flow = caller_flow_target(call)
        if flow is not None:
            return flow
    try:
        uri = next_hop_uri(request)
    except UriError:
        return None
    far = call.target
    if far is not None and not toward_caller:
        port = uri.port or (5061 if far.transport == "tls" else 5060)
        if host_of(uri.host) == far.host and port == far.port:
            return far
    return None


def elsewhere(request: Request, call: Call, target: Target, from_caller: bool) -> bool:
    """Whether a request would leave for another address than its side's own: toward the
    caller the one its INVITE came from (its route set and Contact are its own choice; a
    callee source address can be forged), toward a registered device the one it registered
    from (its Contact is its own choice too)."""
    if from_caller:
        decision, far = call.decision, call.target
        if decision is None or not decision.registered_device or far is None:
            return False
        own = far.host
    else:
        own = call.flow.host
    if same_address(target.host, own):
        return False
    log.info(
        "%s: %s would go to %s, not to the %s at %s: refused",
        call.call_id,
        request.method,
        target.host,
        "registered device" if from_caller else "caller",
        own,
    )
    return True


class InDialog(Branching):
    """One in-dialog request forwarded along the route set (a stateful forward, §16)."""

    def __init__(self, env: DialogEnv, server: ServerRef, call: Call, *, from_caller: bool) -> None:
        super().__init__(env, server)
        self.denv = env
        self.call = call
        self.from_caller = from_caller
        self.sent_at = env.now()
        self.target: Target | None = None
        self.auth_retried = False

    def forward(self, out: Request, target: Target) -> None:
        """Start the client transaction (Timer C for a re-INVITE, §16.6 step 11)."""
        self.out = out
        self.target = target
        self.sent_at = self.env.now()  # a BYE's time decides "not admitted"
        self.ct = self.env.fx.start_client(out, target, self._on_response, self._on_failure)
        if out.method == "INVITE":
            self._arm_timer_c()

    def _upstream(self, response: Response) -> Response:
        if self.from_caller:
            response = auth.toward_caller(self.server.request, response)
        if not response.body:
            return self.env.build.upstream(response, None)
        method = self.server.request.method
        context = self.call.sdp_context(
            IN_DIALOG_ANSWER, toward_caller=self.from_caller, method=method
        )
        return self.env.build.upstream(response, context)

    def _answer_challenge(self, response: Response) -> bool:
        """A caller's request challenged by the far end: send it again with credentials, once."""
        sent, target = self.out, self.target
        if not self.from_caller or self.auth_retried or sent is None or target is None:
            return False
        again = auth.answer_challenge(self.call, sent, response)
        if again is None:
            return False
        self.auth_retried = True
        self.provisional = False
        build = self.env.build
        out = again.prepend("Via", build.via(target.transport, target.host, build.branch(sent)))
        self.forward(out, target)
        return True

    def _on_response(self, ct: ClientRef, response: Response) -> None:
        media, out = self.call.media, self.out
        if media is not None and out is not None and out.method in ("INVITE", "UPDATE"):
            offered = bool(out.body) and out.content_type == "application/sdp"
            media.in_dialog_response(
                self.call,
                response,
                from_caller=self.from_caller,
                offered=offered,
                handle=lambda relayed: self._handle_response(ct, relayed),
            )
            return
        self._handle_response(ct, response)

    def _handle_response(self, ct: ClientRef, response: Response) -> None:
        fx = self.env.fx
        if self.done:
            if self.out is not None and self.out.method == "INVITE" and response.status < 300:
                fx.respond(self.server, self._upstream(response))  # 2xx retransmission
            return
        if response.status < 200:
            first = not self.provisional
            self.provisional = True
            if first and self.cancel_pending:
                self.send_cancel(ct)
            if response.status != 100:
                fx.respond(self.server, self._upstream(response))
            return
        if response.status in (401, 407) and self._answer_challenge(response):
            return
        self.done = True
        self._stop_timer_c()
        call = self.call
        if response.status < 300:
            # a target refresh answered (§12.2): the Contact of the side that answered
            call.path = call.path.with_target(response.get("Contact"), caller=not self.from_caller)
        ended = response.status < 300 or response.status in (408, 481)  # §15.1.2
        if self.server.request.method == "BYE" and ended:
            self.denv.bye_passed(call, self.server.request, self.from_caller, self.sent_at)
        fx.respond(self.server, self._upstream(response))
        self.denv.forget_forward(self.server)

    def _on_failure(self, ct: ClientRef, reason: str) -> None:
        if self.done:
            return
        self.done = True
        self._stop_timer_c()
        if self.server.request.method == "BYE":
            self.denv.bye_passed(self.call, self.server.request, self.from_caller, self.sent_at)
        code = 408 if reason == "timeout" else 503
        self.env.fx.respond(self.server, self.env.build.local_response(self.server.request, code))
        self.denv.forget_forward(self.server)

    def _on_timer_c(self) -> None:
        if self.done or self.ct is None:
            return
        if self.provisional:
            self.send_cancel(self.ct)
        else:
            self.env.fx.abandon(self.ct)
            self._on_failure(self.ct, "timeout")
