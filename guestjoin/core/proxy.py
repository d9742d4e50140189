"""The sans-I/O proxy core (RFC 3261 §16): fed requests, responses, timer and DNS events,
it returns the actions to take (``guestjoin.core.actions``).

Events: ``request`` (a new request; ``server`` is None for an ACK that matched no server
transaction, ``invite_server`` is the driver's INVITE transaction a CANCEL matched),
``client_response``/``client_failure`` (on a ``ClientRef`` the core started), ``timer`` (a
``TimerRef`` fired), ``resolved`` (a ``Lookup`` answered). Each returns the list of actions in
the order they must run. The core keeps the call tables, the registrar, the licence and
per-source counters; it never reads a clock except the ``TimeSource`` it was given.

Dispatch: REGISTER → the registrar; requests with a To tag → in-dialog forwarding (only for
dialogs set up here whose Route carries a valid dialog token, ``guestjoin.dialog_token``);
initial INVITE → ``guestjoin.core.invite``; CANCEL → the matching call (§16.10); ACK for a
2xx → forwarded statelessly along the route (§16.11); OPTIONS → 200; others → 405.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Protocol

from guestjoin import cdr
from guestjoin.admission import SourceCounter
from guestjoin.config import GatewayConfig
from guestjoin.core import indialog
from guestjoin.core.actions import Action, ClientRef, DnsResult, Lookup, Outbox, ServerRef, TimerRef
from guestjoin.core.branch import Branching, Call
from guestjoin.core.checks import (
    dialog_check,
    next_hop_uri,
    preprocess_route,
    source_allowed,
    validate,
)
from guestjoin.core.indialog import InDialog
from guestjoin.core.invite import LocalApplication, initial_invite
from guestjoin.core.messages import IN_DIALOG, Locality, MessageBuilder
from guestjoin.core.options import ALLOW, ProxyOptions
from guestjoin.dialog_token import token_valid
from guestjoin.licences import Licences
from guestjoin.registrar import Registrar
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.sip.uri import UriError
from guestjoin.teardown import bye_toward_callee
from guestjoin.values import Received, Target

log = logging.getLogger("guestjoin.proxy")


class TimeSource(Protocol):
    """Monotonic and wall-clock time (``guestjoin.clock.Clock`` and ``ManualClock`` fit)."""

    def now(self) -> float:
        """Monotonic seconds."""

    def wall(self) -> float:
        """Epoch seconds."""


class ProxyCore:
    """Admission, routing and forwarding of every request, as actions."""

    def __init__(
        self,
        *,
        locality: Locality,
        registrar: Registrar,
        licences: Licences,
        time: TimeSource,
        config: Callable[[], GatewayConfig],
        options: ProxyOptions | None = None,
        timer_b: float = 32.0,
    ) -> None:
        self.options = options or ProxyOptions()
        self.registrar = registrar
        self.licences = licences
        self.time = time
        self.config = config
        self.timer_b = timer_b
        self.fx = Outbox()
        self.build = MessageBuilder(
            locality,
            server_name=self.options.server_name,
            dialog_key=self.options.dialog_key or secrets.token_bytes(32),
            max_kbps=lambda: self.config().settings.max_outbound_kbps,
        )
        self.sources = SourceCounter()
        self.applications: list[LocalApplication] = []
        self._calls: dict[str, list[Call]] = {}  # by Call-ID
        self._by_st: dict[object, Branching] = {}  # by the driver's server transaction

    # --- CallEnv -----------------------------------------------------------------------------
    def now(self) -> float:
        """Monotonic seconds."""
        return self.time.now()

    def wall(self) -> float:
        """Epoch seconds."""
        return self.time.wall()

    def track(self, call: Call) -> None:
        """An admitted call: findable by its dialog and by its server transaction."""
        self._calls.setdefault(call.call_id, []).append(call)
        self._by_st[call.server.handle] = call

    def call_ended(self, call: Call) -> None:
        """Licences back; drop the call after late retransmissions had a chance."""
        self.licences.release(call.key)
        self.sources.release(call.key)
        self._by_st.pop(call.server.handle, None)
        if call not in self._calls.get(call.call_id, ()):
            return  # refused before it was ever forwarded: nothing to keep

        def forget() -> None:
            calls = self._calls.get(call.call_id)
            if calls is not None:
                if call in calls:
                    calls.remove(call)
                if not calls:
                    del self._calls[call.call_id]

        self.fx.later(self.options.forget_after, forget)

    def forget_forward(self, server: ServerRef) -> None:
        """An in-dialog forward got its final response."""
        self._by_st.pop(server.handle, None)

    @property
    def live_calls(self) -> int:
        """Calls not yet ended."""
        return sum(1 for calls in self._calls.values() for c in calls if not c.ended)

    # --- events ------------------------------------------------------------------------------
    def request(
        self,
        request: Request,
        received: Received,
        server: ServerRef | None,
        invite_server: object | None = None,
    ) -> list[Action]:
        """A request that is not a retransmission; a bug here answers 500, never hangs."""
        try:
            self._on_request(request, received, server, invite_server)
        except Exception:
            log.exception("%s: error while handling %s", request.call_id, request.method)
            if server is not None and server.last_status is None:
                response = self.build.stateless_response(request, 500)
                self.fx.respond_statelessly(server, response)  # nothing sent yet: not amplified
            elif server is not None and server.last_status is not None and server.last_status < 200:
                self.fx.respond(server, self.build.local_response(request, 500))
        return self.fx.take()

    def client_response(self, client: ClientRef, response: Response) -> list[Action]:
        """A response on a client transaction the core started."""
        return self._run(lambda: client.on_response(client, response))

    def client_failure(self, client: ClientRef, reason: str) -> list[Action]:
        """A client transaction failed (``timeout`` or a transport error)."""
        return self._run(lambda: client.on_failure(client, reason))

    def timer(self, timer: TimerRef) -> list[Action]:
        """A timer fired."""
        if timer.cancelled:
            return []
        timer.cancelled = True  # fired: a later cancel() is a no-op
        return self._run(timer.callback)

    def resolved(self, lookup: Lookup, result: DnsResult) -> list[Action]:
        """A DNS answer (targets, or the exception met)."""
        return self._run(lambda: lookup.callback(result))

    def stray_response(self, response: Response, received: Received) -> list[Action]:
        """A response no transaction of ours knows: dropped, never forwarded (2xx
        retransmissions reach us through the INVITE's Accepted client transaction, RFC 6026)."""
        log.debug(
            "%s: response %d from %s matches no transaction: dropped",
            response.call_id,
            response.status,
            received.remote[0],
        )
        return []

    def _run(self, step: Callable[[], None]) -> list[Action]:
        try:
            step()
        except Exception:
            log.exception("proxy core step failed")
        return self.fx.take()

    # --- dispatch ----------------------------------------------------------------------------
    def _refuse(
        self,
        server: ServerRef,
        status: int,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.fx.respond_statelessly(
            server, self.build.stateless_response(server.request, status, reason, headers)
        )

    def _on_request(
        self,
        request: Request,
        received: Received,
        server: ServerRef | None,
        invite_server: object | None,
    ) -> None:
        method = request.method
        if server is None:
            if method == "ACK":
                self._forward_ack(request, received)
            return
        if method == "CANCEL":
            self._cancel(request, server, invite_server)
            return
        if method == "REGISTER" and self.options.registrar:
            config = self.config()
            if not source_allowed(received, config):
                self._refuse(server, 403, "Source Address Not Allowed")
                return
            self.fx.respond(server, self.registrar.handle(request, received, config))
            return
        problem = validate(request, self.build)
        if problem is not None:
            self._refuse(server, *problem)
            return
        request, tokens = preprocess_route(request, self.build.locality)
        if request.to.tag is not None:
            for app in self.applications:
                if app.in_dialog(request, received, server, self.fx):
                    return
            self._in_dialog(request, received, server, tokens)
            return
        if request.get("Route") is not None:
            self._refuse(server, 403, "Preloaded Route Not Allowed")
            return
        if method == "INVITE":
            initial_invite(self, request, received, server)
        elif method == "OPTIONS":
            headers = (("Allow", ALLOW), ("Accept", "application/sdp"))
            self.fx.respond(server, self.build.local_response(request, 200, headers=headers))
        else:
            self._refuse(server, 405, headers=(("Allow", ALLOW),))

    def _cancel(self, cancel: Request, server: ServerRef, invite_server: object | None) -> None:
        """§16.10: 200 to the CANCEL, then cancel the pending branch of the matching call."""
        target = self._by_st.get(invite_server) if invite_server is not None else None
        if target is None:
            self._refuse(server, 481)
            return
        self.fx.respond(server, make_response(cancel, 200, to_tag=None))
        log.info("%s: CANCEL from upstream", cancel.call_id)
        target.cancel()  # still resolving: the resolution answers 487 when it finishes

    # --- in-dialog requests ------------------------------------------------------------------
    def _find_call(self, request: Request, tokens: tuple[str, ...]) -> Call | None:
        """The call of a request's dialog whose own token the request carries (two callers
        may share a Call-ID: one's token must not open the other's dialog)."""
        calls = self._calls.get(request.call_id)
        if not calls:
            return None
        tags = {request.from_.tag or "", request.to.tag or ""}
        key = self.build.dialog_key
        for call in reversed(calls):
            mine = (call.caller_tag,)
            if call.caller_tag in tags and all(
                token_valid(key, call.call_id, mine, t) for t in tokens
            ):
                return call
        return None

    def _dialog_call(
        self, request: Request, received: Received, tokens: tuple[str, ...]
    ) -> Call | tuple[int, str, str]:
        """The call an in-dialog request may travel in, or (status, reason, why) it may not."""
        problem = dialog_check(request, tokens, self.build.dialog_key)
        call = self._find_call(request, tokens) if problem is None else None
        if call is None:
            status, reason = problem or (481, "Call/Transaction Does Not Exist")
            return status, reason, f"{status} {reason}"
        from_caller = (request.from_.tag or "") == call.caller_tag
        why = indialog.refusal(request, call, received, from_caller)
        if why is not None:
            return 403, "Not Along The Dialog's Route", why
        return call

    def _in_dialog(
        self, request: Request, received: Received, server: ServerRef, tokens: tuple[str, ...]
    ) -> None:
        found = self._dialog_call(request, received, tokens)
        if not isinstance(found, Call):
            status, reason, why = found
            source = received.remote[0]
            log.info("%s: %s from %s refused: %s", request.call_id, request.method, source, why)
            self._refuse(server, status, reason)
            return
        call = found
        from_caller = (request.from_.tag or "") == call.caller_tag
        call.path = call.path.with_target(request.get("Contact"), caller=from_caller)
        target = indialog.known_next_hop(request, call, toward_caller=not from_caller)
        if target is not None:
            self._forward_in_dialog(request, server, call, target, from_caller)
            return

        def resolved(result: DnsResult) -> None:
            if isinstance(result, Exception):
                log.info("%s: cannot resolve the next hop: %s", request.call_id, result)
                status = 404 if getattr(result, "not_found", False) else 503
                self.fx.respond(server, self.build.local_response(server.request, status))
                return
            self._forward_in_dialog(request, server, call, result[0], from_caller)

        self._resolve_next_hop(request, resolved)

    def _resolve_next_hop(self, request: Request, then: Callable[[DnsResult], None]) -> None:
        try:
            uri = next_hop_uri(request)
        except UriError as exc:
            then(exc)
            return
        self.fx.resolve(uri, then)

    def _forward_in_dialog(
        self, request: Request, server: ServerRef, call: Call, target: Target, from_caller: bool
    ) -> None:
        if indialog.elsewhere(request, call, target, from_caller):
            self._refuse(server, 403, "Not Along The Dialog's Route")
            return
        context = call.sdp_context(IN_DIALOG, toward_caller=not from_caller, method=request.method)
        out = self.build.forward(request, target, context)
        forward = InDialog(self, server, call, from_caller=from_caller)
        self._by_st[server.handle] = forward
        forward.forward(out, target)

    def bye_passed(self, call: Call, request: Request, from_caller: bool, sent_at: float) -> None:
        """A BYE that ended the dialog (a 2xx, 481 or 408, or no answer, RFC 3261 §15.1.2) ends
        the call record: the far end hanging up during the lobby = not admitted. A BYE refused
        otherwise (a 500 for an old CSeq) leaves the call, its licences and its share up."""
        if call.ended:
            return
        reason = request.get("Reason") or ""
        if from_caller:
            call.end(cause=cdr.COMPLETED, detail=f"caller hung up {reason}".strip())
            return
        answered = call.answered_at
        in_lobby = answered is not None and (sent_at - answered <= self.options.lobby_window)
        cause = cdr.NOT_ADMITTED if in_lobby else cdr.COMPLETED
        call.end(cause=cause, detail=f"far end hung up {reason}".strip())

    # --- ACK (§16.11) and the no-ACK teardown (§13.3.1.4) ------------------------------------
    def _forward_ack(self, ack: Request, received: Received) -> None:
        """An ACK for a 2xx is end-to-end: forward it statelessly along the route (§16.11)."""
        if validate(ack, self.build) is not None:
            return
        ack, tokens = preprocess_route(ack, self.build.locality)
        for app in self.applications:
            if app.in_dialog(ack, received, None, self.fx):
                return
        call = self._dialog_call(ack, received, tokens)
        if not isinstance(call, Call):
            # also every ACK for a stateless refusal: debug, not info
            log.debug("%s: ACK from %s dropped: %s", ack.call_id, received.remote[0], call[2])
            return
        from_caller = (ack.from_.tag or "") == call.caller_tag
        if from_caller:
            call.acked()
        target = indialog.known_next_hop(ack, call, toward_caller=not from_caller)
        if target is not None:
            self._send_ack(ack, call, target, from_caller)
            return

        def resolved(result: DnsResult) -> None:
            if isinstance(result, Exception):
                log.info("%s: ACK not forwarded: %s", ack.call_id, result)
            else:
                self._send_ack(ack, call, result[0], from_caller)

        self._resolve_next_hop(ack, resolved)

    def _send_ack(self, ack: Request, call: Call, target: Target, from_caller: bool) -> None:
        if indialog.elsewhere(ack, call, target, from_caller):
            return
        context = call.sdp_context(IN_DIALOG, toward_caller=not from_caller, method="ACK")
        self.fx.add_send(self.build.forward(ack, target, context), target)

    def teardown(self, call: Call) -> None:
        """BYE the far end of a call whose caller never ACKed the 2xx (§13.3.1.4)."""
        if call.out is None or call.answer is None:
            return
        locality = self.build.locality
        bye = bye_toward_callee(call.out, call.answer, lambda u: locality.is_local(u.host, u.port))
        if bye is None:
            log.info("%s: the 2xx has no usable Contact: no BYE sent", call.call_id)
            return
        target = indialog.known_next_hop(bye, call, toward_caller=False)
        if target is not None:
            self._send_teardown(bye, call, target)
            return

        def resolved(result: DnsResult) -> None:
            if isinstance(result, Exception):
                log.info("%s: BYE not sent: %s", call.call_id, result)
            else:
                self._send_teardown(bye, call, result[0])

        self._resolve_next_hop(bye, resolved)

    def _send_teardown(self, bye: Request, call: Call, target: Target) -> None:
        if indialog.elsewhere(bye, call, target, from_caller=True):
            return
        branch = self.build.branch(bye)
        out = bye.prepend("Via", self.build.via(target.transport, target.host, branch))
        self.fx.start_client(out, target, _ignore, _ignore)


def _ignore(_client: ClientRef, _what: object) -> None:
    """Fire-and-forget (the teardown BYE): its answer is not used."""
