"""The dial plan: will the aliases the meeting processing rules produce be routed by the gateway?

``check_dial_plan`` renders each enabled meeting processing rule (``route_check`` true) on its
meeting type's sample invitations (``otj.config.samples``) and routes each SIP alias through the
call routing rules exactly as the gateway does for an incoming SIP call
(``guestjoin.routing.route_call``: full match, case-insensitive, by priority). A sample alias no
enabled rule routes would be a ``404 No Matching Call Routing Rule`` for every such meeting.
Pure: the rules and the clock come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guestjoin.routing import CallContext, Protocol, RoutingResult, route_call
from otj.config.samples import sample_domain, samples_for
from otj.config.yamlsrc import Located, Problem
from otj.model import CallProtocol, CallRoutingRule, MeetingRule, Profile
from otj.store.values import Configuration

NO_ROUTE = "no call routing rule matches it"
SECTION = "meeting_processing_rules"


@dataclass(frozen=True, kw_only=True, slots=True)
class SampleRoute:
    """One meeting rule's alias on one sample invitation, and how the gateway would route it."""

    rule: str
    sample: str
    alias: str
    routing: RoutingResult

    @property
    def routed_by(self) -> str | None:
        """The call routing rule that matches the alias, or None (the call would be a 404)."""
        decision = self.routing.decision
        return decision.rule if decision is not None else None


def sip_uri(alias: str) -> str:
    """The URI a room dials for an alias (``sip:`` unless it has a SIP scheme already)."""
    text = alias.strip()
    return text if text.lower().startswith(("sip:", "sips:")) else f"sip:{text}"


def route_alias(
    alias: str,
    routing_rules: Sequence[CallRoutingRule],
    *,
    registered: bool = True,
    source: str | None = None,
    protocol: Protocol = "sip",
) -> RoutingResult:
    """Route an alias as an incoming call (SIP by default; a registered room from anywhere by
    default: the widest case; ``source`` checks the rules' ``match_source`` too)."""
    context = CallContext(
        uri=sip_uri(alias), registered=registered, source=source, protocol=protocol
    )
    return route_call(routing_rules, context)


def sample_routes(
    meeting_rules: Iterable[MeetingRule],
    routing_rules: Sequence[CallRoutingRule],
    *,
    now: datetime,
) -> tuple[SampleRoute, ...]:
    """Each checked rule's distinct SIP aliases on its samples, with their routing."""
    from otj.rules import RuleSet

    profile = Profile(name="dial plan check")
    found: list[SampleRoute] = []
    for rule in meeting_rules:
        if not rule.enabled or not rule.route_check:
            continue
        ruleset = RuleSet.compile([rule])
        seen: set[str] = set()
        for sample in samples_for(rule):
            event = sample.event(domain=sample_domain(rule), now=now)
            meeting = ruleset.process(event, profile, now=now)
            if meeting.rule != rule.name or not meeting.alias:
                continue  # the rule does not apply to this sample (or the fallback answered)
            if meeting.protocol != CallProtocol.SIP or meeting.alias.lower() in seen:
                continue  # H.323 aliases are dialled directly, never through the gateway
            seen.add(meeting.alias.lower())
            found.append(
                SampleRoute(
                    rule=rule.name,
                    sample=sample.name,
                    alias=meeting.alias,
                    routing=route_alias(meeting.alias, routing_rules),
                )
            )
    return tuple(found)


def final_section(
    section: str, desired: Configuration, existing: Configuration, prune: bool
) -> tuple[Any, ...]:
    """A list section as the store would hold it after the apply."""
    stored = {value.name: value for value in getattr(existing, section)}
    if section not in desired.sections:
        return tuple(stored.values())
    wanted = {value.name: value for value in getattr(desired, section)}
    return tuple((wanted if prune else {**stored, **wanted}).values())


def dial_plan_problems(
    located: Located,
    desired: Configuration,
    *,
    existing: Configuration,
    prune: bool,
    now: datetime,
    strict: bool = False,
) -> list[Problem]:
    """One warning (an error when ``strict``) per sample alias no call routing rule routes.

    Nothing is checked when no call routing rule exists at all (the gateway is not used).
    """
    routing = final_section("call_routing_rules", desired, existing, prune)
    if not routing:
        return []
    rules = final_section(SECTION, desired, existing, prune)
    index = _file_positions(located.data)
    unrouted: dict[str, list[SampleRoute]] = {}
    for found in sample_routes(rules, routing, now=now):
        if found.routed_by is None:
            unrouted.setdefault(found.rule, []).append(found)
    problems: list[Problem] = []
    for rule, missed in unrouted.items():
        first = missed[0]
        position = index.get(rule)
        where = (SECTION,) if position is None else (SECTION, position)
        stored = "" if position is not None else " (stored, not in this file)"
        more = f", nor the alias of {len(missed) - 1} other sample(s)" if len(missed) > 1 else ""
        message = (
            f"meeting processing rule {rule!r}{stored} gives {first.alias!r} on its sample "
            f"invitation ({first.sample}): {NO_ROUTE}{more} (set route_check: false if the "
            "gateway is not meant to carry these calls)"
        )
        problems.append(located.problem(where, message, warning=not strict))
    return problems


def _file_positions(data: Any) -> Mapping[str, int]:
    """Meeting rule name → its index in the file's list."""
    items = data.get(SECTION) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return {}
    return {
        str(item["name"]).strip(): number
        for number, item in enumerate(items)
        if isinstance(item, dict) and "name" in item
    }
