"""What every stateful forward shares (RFC 3261 §16.6–16.10): the server and current client
transaction, Timer C, CANCEL toward the branch; the pieces of a call's environment; a call's
INVITE as forwarded (§16.6) and the final response it ends with (§16.7 step 6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from guestjoin import cdr
from guestjoin.core.actions import ClientRef, Outbox, ServerRef, TimerRef
from guestjoin.core.messages import INITIAL_OFFER, MessageBuilder
from guestjoin.core.options import ProxyOptions
from guestjoin.routing import RouteDecision
from guestjoin.sip.message import Request, Response
from guestjoin.values import Target, render_host
from otj.model import SipCredential

if TYPE_CHECKING:
    from guestjoin.core.branch import Call


@dataclass(frozen=True, kw_only=True, slots=True)
class Flow:
    """Where the caller's requests came from, for requests travelling back to it."""

    transport: str
    host: str
    port: int


class CallEnv(Protocol):
    """What a call needs from the core around it."""

    fx: Outbox
    build: MessageBuilder
    options: ProxyOptions
    timer_b: float  # 64*T1: how long a 2xx waits for its ACK

    def now(self) -> float:
        """Monotonic seconds."""

    def wall(self) -> float:
        """Epoch seconds (CDR times)."""

    def call_ended(self, call: Call) -> None:
        """Licences and per-source share back; the call leaves the tables later."""

    def teardown(self, call: Call) -> None:
        """BYE the far end of a call whose caller never ACKed the 2xx."""

    def credential(self, name: str) -> SipCredential | None:
        """A ``sip_credentials`` entry by name (password resolved)."""


class Branching:
    """One stateful forward: a server transaction and the current client transaction."""

    def __init__(self, env: CallEnv, server: ServerRef) -> None:
        self.env = env
        self.server = server
        self.ct: ClientRef | None = None
        self.out: Request | None = None
        self.provisional = False
        self.cancel_pending = False
        self.cancelled = False
        self.done = False
        self.timer_c: TimerRef | None = None

    @property
    def call_id(self) -> str:
        return self.server.request.call_id

    def release(self) -> None:
        """Done for good: drop the client transaction's callbacks (they refer back here), so
        the forward is freed by reference counting, not by the cyclic garbage collector."""
        if self.ct is not None:
            self.ct.release()
            self.ct = None

    def cancel(self) -> None:
        """CANCEL from upstream (§16.10)."""
        self.cancelled = True
        ct = self.ct
        if ct is None or self.done:
            return
        if not self.provisional:
            self.cancel_pending = True  # send it when the first provisional arrives (§9.1)
            return
        self.send_cancel(ct)

    def send_cancel(self, ct: ClientRef) -> None:
        """CANCEL the pending client transaction; its answer is of no interest (§16.10)."""
        fx = self.env.fx
        fx.start_client(self.env.build.cancel_for(ct.request), ct.target, ignore, ignore)

    def _arm_timer_c(self) -> None:
        if self.timer_c is not None:
            self.timer_c.cancel()
        self.timer_c = self.env.fx.later(self.env.options.timer_c, self._on_timer_c)

    def _on_timer_c(self) -> None:
        raise NotImplementedError

    def _stop_timer_c(self) -> None:
        if self.timer_c is not None:
            self.timer_c.cancel()
            self.timer_c = None


def ignore(_client: ClientRef, _what: object) -> None:
    """Fire-and-forget requests (CANCEL, teardown BYE): their answers are not used."""


def forwarded_invite(call: Call, target: Target) -> tuple[Request, Target]:
    """A call's initial INVITE as forwarded to ``target`` (§16.6 steps 1–8)."""
    decision = call.decision
    assert decision is not None
    req = call.request.with_uri(decision.destination)
    if call.media is not None and call.media.offer_body is not None:
        req = req.with_body(call.media.offer_body)
    mf = req.max_forwards
    req = req.set("Max-Forwards", str((mf if mf is not None else 70) - 1))
    if call.display:
        req = req.set("From", str(req.from_.with_display(call.display)))
    if call.cseq_offset:
        req = req.set("CSeq", f"{req.cseq.number + call.cseq_offset} INVITE")
    if not decision.trusted:
        # RFC 3325 §5: identity assertions only travel inside the trust domain; a rule's
        # treat_as_trusted puts its destination inside it
        req = req.remove("P-Asserted-Identity").remove("P-Preferred-Identity")
    build = call.env.build
    req = build.with_sdp(req, call.sdp_context(INITIAL_OFFER, toward_caller=False, method="INVITE"))
    inbound = (call.received.transport, call.received.remote[0])
    return build.outbound_invite(req, call.request, inbound, call.caller_tag, target)


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
    """The CDR's target text: transport, address, port, and the proxy or TLS name."""
    text = f"{target.transport}:{render_host(target.host)}:{target.port}"
    if decision is not None and decision.proxy:
        return f"{text} via proxy {decision.proxy}"
    if target.tls_name and target.tls_name != target.host:
        return f"{text} ({target.tls_name})"
    return text


def final_answer(
    request: Request,
    responses: list[tuple[Response, bool]],
    *,
    cancelled: bool,
    timer_c_fired: bool,
    encryption_required: bool,
    retry_after: int,
    build: MessageBuilder,
    upstream: Callable[[Response], Response],
) -> tuple[Response, str]:
    """The final response a call sends the caller when no branch answered 2xx, and its CDR
    cause: 487 once cancelled (§16.10), 408 after Timer C (§16.8), else the best response
    (§16.7 step 6; a 503 becomes 500, ``upstream`` prepares one that came from downstream)."""
    picked = best_response(responses)
    if cancelled:
        if picked is not None and picked[1] and picked[0].status == 487:
            return upstream(picked[0]), cdr.CANCELLED
        return build.local_response(request, 487), cdr.CANCELLED
    if timer_c_fired:
        return build.local_response(request, 408, "No Final Response (Timer C)"), cdr.TIMEOUT
    if picked is None:
        retry = (("Retry-After", str(retry_after)),)
        return build.local_response(request, 503, "No Reachable Target", retry), cdr.UNAVAILABLE
    response, downstream = picked
    cause = cdr.cause_for(response.status)
    if response.status == 488 and encryption_required:
        cause = cdr.MEDIA_ENCRYPTION_REFUSED
    if response.status == 503:
        # §16.7 step 6: a 503 is not passed upstream; it only says that target failed
        return build.local_response(request, 500, "All Targets Unavailable"), cause
    if downstream:
        return upstream(response), cause
    return build.local_response(request, response.status), cause
