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
from guestjoin.core import dialogs
from guestjoin.core.actions import (
    Action,
    ClientRef,
    DnsResult,
    Lookup,
    MediaRef,
    MediaResult,
    Outbox,
    ServerRef,
    TimerRef,
)
from guestjoin.core.branch import Branching, Call
from guestjoin.core.checks import (
    preprocess_route,
    source_allowed,
    validate,
)
from guestjoin.core.invite import LocalApplication, initial_invite
from guestjoin.core.messages import Locality, MessageBuilder
from guestjoin.core.options import ALLOW, ProxyOptions
from guestjoin.licences import Licences
from guestjoin.registrar import Registrar
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.values import Received
from otj.model import SipCredential

log = logging.getLogger("guestjoin.proxy")


class TimeSource(Protocol):
    """Monotonic and wall-clock time (any ``guestjoin.clock.Clock``; tests use a manual one)."""

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
        self.calls: dict[str, list[Call]] = {}  # by Call-ID
        self.by_server: dict[object, Branching] = {}  # by the driver's server transaction

    # --- CallEnv -----------------------------------------------------------------------------
    def now(self) -> float:
        """Monotonic seconds."""
        return self.time.now()

    def wall(self) -> float:
        """Epoch seconds."""
        return self.time.wall()

    def track(self, call: Call) -> None:
        """An admitted call: findable by its dialog and by its server transaction."""
        self.calls.setdefault(call.call_id, []).append(call)
        self.by_server[call.server.handle] = call

    def call_ended(self, call: Call) -> None:
        """Licences back, the media session deleted; drop the call after late
        retransmissions had a chance."""
        self.licences.release(call.key)
        self.sources.release(call.key)
        if call.media is not None:
            call.media.release(call)
        self.by_server.pop(call.server.handle, None)
        if call not in self.calls.get(call.call_id, ()):
            return  # refused before it was ever forwarded: nothing to keep

        def forget() -> None:
            call.release()
            calls = self.calls.get(call.call_id)
            if calls is not None:
                if call in calls:
                    calls.remove(call)
                if not calls:
                    del self.calls[call.call_id]

        self.fx.later(self.options.forget_after, forget)

    def credential(self, name: str) -> SipCredential | None:
        """A ``sip_credentials`` entry by name (password resolved)."""
        return self.config().credential(name)

    def forget_forward(self, server: ServerRef) -> None:
        """An in-dialog forward got its final response (an INVITE's stays reachable for 2xx
        retransmissions while its client transaction is Accepted, RFC 6026)."""
        forward = self.by_server.pop(server.handle, None)
        if forward is None:
            return
        if server.request.method == "INVITE":
            self.fx.later(self.timer_b, forward.release)
        else:
            forward.release()

    @property
    def live_calls(self) -> int:
        """Calls not yet ended."""
        return sum(1 for calls in self.calls.values() for c in calls if not c.ended)

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
        try:
            forwardable = self._own_vias(client, response)
            if forwardable is not None:
                client.on_response(client, forwardable)
        except Exception:
            log.exception("%s: error while handling a %d", response.call_id, response.status)
        return self.fx.take()

    def client_failure(self, client: ClientRef, reason: str) -> list[Action]:
        """A client transaction failed (``timeout`` or a transport error)."""
        try:
            client.on_failure(client, reason)
        except Exception:
            log.exception("%s: error while handling a failure", client.request.call_id)
        return self.fx.take()

    def timer(self, timer: TimerRef) -> list[Action]:
        """A timer fired."""
        if timer.cancelled:
            return []
        try:
            timer.fire()
        except Exception:
            log.exception("error in a timer")
        return self.fx.take()

    def resolved(self, lookup: Lookup, result: DnsResult) -> list[Action]:
        """A DNS answer (targets, or the exception met)."""
        try:
            lookup.callback(result)
        except Exception:
            log.exception("error while using a DNS answer for %s", lookup.uri)
        return self.fx.take()

    def media_done(self, ref: MediaRef, result: MediaResult) -> list[Action]:
        """The media relay's answer to a ``RelayMedia`` (the body, figures, or the error)."""
        try:
            ref.callback(result)
        except Exception:
            log.exception("%s: error while using the media relay's answer", ref.call_id)
        return self.fx.take()

    def _own_vias(self, client: ClientRef, response: Response) -> Response | None:
        """RFC 3261 §16.7 step 3: a response that lost the Vias below ours was meant for this
        element and is never forwarded as it is: a provisional one is dropped, a final one
        stands as the same status generated here (with the request's own Via stack)."""
        sent = client.request.values("Via")
        if len(response.values("Via")) >= len(sent):
            return response
        log.info(
            "%s: a %d with %d of our request's %d Vias: not forwarded as it is",
            response.call_id,
            response.status,
            len(response.values("Via")),
            len(sent),
        )
        if response.status < 200:
            return None
        return make_response(client.request, response.status, response.reason)

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

    # --- dispatch ----------------------------------------------------------------------------
    def refuse(
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
                dialogs.forward_ack(self, request, received)
            return
        if method == "CANCEL":
            self._cancel(request, server, invite_server)
            return
        if method == "REGISTER" and self.options.registrar:
            config = self.config()
            if not source_allowed(received, config):
                self.refuse(server, 403, "Source Address Not Allowed")
                return
            self.fx.respond(server, self.registrar.handle(request, received, config))
            return
        problem = validate(request, self.build)
        if problem is not None:
            self.refuse(server, *problem)
            return
        request, tokens = preprocess_route(request, self.build.locality)
        if request.to.tag is not None:
            for app in self.applications:
                if app.in_dialog(request, received, server, self.fx):
                    return
            dialogs.in_dialog(self, request, received, server, tokens)
            return
        if request.get("Route") is not None:
            self.refuse(server, 403, "Preloaded Route Not Allowed")
            return
        if method == "INVITE":
            initial_invite(self, request, received, server)
        elif method == "OPTIONS":
            headers = (("Allow", ALLOW), ("Accept", "application/sdp"))
            self.fx.respond(server, self.build.local_response(request, 200, headers=headers))
        else:
            self.refuse(server, 405, headers=(("Allow", ALLOW),))

    def _cancel(self, cancel: Request, server: ServerRef, invite_server: object | None) -> None:
        """§16.10: 200 to the CANCEL, then cancel the pending branch of the matching call."""
        target = self.by_server.get(invite_server) if invite_server is not None else None
        if target is None:
            self.refuse(server, 481)
            return
        self.fx.respond(server, make_response(cancel, 200, to_tag=None))
        log.info("%s: CANCEL from upstream", cancel.call_id)
        target.cancel()  # still resolving: the resolution answers 487 when it finishes

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

    def teardown(self, call: Call) -> None:
        """BYE the far end of a call whose caller never ACKed the 2xx (§13.3.1.4)."""
        dialogs.teardown(self, call)
