"""The stateful proxy core (RFC 3261 §16) with call routing, admission, licences and CDRs.

Initial INVITEs are admitted (source allow list, licences), routed by the call routing rules
(no match → 404: never an open relay), resolved by RFC 3263 and forwarded to one target at a
time, failing over to the next on a timeout, a transport error or a 503 (RFC 3263 §4.3). The
proxy record-routes (two entries when the two legs use different transports, RFC 5658), so
every in-dialog request passes here; in-dialog requests are only forwarded for dialogs this
process set up and whose Route carries a valid dialog token (``guestjoin.dialog_token``).
Requests refused before routing are answered statelessly (one response, no 100 Trying, no
retransmission). Timer C (§16.6 step 11) is kept well above 30 s so a guest can wait in the
Meet lobby; a 2xx that is never ACKed ends the call after 64*T1 (RFC 3261 §13.3.1.4).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import itertools
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from guestjoin import cdr
from guestjoin.admission import SourceCounter, source_key
from guestjoin.call import Branching, Call, InDialog, has_sdp
from guestjoin.cdr import CallDetail, CallRecorder, conference_of, utc
from guestjoin.clock import Clock
from guestjoin.config import GatewayConfig
from guestjoin.dialog_path import same_address
from guestjoin.dialog_token import PARAM, dialog_token, token_valid
from guestjoin.dns import DnsFailure, SipResolver
from guestjoin.licences import Licences
from guestjoin.media.anchor import CallMedia, EncryptionRefused
from guestjoin.media.ng import NgError
from guestjoin.media.relay import MediaRelay, RelayUnavailable
from guestjoin.registrar import Registrar
from guestjoin.routing import CallContext, RouteDecision, alias_of, route_call
from guestjoin.sip.headers import parse_via
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.sip.sdp import cap_bandwidth
from guestjoin.sip.uri import SipUri, UriError, param, parse_name_addr, parse_uri
from guestjoin.teardown import ack_toward_callee, bye_toward_callee
from guestjoin.transaction import ClientTransaction, ServerTransaction, TransactionLayer
from guestjoin.transport import (
    UDP_MAX_REQUEST,
    Received,
    Target,
    TransportError,
    TransportLayer,
    host_of,
    render_host,
)

log = logging.getLogger(__name__)

BRANCH_PREFIX = "z9hG4bK-otj"
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, PRACK, NOTIFY, REFER"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProxyOptions:
    """Timers and behaviour of the proxy core."""

    timer_c: float = 180.0  # > 3 min (§16.6 step 11); the Meet lobby waits far less
    failover_timeout: float = 4.0  # no response at all from a target: try the next one
    lobby_window: float = 40.0  # far-end BYE this soon after answer = not admitted
    max_call_duration: float = 12 * 3600.0
    retry_after: int = 30
    server_name: str = "otj-gateway"
    registrar: bool = True
    # HMAC key of the dialog tokens (from the store's secret key); None = random per process
    dialog_key: bytes | None = field(default=None, repr=False)


class Proxy:
    """The transaction user: admission, routing and forwarding of every request."""

    def __init__(
        self,
        *,
        transport: TransportLayer,
        transactions: TransactionLayer,
        resolver: SipResolver,
        registrar: Registrar,
        licences: Licences,
        recorder: CallRecorder,
        clock: Clock,
        config: Callable[[], GatewayConfig],
        options: ProxyOptions | None = None,
        media: MediaRelay | None = None,
    ) -> None:
        self.media = media  # the rtpengines of rules with media: relay
        self.transport = transport
        self.transactions = transactions
        self.resolver = resolver
        self.registrar = registrar
        self.licences = licences
        self.recorder = recorder
        self.clock = clock
        self.config = config
        self.options = options or ProxyOptions()
        self._secret = secrets.token_bytes(16)
        self._dialog_key = self.options.dialog_key or secrets.token_bytes(32)
        self.sources = SourceCounter()
        self._counter = itertools.count(1)
        self._calls: dict[str, list[Call]] = {}  # by Call-ID
        self._by_st: dict[ServerTransaction, Branching] = {}
        transactions.user = self

    # --- small helpers -----------------------------------------------------------------------
    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the loop; its failure is logged."""
        asyncio.get_running_loop().create_task(work).add_done_callback(_log_task)

    def record(self, detail: CallDetail) -> None:
        """Hand a CDR change to the recorder (never raises)."""
        try:
            self.recorder.record(detail)
        except Exception:
            log.exception("%s: cannot record the call", detail.call_id)

    def local_response(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """A response generated here (§16.7 / §8.2.6)."""
        return make_response(
            request,
            status,
            reason,
            to_tag=secrets.token_hex(5),
            headers=(*headers, ("Server", self.options.server_name)),
        )

    def _reply(
        self,
        st: ServerTransaction,
        status: int,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        response = self.local_response(st.request, status, reason, headers)
        st.respond(response)
        return response

    def _reply_stateless(
        self,
        st: ServerTransaction,
        status: int,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """One response and no state (Kamailio's ``sl_send_reply``): refusals never amplify.

        The To tag is derived from the request so a retransmission is answered alike."""
        request = st.request
        via = request.first_value("Via") or ""
        seed = "|".join((request.call_id, request.from_.tag or "", via))
        tag = hashlib.blake2s(seed.encode(), key=self._secret, digest_size=5).hexdigest()
        response = make_response(
            request,
            status,
            reason,
            to_tag=tag,
            headers=(*headers, ("Server", self.options.server_name)),
        )
        st.respond_statelessly(response)

    def call_ended(self, call: Call) -> None:
        """Drop a finished call from the tables after late retransmissions had a chance."""
        self._by_st.pop(call.st, None)
        if call not in self._calls.get(call.call_id, ()):
            return  # refused before it was ever forwarded: nothing to keep

        def forget() -> None:
            calls = self._calls.get(call.call_id)
            if calls is not None:
                if call in calls:
                    calls.remove(call)
                if not calls:
                    del self._calls[call.call_id]

        self.clock.call_later(32.0, forget)

    def forget_forward(self, st: ServerTransaction) -> None:
        """An in-dialog forward got its final response."""
        self._by_st.pop(st, None)

    @property
    def live_calls(self) -> int:
        """Calls not yet ended."""
        return sum(1 for calls in self._calls.values() for c in calls if not c.ended)

    # --- transaction user --------------------------------------------------------------------
    def on_request(
        self, request: Request, received: Received, st: ServerTransaction | None
    ) -> None:
        """Every request that is not a retransmission; a bug here answers 500, never hangs."""
        try:
            self._on_request(request, received, st)
        except Exception:
            log.exception("%s: error while handling %s", request.call_id, request.method)
            last = st.last_response if st is not None else None
            if st is not None and last is None:
                self._reply_stateless(st, 500)  # nothing sent yet: never amplified
            elif st is not None and last is not None and last.status < 200:
                st.respond(self.local_response(request, 500))

    def _on_request(
        self, request: Request, received: Received, st: ServerTransaction | None
    ) -> None:
        method = request.method
        if st is None:
            if method == "ACK":
                self._forward_ack(request, received)
            return
        if method == "CANCEL":
            self._cancel(request, st)
            return
        if method == "REGISTER" and self.options.registrar:
            config = self.config()
            if not self._allowed(received, config):
                self._reply_stateless(st, 403, "Source Address Not Allowed")
                return
            st.respond(self.registrar.handle(request, received, config))
            return
        problem = self._validate(request)
        if problem is not None:
            self._reply_stateless(st, *problem)
            return
        request, tokens = self._preprocess_route(request)
        if request.to.tag is not None:
            self._in_dialog(request, received, st, tokens)
            return
        if request.get("Route") is not None:
            self._reply_stateless(st, 403, "Preloaded Route Not Allowed")
            return
        if method == "INVITE":
            self._initial_invite(request, received, st)
        elif method == "OPTIONS":
            self._reply(st, 200, headers=(("Allow", ALLOW), ("Accept", "application/sdp")))
        else:
            self._reply_stateless(st, 405, headers=(("Allow", ALLOW),))

    def on_stray_response(self, response: Response, received: Received) -> None:
        """A response no transaction of ours knows: dropped, never forwarded (2xx
        retransmissions reach us through the INVITE's Accepted client transaction, RFC 6026)."""
        log.debug(
            "%s: response %d from %s matches no transaction: dropped",
            response.call_id,
            response.status,
            received.remote[0],
        )

    # --- validation (§16.3) and route pre-processing (§16.4) ----------------------------------
    def _validate(self, request: Request) -> tuple[int, str] | None:
        try:
            uri = request.sip_uri()
        except UriError:
            return 416, "Unsupported URI Scheme"
        del uri
        mf = request.max_forwards
        if mf is not None and mf <= 0:
            return 483, "Too Many Hops"
        if request.get("Proxy-Require") is not None:
            return 420, "Bad Extension"
        if self._looped(request):
            return 482, "Loop Detected"
        return None

    def _loop_hash(self, request: Request) -> str:
        """§16.6 step 8: a hash of the fields that identify the request as received."""
        text = "|".join(
            (
                request.uri,
                request.from_.tag or "",
                request.call_id,
                str(request.cseq.number),
                request.to.tag or "",
            )
        )
        return hashlib.blake2s(text.encode(), key=self._secret, digest_size=5).hexdigest()

    def _looped(self, request: Request) -> bool:
        """§16.3 step 4: our Via with the same loop hash means the request came back."""
        mine = None
        for value in request.values("Via")[1:]:
            try:
                via = parse_via(value)
            except UriError:
                continue
            branch = via.branch or ""
            if branch.startswith(BRANCH_PREFIX) and self.transport.is_local(via.host, via.port):
                mine = mine or self._loop_hash(request)
                if branch[len(BRANCH_PREFIX) :].split(".", 1)[0] == mine:
                    return True
        return False

    def is_ours(self, uri: SipUri) -> bool:
        """Whether a URI names one of our listeners."""
        return self.transport.is_local(uri.host, uri.port)

    def _preprocess_route(self, request: Request) -> tuple[Request, tuple[str, ...]]:
        """Strip our own Route entries (§16.4); return the dialog token of each ("" = none)."""
        tokens: list[str] = []
        try:
            ruri = request.sip_uri()
        except UriError:
            ruri = None
        if ruri is not None and self.is_ours(ruri) and ruri.lr and request.get("Route"):
            # a strict router put our Record-Route into the Request-URI (§16.4)
            routes = request.values("Route")
            last = _uri_of(routes[-1])  # None: not a URI; the Request-URI stays ours → refused
            if last is not None:
                request = _drop_last_route(request.with_uri(last))
                tokens.append(param(ruri.params, PARAM) or "")
        while True:
            top = request.first_value("Route")
            if top is None:
                break
            try:
                uri = parse_uri(parse_name_addr(top).uri)
            except UriError:
                break
            if not self.is_ours(uri):
                break
            request = request.remove_first_value("Route")
            tokens.append(param(uri.params, PARAM) or "")
        return request, tuple(tokens)

    def _dialog_check(self, request: Request, tokens: tuple[str, ...]) -> tuple[int, str] | None:
        """Why an in-dialog request may not pass: no Route of ours (481), or one whose token
        was not made by us for this Call-ID and the From or To tag (403); None = it may."""
        if not tokens:
            return 481, "Call/Transaction Does Not Exist"
        tags = (request.from_.tag or "", request.to.tag or "")
        if not all(token_valid(self._dialog_key, request.call_id, tags, t) for t in tokens):
            return 403, "Dialog Not Record-Routed Here"
        return None

    def _allowed(self, received: Received, config: GatewayConfig) -> bool:
        networks = config.allowed_networks()
        if not networks:
            return True
        try:
            ip = ipaddress.ip_address(received.remote[0])
        except ValueError:
            return False
        return any(ip in net for net in networks)

    # --- initial INVITE ----------------------------------------------------------------------
    def _initial_invite(self, request: Request, received: Received, st: ServerTransaction) -> None:
        """Admission and routing first, answered statelessly when refused (no 100 Trying)."""
        config = self.config()
        from_addr = request.from_
        source = received.remote[0]
        detail = CallDetail(
            key=secrets.token_hex(8),
            call_id=request.call_id,
            caller_uri=from_addr.uri,
            caller_name=from_addr.display or "",
            source_address=f"{render_host(source)}:{received.remote[1]}",
            transport=received.transport,
            dialled_alias=alias_of(request.uri),
            invite_at=utc(self.clock.wall()),
        )
        call = Call(self, st, request, received, detail)
        if not self._allowed(received, config):
            self._reject(call, 403, "Source Address Not Allowed", cdr.FORBIDDEN, stateless=True)
            return
        if not request.uri.isascii():
            self._reject(
                call,
                404,
                "Non-ASCII Request-URI Refused",
                cdr.NO_ROUTE,
                detail=f"non-ASCII characters in {request.uri!r}: never routed (look-alike host)",
                stateless=True,
            )
            return
        username = _user_of(from_addr.uri)
        binding = self.registrar.binding_for(username, source) if username else None
        endpoint = config.endpoint_by_username(username) if binding is not None else None
        if endpoint is None:
            endpoint = config.endpoint_by_address(source)
        if endpoint is not None:
            call.display = endpoint.name
            call.stage(endpoint_name=endpoint.name, caller_name=endpoint.name)
        result = route_call(
            config.rules, CallContext(uri=request.uri, registered=binding is not None)
        )
        decision = result.decision
        if decision is None:
            log.info("%s: no call routing rule matches %s", request.call_id, detail.dialled_alias)
            self._reject(
                call,
                404,
                "No Matching Call Routing Rule",
                cdr.NO_ROUTE,
                detail="; ".join(result.trace[-5:]) or "no call routing rules",
                stateless=True,
            )
            return
        call.decision = decision
        rule = next((r for r in config.rules if r.name == decision.rule), None)
        if rule is not None and rule.media == "relay" and self.media is not None:
            call.media = CallMedia(
                self.media,
                # the engine's call-id: unique per call (two callers may share a Call-ID)
                call_id=f"{request.call_id}~{call.key}",
                room_tag=call.caller_tag,
                encryption=rule.outbound_media_encryption,
            )
        call.stage(
            rule=decision.rule,
            routed_alias=decision.alias,
            conference=conference_of(decision.alias),
        )
        limit = config.settings.max_calls_per_source
        if not self.sources.acquire(source_key(source), call.key, limit):
            self._reject(
                call,
                503,
                "Too Many Calls From This Source",
                cdr.SOURCE_LIMIT,
                headers=(("Retry-After", str(self.options.retry_after)),),
                detail=f"{limit} calls in progress from {source_key(source)} "
                "(gateway.max_calls_per_source)",
                stateless=True,
            )
            return
        if not self.licences.acquire(call.key):
            self._reject(
                call,
                503,
                "Call Licence Limit Reached",
                cdr.LICENCE_LIMIT,
                headers=(("Retry-After", str(self.options.retry_after)),),
                stateless=True,
            )
            return
        st.respond(make_response(request, 100, headers=(("Server", self.options.server_name),)))
        self._calls.setdefault(request.call_id, []).append(call)
        self._by_st[st] = call
        self._resolve_and_start(call, decision, config)

    def _reject(
        self,
        call: Call,
        status: int,
        reason: str,
        cause: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        detail: str = "",
        stateless: bool = False,
    ) -> None:
        call.done = True
        if stateless:
            self._reply_stateless(call.st, status, reason, headers)
        else:
            self._reply(call.st, status, reason, headers)
        call.end(cause=cause, code=status, detail=detail or f"{status} {reason}")

    def _resolve_and_start(
        self, call: Call, decision: RouteDecision, config: GatewayConfig
    ) -> None:
        if decision.registered_device:
            user = _user_of(decision.destination)
            targets = []
            for binding in self.registrar.bindings(user):
                try:
                    contact = parse_uri(binding.contact)
                except UriError:
                    continue
                targets.append(
                    Target(
                        transport=binding.transport,
                        host=binding.source[0],
                        port=binding.source[1],
                        tls_name=contact.host_lower,
                    )
                )
            if not targets:
                self._reject(call, 480, "Device Not Registered", cdr.CALL_REJECTED)
                return
            call.start(targets)
            return
        if decision.proxy:
            proxy = config.proxy(decision.proxy)
            if proxy is None:
                self._reject(
                    call,
                    500,
                    "Unknown SIP Proxy",
                    cdr.FAILED,
                    detail=f"rule {decision.rule}: unknown proxy {decision.proxy}",
                )
                return
            uri = SipUri(
                host=proxy.address, port=proxy.port, params=(("transport", proxy.transport),)
            )
        else:
            try:
                uri = parse_uri(decision.destination)
            except UriError:
                self._reject(call, 404, "Unusable Destination", cdr.NO_ROUTE)
                return
        try:
            cached = self.resolver.cached(uri)
        except DnsFailure as exc:
            self._dns_failed(call, exc)
            return
        if cached is not None:
            call.start(list(cached))
            return
        self.record(call.detail)  # live while DNS answers
        task = asyncio.get_running_loop().create_task(self._resolve(call, uri))
        task.add_done_callback(_log_task)

    async def _resolve(self, call: Call, uri: SipUri) -> None:
        try:
            targets = await self.resolver.resolve(uri)
        except DnsFailure as exc:
            self._dns_failed(call, exc)
            return
        if call.cancelled:
            call.done = True
            self._reply(call.st, 487)
            call.end(cause=cdr.CANCELLED, code=487)
            return
        call.start(list(targets))

    def _dns_failed(self, call: Call, exc: DnsFailure) -> None:
        log.info("%s: DNS: %s", call.call_id, exc)
        if exc.not_found:
            self._reject(call, 404, "Domain Not Found", cdr.DNS_FAILURE, detail=str(exc))
        else:
            self._reject(
                call,
                503,
                "DNS Failure",
                cdr.DNS_FAILURE,
                detail=str(exc),
                headers=(("Retry-After", "5"),),
            )

    # --- building requests and responses -----------------------------------------------------
    def _branch(self, request: Request) -> str:
        return f"{BRANCH_PREFIX}{self._loop_hash(request)}.{next(self._counter):x}"

    def _via(self, transport: str, target_host: str, branch: str) -> str:
        host, port = self.transport.local_host(transport, target_host)
        return f"SIP/2.0/{transport.upper()} {render_host(host)}:{port};branch={branch};rport"

    def _rr(self, transport: str, toward: str, token: str) -> str:
        host, port = self.transport.local_host(transport, toward)
        return f"<sip:{render_host(host)}:{port};transport={transport};lr;{PARAM}={token}>"

    def outbound_invite(self, call: Call, target: Target) -> tuple[Request, Target]:
        """The initial INVITE as forwarded to ``target`` (§16.6 steps 1–8)."""
        decision = call.decision
        assert decision is not None
        req = call.request.with_uri(decision.destination)
        mf = req.max_forwards
        req = req.set("Max-Forwards", str((mf if mf is not None else 70) - 1))
        if call.display:
            req = req.set("From", str(req.from_.with_display(call.display)))
        if not decision.trusted:
            # RFC 3325 §5: identity assertions only travel inside the trust domain; a rule's
            # treat_as_trusted puts its destination inside it
            req = req.remove("P-Asserted-Identity").remove("P-Preferred-Identity")
        if call.offer_body is not None:
            req = req.with_body(call.offer_body)  # rewritten by rtpengine (media: relay)
        if req.body and req.content_type == "application/sdp":
            req = req.with_body(cap_bandwidth(req.body, self.config().settings.max_outbound_kbps))
        out = self._stamp(req, call, target)
        if target.transport == "udp" and len(out.to_bytes()) > UDP_MAX_REQUEST:
            target = replace(target, transport="tcp")  # §18.1.1: too big for UDP
            out = self._stamp(req, call, target)
        return out, target

    def _stamp(self, req: Request, call: Call, target: Target) -> Request:
        """Add Record-Route (two when the legs differ, RFC 5658) and our Via."""
        token = dialog_token(self._dialog_key, call.call_id, call.caller_tag)
        inbound = self._rr(call.received.transport, call.received.remote[0], token)
        outbound = self._rr(target.transport, target.host, token)
        req = req.prepend("Record-Route", inbound)
        if outbound != inbound:
            req = req.prepend("Record-Route", outbound)
        return req.prepend(
            "Via", self._via(target.transport, target.host, self._branch(call.request))
        )

    def upstream(self, response: Response, call: Call | None) -> Response:
        """A downstream response as forwarded upstream: our Via removed, SDP capped."""
        out = response.remove_first_value("Via")
        if call is not None and out.body and out.content_type == "application/sdp":
            out = out.with_body(cap_bandwidth(out.body, self.config().settings.max_outbound_kbps))
        return out

    def send_cancel(self, ct: ClientTransaction) -> None:
        """CANCEL a pending client transaction (§9.1): same branch, Route, CSeq number."""
        req = ct.request
        headers: list[tuple[str, str]] = [("Via", req.first_value("Via") or "")]
        for key, value in req.headers:
            if key in ("From", "To", "Call-ID", "Route", "Max-Forwards"):
                headers.append((key, value))
        headers.append(("CSeq", f"{req.cseq.number} CANCEL"))
        cancel = Request(method="CANCEL", uri=req.uri, headers=tuple(headers))
        self.transactions.start_client(cancel, ct.target, lambda _c, _r: None, lambda _c, _r: None)

    def end_far_leg(self, call: Call, why: str) -> None:
        """ACK and BYE a 2xx the gateway refuses (its media cannot be relayed)."""
        if call.out is None or call.answer is None:
            return
        ack = ack_toward_callee(call.out, call.answer, self.is_ours)
        target = None if ack is None else self._next_hop_target(ack, call, toward_caller=False)
        if ack is not None and target is not None:
            self._send_ack(ack, target)
        code, _, text = why.partition(" ")
        self.send_teardown(call, reason=f'SIP;cause={code};text="{text}"')

    def send_teardown(self, call: Call, *, reason: str = "") -> None:
        """BYE the far end of a call whose caller never ACKed the 2xx (§13.3.1.4)."""
        if call.out is None or call.answer is None:
            return
        if reason:
            bye = bye_toward_callee(call.out, call.answer, self.is_ours, reason=reason)
        else:
            bye = bye_toward_callee(call.out, call.answer, self.is_ours)
        if bye is None:
            log.info("%s: the 2xx has no usable Contact: no BYE sent", call.call_id)
            return
        target = self._next_hop_target(bye, call, toward_caller=False)
        if target is None:
            task = asyncio.get_running_loop().create_task(self._teardown_async(bye, call))
            task.add_done_callback(_log_task)
            return
        self._send_teardown(bye, target, call)

    async def _teardown_async(self, bye: Request, call: Call) -> None:
        try:
            targets = await self.resolver.resolve(self._next_hop_uri(bye))
        except (DnsFailure, UriError) as exc:
            log.info("%s: BYE not sent: %s", call.call_id, exc)
            return
        self._send_teardown(bye, targets[0], call)

    def _send_teardown(self, bye: Request, target: Target, call: Call) -> None:
        if self._elsewhere(bye, call, target, from_caller=True):
            return
        out = bye.prepend("Via", self._via(target.transport, target.host, self._branch(bye)))
        self.transactions.start_client(out, target, lambda _c, _r: None, lambda _c, _r: None)

    # --- CANCEL (§16.10) ---------------------------------------------------------------------
    def _cancel(self, cancel: Request, st: ServerTransaction) -> None:
        invite_st = self.transactions.find_invite_server(cancel)
        target = self._by_st.get(invite_st) if invite_st is not None else None
        if invite_st is None or target is None:
            self._reply_stateless(st, 481)
            return
        st.respond(make_response(cancel, 200, to_tag=None))
        log.info("%s: CANCEL from upstream", cancel.call_id)
        target.cancel()
        if isinstance(target, Call) and target.ct is None and not target.done:
            # still resolving: the resolver task answers 487 when it finishes
            return

    # --- in-dialog requests ------------------------------------------------------------------
    def _find_call(self, request: Request, tokens: tuple[str, ...]) -> Call | None:
        """The call of a request's dialog whose own token the request carries (two callers
        may share a Call-ID: one's token must not open the other's dialog)."""
        calls = self._calls.get(request.call_id)
        if not calls:
            return None
        tags = {request.from_.tag or "", request.to.tag or ""}
        key = self._dialog_key
        for call in reversed(calls):
            mine = (call.caller_tag,)
            if call.caller_tag in tags and all(
                token_valid(key, call.call_id, mine, t) for t in tokens
            ):
                return call
        return None

    def _from_callee_side(self, call: Call, received: Received) -> bool:
        """Whether a request came from the callee's side of ``call`` (its targets, its route
        set, the address we sent the INVITE to): only those may send toward the caller, whose
        route set and Contact the caller chose itself."""
        hosts = set(call.path.callee_hosts())
        if call.target is not None:
            hosts.add(call.target.host)
        return any(same_address(received.remote[0], host) for host in hosts)

    def _in_dialog(
        self, request: Request, received: Received, st: ServerTransaction, tokens: tuple[str, ...]
    ) -> None:
        problem = self._dialog_check(request, tokens)
        call = self._find_call(request, tokens) if problem is None else None
        if call is None:
            status, reason = problem or (481, "Call/Transaction Does Not Exist")
            log.info(
                "%s: %s from %s refused: %d %s",
                request.call_id,
                request.method,
                received.remote[0],
                status,
                reason,
            )
            self._reply_stateless(st, status, reason)
            return
        from_caller = (request.from_.tag or "") == call.caller_tag
        refusal = self._path_refusal(request, call, from_caller)
        if not from_caller and not self._from_callee_side(call, received):
            refusal = "in the callee's name, not from the callee's side"
        if refusal is not None:
            log.info(
                "%s: %s from %s refused: %s",
                request.call_id,
                request.method,
                received.remote[0],
                refusal,
            )
            self._reply_stateless(st, 403, "Not Along The Dialog's Route")
            return
        if from_caller:
            call.path = call.path.with_target(request.get("Contact"), caller=True)
        else:
            call.path = call.path.with_target(request.get("Contact"), caller=False)
        target = self._next_hop_target(request, call, toward_caller=not from_caller)
        if target is None:
            task = asyncio.get_running_loop().create_task(
                self._in_dialog_async(request, received, st, call, from_caller)
            )
            task.add_done_callback(_log_task)
            return
        self._forward_in_dialog(request, st, call, target, from_caller)

    async def _in_dialog_async(
        self,
        request: Request,
        received: Received,
        st: ServerTransaction,
        call: Call,
        from_caller: bool,
    ) -> None:
        uri = self._next_hop_uri(request)
        try:
            targets = await self.resolver.resolve(uri)
        except (DnsFailure, UriError) as exc:
            log.info("%s: cannot resolve the next hop: %s", request.call_id, exc)
            self._reply(st, 404 if isinstance(exc, DnsFailure) and exc.not_found else 503)
            return
        self._forward_in_dialog(request, st, call, targets[0], from_caller)

    def _path_refusal(self, request: Request, call: Call, from_caller: bool) -> str | None:
        """Why an in-dialog request leaves the dialog's path (``guestjoin.dialog_path``)."""
        uri: str | None = request.uri
        if not from_caller and request.get("Route") is None:
            flow = call.flow
            conn = call.connection
            if flow.transport == "udp" or (conn is not None and conn.alive):
                uri = None  # it goes back over the caller's own flow
        return call.path.refusal(
            toward_caller=not from_caller, routes=request.values("Route"), uri=uri
        )

    def _next_hop_uri(self, request: Request) -> SipUri:
        top = request.first_value("Route")
        if top is not None:
            return parse_uri(parse_name_addr(top).uri)
        return request.sip_uri()

    def _next_hop_target(self, request: Request, call: Call, toward_caller: bool) -> Target | None:
        """The next hop when it is known without DNS (the caller's flow, the far end)."""
        if toward_caller and request.get("Route") is None:
            flow = call.flow
            conn = call.connection
            if flow.transport == "udp" or (conn is not None and conn.alive):
                return Target(transport=flow.transport, host=flow.host, port=flow.port)
        try:
            uri = self._next_hop_uri(request)
        except UriError:
            return None
        far = call.target
        if far is not None and not toward_caller:
            port = uri.port or (5061 if far.transport == "tls" else 5060)
            if host_of(uri.host) == far.host and port == far.port:
                return far
        try:
            cached = self.resolver.cached(uri)
        except DnsFailure:
            return None
        return cached[0] if cached else None

    def _elsewhere(self, request: Request, call: Call, target: Target, from_caller: bool) -> bool:
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

    def _forward_in_dialog(
        self, request: Request, st: ServerTransaction, call: Call, target: Target, from_caller: bool
    ) -> None:
        media = call.media
        if media is not None and request.method in ("INVITE", "UPDATE") and has_sdp(request):
            self.spawn(
                self._media_in_dialog(
                    media, request=request, st=st, call=call, target=target, caller=from_caller
                )
            )
            return
        self._forward_in_dialog_now(request, st, call, target, from_caller)

    async def _media_in_dialog(
        self,
        media: CallMedia,
        *,
        request: Request,
        st: ServerTransaction,
        call: Call,
        target: Target,
        caller: bool,
    ) -> None:
        """A re-INVITE's or UPDATE's offer through rtpengine, then onward."""
        try:
            async with media.lock:
                body = await media.body(
                    side="inside" if caller else "outside",
                    tag=request.from_.tag or "",
                    body=request.body,
                )
        except (RelayUnavailable, NgError, EncryptionRefused) as exc:
            log.warning("%s: %s offer not relayed: %s", call.call_id, request.method, exc)
            self._reply(st, 503, "Media Relay Unavailable", (("Retry-After", "5"),))
            return
        self._forward_in_dialog_now(request.with_body(body), st, call, target, caller)

    def _forward_in_dialog_now(
        self, request: Request, st: ServerTransaction, call: Call, target: Target, from_caller: bool
    ) -> None:
        if self._elsewhere(request, call, target, from_caller):
            self._reply_stateless(st, 403, "Not Along The Dialog's Route")
            return
        mf = request.max_forwards
        out = request.set("Max-Forwards", str((mf if mf is not None else 70) - 1))
        if out.body and out.content_type == "application/sdp":
            out = out.with_body(cap_bandwidth(out.body, self.config().settings.max_outbound_kbps))
        out = out.prepend("Via", self._via(target.transport, target.host, self._branch(request)))
        forward = InDialog(self, st, call, from_caller=from_caller)
        self._by_st[st] = forward
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

    def _forward_ack(self, ack: Request, received: Received) -> None:
        """An ACK for a 2xx is end-to-end: forward it statelessly along the route (§16.11)."""
        if self._validate(ack) is not None:
            return
        ack, tokens = self._preprocess_route(ack)
        problem = self._dialog_check(ack, tokens)
        call = self._find_call(ack, tokens) if problem is None else None
        if call is None:
            # also every ACK for a stateless refusal: debug, not info
            log.debug("%s: ACK from %s dropped: %s", ack.call_id, received.remote[0], problem)
            return
        from_caller = (ack.from_.tag or "") == call.caller_tag
        refusal = self._path_refusal(ack, call, from_caller)
        if not from_caller and not self._from_callee_side(call, received):
            refusal = "in the callee's name, not from the callee's side"
        if refusal is not None:
            log.info("%s: ACK from %s dropped: %s", ack.call_id, received.remote[0], refusal)
            return
        if from_caller:
            call.acked()
        if call.media is not None and has_sdp(ack):  # the answer to a late offer
            self.spawn(self._media_ack(call.media, ack, call, from_caller))
            return
        self._ack_onward(ack, call, from_caller)

    async def _media_ack(
        self, media: CallMedia, ack: Request, call: Call, from_caller: bool
    ) -> None:
        try:
            async with media.lock:
                body = await media.body(
                    side="inside" if from_caller else "outside",
                    tag=ack.from_.tag or "",
                    body=ack.body,
                )
                media.settle()
            ack = ack.with_body(body)
        except (RelayUnavailable, NgError, EncryptionRefused) as exc:
            log.warning("%s: ACK answer not relayed: %s", call.call_id, exc)
        self._ack_onward(ack, call, from_caller)

    def _ack_onward(self, ack: Request, call: Call, from_caller: bool) -> None:
        target = self._next_hop_target(ack, call, toward_caller=not from_caller)
        if target is None:
            task = asyncio.get_running_loop().create_task(self._ack_async(ack, call, from_caller))
            task.add_done_callback(_log_task)
            return
        if not self._elsewhere(ack, call, target, from_caller):
            self._send_ack(ack, target)

    async def _ack_async(self, ack: Request, call: Call, from_caller: bool) -> None:
        try:
            targets = await self.resolver.resolve(self._next_hop_uri(ack))
        except (DnsFailure, UriError) as exc:
            log.info("%s: ACK not forwarded: %s", ack.call_id, exc)
            return
        if not self._elsewhere(ack, call, targets[0], from_caller):
            self._send_ack(ack, targets[0])

    def _send_ack(self, ack: Request, target: Target) -> None:
        mf = ack.max_forwards
        out = ack.set("Max-Forwards", str((mf if mf is not None else 70) - 1))
        if out.body and out.content_type == "application/sdp":
            out = out.with_body(cap_bandwidth(out.body, self.config().settings.max_outbound_kbps))
        out = out.prepend("Via", self._via(target.transport, target.host, self._branch(ack)))
        data = out.to_bytes()
        if target.transport == "udp":
            try:
                self.transport.send_datagram(data, target.host, target.port)
            except TransportError as exc:
                log.info("%s: ACK not forwarded: %s", ack.call_id, exc)
            return
        task = asyncio.get_running_loop().create_task(self.transport.send(data, target))
        task.add_done_callback(_log_task)


def _uri_of(value: str) -> str | None:
    try:
        uri = parse_name_addr(value).uri
        parse_uri(uri)
    except UriError:
        return None
    return uri


def _drop_last_route(request: Request) -> Request:
    routes = request.values("Route")
    request = request.remove("Route")
    for value in routes[:-1]:
        request = request.append("Route", value)
    return request


def _user_of(uri: str) -> str:
    try:
        return parse_uri(uri).user or ""
    except UriError:
        return ""


def _log_task(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("proxy task failed", exc_info=task.exception())
