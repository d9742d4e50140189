"""An initial INVITE: admission, the routing decision and where it goes (RFC 3261 §16.5–16.6).

Order: source allow list (403), ASCII-only Request-URI (404, no look-alike hosts), the room and
the name shown for it (``guestjoin.attribution``), the call routing rules (404: never an open
relay; a rule's ``match_source`` sees the source address), the per-source share (503), the
licences (503). Every refusal is stateless (one response, no
100 Trying). An admitted call gets 100 Trying and its targets: the bindings of a registered
device, a configured SIP proxy, or the RFC 3263 resolution of the rule's destination.

Extension point, local answering: a ``LocalApplication`` in ``ProxyCore.applications`` that
decides on an alias itself (``decide``, before the call routing rules) or claims the route
decision gets the admitted ``Call`` instead of it being forwarded (a B2BUA-like endpoint such
as a virtual reception answering an alias). It answers through
``call.env.fx`` (``respond(call.server, …)``), must end the call with ``call.end(…)``
(licences and CDR), and sees the requests of its own dialogs first through ``in_dialog``.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Protocol

from guestjoin import cdr
from guestjoin.admission import source_key
from guestjoin.attribution import attribute
from guestjoin.cdr import CallRecord, conference_of, utc
from guestjoin.core.actions import DnsResult, Outbox, ServerRef
from guestjoin.core.branch import Call
from guestjoin.core.checks import source_allowed, user_of
from guestjoin.core.media import MediaAnchor
from guestjoin.routing import CallContext, RouteDecision, alias_of, route_call
from guestjoin.sip.message import Request
from guestjoin.sip.uri import SipUri, UriError, parse_uri
from guestjoin.values import Received, Target, render_host

if TYPE_CHECKING:
    from guestjoin.config import GatewayConfig
    from guestjoin.core.proxy import ProxyCore

log = logging.getLogger("guestjoin.proxy")


class LocalApplication(Protocol):
    """Something in this process that answers calls itself instead of forwarding them."""

    def decide(self, request: Request) -> RouteDecision | None:
        """A decision of its own for an alias no call routing rule needs to match (a Virtual
        Reception's alias), tried before the rules; None lets the rules decide."""

    def claims(self, decision: RouteDecision, request: Request) -> bool:
        """Whether this application answers a call routed by ``decision``."""

    def start(self, call: Call) -> None:
        """An admitted call (100 Trying sent, licences held) is now the application's."""

    def in_dialog(
        self, request: Request, received: Received, server: ServerRef | None, fx: Outbox
    ) -> bool:
        """A request with a To tag (``server`` None: an ACK); True when it belongs to one of
        the application's own dialogs and was handled (it must check Call-ID and tags)."""


def initial_invite(
    core: ProxyCore, request: Request, received: Received, server: ServerRef
) -> None:
    """Admission and routing first, answered statelessly when refused (no 100 Trying)."""
    config = core.config()
    from_addr = request.from_
    source = received.remote[0]
    detail = CallRecord(
        key=secrets.token_hex(8),
        call_id=request.call_id,
        caller_uri=from_addr.uri,
        caller_name=from_addr.display or "",
        source_address=f"{render_host(source)}:{received.remote[1]}",
        transport=received.transport,
        dialled_alias=alias_of(request.uri),
        invite_at=utc(core.wall()),
    )
    call = Call(core, server, request, received, detail)
    if not source_allowed(received, config):
        call.finish(403, "Source Address Not Allowed", cdr.FORBIDDEN, stateless=True)
        return
    if not request.uri.isascii():
        why = f"non-ASCII characters in {request.uri!r}: never routed (look-alike host)"
        call.finish(404, "Non-ASCII Request-URI Refused", cdr.NO_ROUTE, detail=why, stateless=True)
        return
    registered = _attribute_caller(core, config, call, source)
    decision = _decide(core, config, call, registered=registered, source=source)
    if decision is None or not _within_limits(core, config, call, source):
        return
    core.fx.respond(server, core.build.trying(request))
    core.track(call)
    for app in core.applications:
        if app.claims(decision, request):
            app.start(call)
            return
    start_call(core, call, decision)


def _attribute_caller(core: ProxyCore, config: GatewayConfig, call: Call, source: str) -> bool:
    """Who calls (registration, endpoint SIP identity, unique source address) and the display
    name the far end is shown; True when the caller is a registered room."""
    request = call.request
    username = user_of(request.from_.uri)
    binding = core.registrar.binding_for(username, source) if username else None
    who = attribute(
        config,
        from_uri=request.from_.uri,
        from_display=request.from_.display or "",
        source=source,
        registered_user=username if binding is not None else None,
        now=call.detail.invite_at,
    )
    call.display = who.display
    if who.endpoint is not None:
        call.stage(endpoint_name=who.endpoint.name, caller_name=who.display, attribution=who.how)
    return binding is not None


def _decide(
    core: ProxyCore, config: GatewayConfig, call: Call, *, registered: bool, source: str
) -> RouteDecision | None:
    """An application's decision (a Virtual Reception) or the call routing rules'; None when
    nothing routes the call (answered 404 here)."""
    request = call.request
    decision = next(
        (d for app in core.applications if (d := app.decide(request)) is not None), None
    )
    if decision is None:
        context = CallContext(uri=request.uri, registered=registered, source=source)
        result = route_call(config.rules, context)
        decision = result.decision
        if decision is None:
            alias = call.detail.dialled_alias
            log.info("%s: no call routing rule matches %s", request.call_id, alias)
            why = "; ".join(result.trace[-5:]) or "no call routing rules"
            call.finish(
                404, "No Matching Call Routing Rule", cdr.NO_ROUTE, detail=why, stateless=True
            )
            return None
    call.decision = decision
    rule = next((r for r in config.rules if r.name == decision.rule), None)
    if rule is not None and rule.media == "relay":
        call.media = MediaAnchor(
            # the engine's call-id is unique per call (two callers may share a Call-ID)
            call_id=f"{request.call_id}~{call.key}",
            room_tag=call.caller_tag,
            encryption=rule.outbound_media_encryption,
        )
    call.stage(
        rule=decision.rule, routed_alias=decision.alias, conference=conference_of(decision.alias)
    )
    return decision


def _within_limits(core: ProxyCore, config: GatewayConfig, call: Call, source: str) -> bool:
    """A call slot for the source (``max_calls_per_source``) and a licence; else 503 here."""
    retry = (("Retry-After", str(core.options.retry_after)),)
    limit = config.settings.max_calls_per_source
    if not core.sources.acquire(source_key(source), call.key, limit):
        why = f"{limit} calls in progress from {source_key(source)} (gateway.max_calls_per_source)"
        call.finish(
            503, "Too Many Calls From This Source", cdr.SOURCE_LIMIT,
            headers=retry, detail=why, stateless=True,
        )  # fmt: skip
        return False
    if not core.licences.acquire(call.key):
        call.finish(
            503, "Call Licence Limit Reached", cdr.LICENCE_LIMIT, headers=retry, stateless=True
        )
        return False
    return True


def start_call(core: ProxyCore, call: Call, decision: RouteDecision) -> None:
    """The call's targets: registered bindings, a configured proxy, or a DNS resolution."""
    if decision.registered_device:
        targets = []
        for binding in core.registrar.bindings(user_of(decision.destination)):
            try:
                contact = parse_uri(binding.contact)
            except UriError:
                continue
            host, port = binding.source
            targets.append(
                Target(
                    transport=binding.transport, host=host, port=port, tls_name=contact.host_lower
                )
            )
        if not targets:
            call.finish(480, "Device Not Registered", cdr.CALL_REJECTED)
            return
        call.start(targets)
        return
    if decision.proxy:
        proxy = core.config().proxy(decision.proxy)
        if proxy is None:
            why = f"rule {decision.rule}: unknown proxy {decision.proxy}"
            call.finish(500, "Unknown SIP Proxy", cdr.FAILED, detail=why)
            return
        uri = SipUri(host=proxy.address, port=proxy.port, params=(("transport", proxy.transport),))
    else:
        try:
            uri = parse_uri(decision.destination)
        except UriError:
            call.finish(404, "Unusable Destination", cdr.NO_ROUTE)
            return

    def resolved(result: DnsResult) -> None:
        if isinstance(result, Exception):
            dns_failed(call, result)
        elif call.cancelled:
            call.finish(487, None, cdr.CANCELLED)
        else:
            call.start(list(result))

    core.fx.resolve(uri, resolved, pending_record=call.detail)  # live while DNS answers


def dns_failed(call: Call, exc: Exception) -> None:
    """404 when the domain does not exist, else 503 with a short Retry-After."""
    log.info("%s: DNS: %s", call.call_id, exc)
    if getattr(exc, "not_found", False):
        call.finish(404, "Domain Not Found", cdr.DNS_FAILURE, detail=str(exc))
    else:
        retry = (("Retry-After", "5"),)
        call.finish(503, "DNS Failure", cdr.DNS_FAILURE, detail=str(exc), headers=retry)
