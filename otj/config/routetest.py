"""What the gateway would do with one call, without sending anything (``otj route test``).

``explain_route`` runs the gateway's own decisions in its order (``guestjoin.proxy``): the
source address against ``gateway.allowed_sources`` (403 when outside), the caller's endpoint,
a Virtual Reception whose alias the call dialled (answered before any rule), then the call
routing rules (``guestjoin.routing.route_call``, first full match by priority)
and the target: DNS (RFC 3263 for the destination's host), a configured SIP proxy, or a
registered device's contacts. Licences, DNS answers and the far end are not consulted. Pure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Literal

from guestjoin.config import GatewayConfig
from guestjoin.reception.aliases import find_reception
from guestjoin.routing import Protocol, RouteDecision, alias_of, sorted_rules
from otj.config.dialplan import route_alias, sip_uri
from otj.model import Endpoint

Outcome = Literal["matched", "no_match", "skipped", "not_tried"]
TargetKind = Literal["dns", "proxy", "registered", "reception", "none"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleStep:
    """One call routing rule's verdict on the call."""

    rule: str
    priority: int
    outcome: Outcome
    detail: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteReport:
    """The gateway's decisions for one call, with one step per call routing rule."""

    uri: str
    alias: str
    registered: bool
    source: str = ""
    admitted: bool | None = None
    admission: str = ""
    caller: str = ""
    rule: str | None = None
    destination: str | None = None
    routed_alias: str | None = None
    reception: str = ""
    target_kind: TargetKind = "none"
    target: str = ""
    steps: tuple[RuleStep, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def routed(self) -> bool:
        """True when the call would be admitted and sent somewhere."""
        return self.admitted is not False and self.destination is not None


def explain_route(
    alias: str,
    config: GatewayConfig,
    *,
    from_uri: str = "",
    source: str = "",
    registered: bool = False,
    protocol: Protocol = "sip",
) -> RouteReport:
    """Route ``alias`` (or a SIP URI) as an incoming call (SIP unless ``protocol`` says
    otherwise: the rules' ``match_incoming_*`` flags decide); ``ValueError`` for a bad source."""
    uri = sip_uri(alias)
    admitted, admission = _admission(config, source)
    endpoint, notes = _caller(config, from_uri=from_uri, source=source, registered=registered)
    report = RouteReport(
        uri=uri,
        alias=alias_of(uri),
        registered=registered,
        source=source,
        admitted=admitted,
        admission=admission,
        caller=endpoint.name if endpoint is not None else "",
        notes=notes,
    )
    reception = find_reception(config.receptions, uri) if protocol == "sip" else None
    if reception is not None:
        return _answered_by_reception(report, reception.name, config)
    result = route_alias(
        uri, config.rules, registered=registered, source=source or None, protocol=protocol
    )
    report = replace(report, steps=_steps(config, result.trace))
    decision = result.decision
    if decision is None:
        none = "none: the gateway answers 404 No Matching Call Routing Rule"
        if not config.rules:
            none = "none: no call routing rules are configured (404)"
        return replace(report, target=none)
    kind, target = _target(config, decision)
    if decision.credentials:
        answer = (
            f"a 401/407 from the far end is answered with sip_credentials {decision.credentials!r}"
        )
        report = replace(report, notes=(*report.notes, answer))
    return replace(
        report,
        rule=decision.rule,
        destination=decision.destination,
        routed_alias=decision.alias,
        target_kind=kind,
        target=target,
    )


def _caller(
    config: GatewayConfig, *, from_uri: str, source: str, registered: bool
) -> tuple[Endpoint | None, tuple[str, ...]]:
    """The endpoint the gateway would attribute the call to, and what the admin should know."""
    notes: list[str] = []
    user = alias_of(from_uri).rpartition("@")[0] if "@" in from_uri else ""
    endpoint = config.endpoint_by_username(user) if registered else None
    if registered and user and endpoint is None:
        notes.append(
            f"no endpoint has sip_username {user!r}: such a caller cannot register, so its "
            "calls are never registered ones"
        )
    if endpoint is None and source:
        endpoint = config.endpoint_by_address(source)
    return endpoint, tuple(notes)


def _answered_by_reception(
    report: RouteReport, reception: str, config: GatewayConfig
) -> RouteReport:
    """A Virtual Reception answers the alias before any call routing rule is tried."""
    answers = f"Virtual Reception {reception!r}"
    return replace(
        report,
        destination=report.uri,
        routed_alias=report.alias,
        reception=reception,
        target_kind="reception",
        target=f"{answers}: the gateway answers the call itself and routes the meeting ID "
        "the caller types (its id_rules)",
        steps=tuple(
            RuleStep(
                rule=rule.name,
                priority=rule.priority,
                outcome="not_tried",
                detail=f"not tried: {answers} answers this alias",
            )
            for rule in sorted_rules(config.rules)
        ),
    )


def _target(config: GatewayConfig, decision: RouteDecision) -> tuple[TargetKind, str]:
    """Where the rule's decision sends the call, as the report names it."""
    if decision.registered_device:
        device = decision.alias.rpartition("@")[0] or decision.alias
        return (
            "registered",
            f"the registered contacts of endpoint SIP user {device!r} (480 when none)",
        )
    if decision.proxy:
        proxy = config.proxy(decision.proxy)
        if proxy is None:
            return "proxy", f"unknown SIP proxy {decision.proxy!r} (the gateway answers 500)"
        return "proxy", (
            f"SIP proxy {proxy.name!r} at {proxy.address}:{proxy.port} over "
            f"{proxy.transport.upper()}"
        )
    host = decision.alias.rpartition("@")[2]
    tls = " (sips: TLS only)" if decision.destination.lower().startswith("sips:") else ""
    return "dns", f"DNS: RFC 3263 lookup of {host}{tls}"


def _admission(config: GatewayConfig, source: str) -> tuple[bool | None, str]:
    if not source:
        return None, "not checked (no --source)"
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        raise ValueError(f"--source: not an IP address: {source!r}") from None
    networks = config.allowed_networks()
    if not networks:
        return True, "allowed (gateway.allowed_sources is empty: any source)"
    inside = [str(net) for net in networks if address in net]
    if inside:
        return True, f"allowed (in {inside[0]})"
    return False, (
        f"refused: 403 Source Address Not Allowed ({source} is not in gateway.allowed_sources)"
    )


def _steps(config: GatewayConfig, trace: tuple[str, ...]) -> tuple[RuleStep, ...]:
    """One step per rule in evaluation order; the gateway's trace has one line per rule tried."""
    steps: list[RuleStep] = []
    for number, rule in enumerate(sorted_rules(config.rules)):
        if number >= len(trace):
            steps.append(
                RuleStep(
                    rule=rule.name,
                    priority=rule.priority,
                    outcome="not_tried",
                    detail="not tried: an earlier rule matched",
                )
            )
            continue
        line = trace[number]
        detail = line.removeprefix(f"{rule.name}: ")
        outcome: Outcome
        if detail.startswith("matched"):
            outcome = "matched"
        elif detail.startswith("no match"):
            outcome = "no_match"
        else:
            outcome = "skipped"
        steps.append(
            RuleStep(rule=rule.name, priority=rule.priority, outcome=outcome, detail=detail)
        )
    return tuple(steps)
