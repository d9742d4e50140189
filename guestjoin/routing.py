"""PURE call routing rules with Pexip's fields (DESIGN.md §8): no I/O, no clock.

Enabled rules are tried by ascending priority (ties by name). A rule matches when the call's
direction, protocol and registration fit and its ``match_string`` matches the WHOLE alias,
case-insensitively in ASCII only (``İ``, ``ı`` and the KELVIN SIGN never fold onto ``i`` and
``k``): the alias without scheme and URI parameters (``abc-defg-hij@google.pexip.me``) or, with
``match_string_full``, the full URI as dialled. An alias with any non-ASCII character is never
routed (look-alike hosts). Regexes run with a time limit (the ``regex`` module's ``timeout``); a
rule that times out counts as not matching. No matching rule means no route: the gateway
answers 404 and is never an open relay.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import regex

from otj.model import CallRoutingRule, SipProxy

Protocol = Literal["sip", "h323", "webrtc"]
Direction = Literal["incoming", "outgoing"]

DEFAULT_TIMEOUT = 0.05  # seconds per regex evaluation
#: ASCII-only case folding: Unicode folding makes ``İ``/``ı``/KELVIN SIGN match ``i``/``k``
FLAGS = regex.IGNORECASE | regex.ASCII | regex.VERSION0


@dataclass(frozen=True, kw_only=True, slots=True)
class CallContext:
    """What the routing rules look at for one call."""

    uri: str
    protocol: Protocol = "sip"
    direction: Direction = "incoming"
    registered: bool = False
    # the caller's IP address; None: not known (what-if checks), so match_source is not checked
    source: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteDecision:
    """The rule that matched, the destination URI it produced and where to send it."""

    rule: str
    destination: str
    alias: str
    proxy: str | None = None
    registered_device: bool = False
    trusted: bool = False
    credentials: str | None = None  # sip_credentials answering the far end's challenges


@dataclass(frozen=True, kw_only=True, slots=True)
class RoutingResult:
    """The decision (None = no route) and one trace line per rule considered."""

    decision: RouteDecision | None
    trace: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """A configuration problem found when the rules are saved."""

    rule: str
    field: str
    message: str


def alias_of(uri: str) -> str:
    """The alias: the URI without scheme and parameters (``sip:a@b;x=y`` → ``a@b``)."""
    text = uri.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() in ("sip", "sips", "h323", "tel"):
        text = rest
    text = text.partition("?")[0]
    at = text.rfind("@")
    if at >= 0:
        user, host = text[:at], text[at + 1 :]
        return f"{user}@{host.partition(';')[0]}"
    return text.partition(";")[0]


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, flags=FLAGS)


_GROUP_REF = re.compile(r"\\(?:(\d{1,2})|g<([^>]*)>)")


def _expand(match: regex.Match[str], template: str) -> str:
    """Expand ``\\1``/``\\g<name>`` in ``replace_string`` (unknown groups expand to '')."""

    def group(ref: re.Match[str]) -> str:
        key: int | str = int(ref.group(1)) if ref.group(1) is not None else ref.group(2)
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        try:
            return match.group(key) or ""
        except (IndexError, regex.error):
            return ""

    return _GROUP_REF.sub(group, template)


def _eligible(rule: CallRoutingRule, ctx: CallContext) -> str | None:
    """Why the rule cannot apply to this call, or None when it can."""
    if not rule.enabled:
        return "disabled"
    if ctx.direction == "incoming" and not rule.match_incoming_calls:
        return "does not match incoming calls"
    if ctx.direction == "outgoing" and not rule.match_outgoing_calls:
        return "does not match outgoing calls"
    allowed = {
        "sip": rule.match_incoming_sip,
        "h323": rule.match_incoming_h323,
        "webrtc": rule.match_incoming_webrtc,
    }
    if not allowed[ctx.protocol]:
        return f"does not match {ctx.protocol} calls"
    if rule.match_incoming_only_if_registered and not ctx.registered:
        return "caller is not registered"
    if rule.outgoing_protocol != "sip":
        return "outgoing protocol is not SIP"
    if not rule.match_string:
        return "empty match string"
    if (
        rule.match_source
        and ctx.source is not None
        and not _from_networks(ctx.source, rule.match_source)
    ):
        return f"source {ctx.source or 'unknown'} is not in {', '.join(rule.match_source)}"
    return None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=256)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """Parsed ``match_source`` (entries that do not parse match nothing; saving refuses them)."""
    out: list[Network] = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            continue
    return tuple(out)


def _from_networks(source: str, cidrs: tuple[str, ...]) -> bool:
    """Whether ``source`` (an IP address, IPv4-mapped IPv6 unwrapped) is in one of ``cidrs``."""
    try:
        address = ipaddress.ip_address(source.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in _networks(cidrs))


def sorted_rules(rules: Iterable[CallRoutingRule]) -> list[CallRoutingRule]:
    """Rules in evaluation order: ascending priority, ties by name."""
    return sorted(rules, key=lambda r: (r.priority, r.name))


def route_call(
    rules: Sequence[CallRoutingRule], ctx: CallContext, *, timeout: float = DEFAULT_TIMEOUT
) -> RoutingResult:
    """Find the first matching rule and compute the destination (first match wins)."""
    alias = alias_of(ctx.uri)
    if not ctx.uri.isascii():
        return RoutingResult(
            decision=None,
            trace=(f"non-ASCII characters in {ctx.uri!r}: never routed (look-alike host)",),
        )
    trace: list[str] = []
    for rule in sorted_rules(rules):
        why = _eligible(rule, ctx)
        if why is not None:
            trace.append(f"{rule.name}: {why}")
            continue
        subject = ctx.uri.strip() if rule.match_string_full else alias
        try:
            pattern = _compile(rule.match_string)
            match = pattern.fullmatch(subject, timeout=timeout)
        except regex.error as exc:
            trace.append(f"{rule.name}: invalid regex: {exc}")
            continue
        except TimeoutError:
            trace.append(f"{rule.name}: regex timed out")
            continue
        if match is None:
            trace.append(f"{rule.name}: no match for {subject!r}")
            continue
        routed = _expand(match, rule.replace_string).strip() if rule.replace_string else subject
        destination = destination_uri(routed, original=ctx.uri)
        if destination is None:
            trace.append(f"{rule.name}: replace produced an unusable alias {routed!r}")
            continue
        trace.append(f"{rule.name}: matched → {destination}")
        registered = rule.called_device_type == "registered"
        return RoutingResult(
            decision=RouteDecision(
                rule=rule.name,
                destination=destination,
                alias=alias_of(destination),
                proxy=None if rule.sip_proxy in ("", "dns") or registered else rule.sip_proxy,
                registered_device=registered,
                trusted=rule.treat_as_trusted,
                credentials=rule.outbound_credentials or None,
            ),
            trace=tuple(trace),
        )
    return RoutingResult(decision=None, trace=tuple(trace))


_BAD_URI_CHARS = frozenset(' \t\r\n<>"')


def destination_uri(routed: str, *, original: str) -> str | None:
    """Turn a routed alias into a SIP URI (keeping ``sips`` when the caller used it)."""
    text = routed.strip()
    if not text or any(c in _BAD_URI_CHARS for c in text):
        return None
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() in ("sip", "sips"):
        body = rest
        scheme = scheme.lower()
    else:
        body = text
        scheme = "sips" if original.strip().lower().startswith("sips:") else "sip"
    host = body.rpartition("@")[2].partition(";")[0]
    if not host or host.startswith(":"):
        return None
    return f"{scheme}:{body}"


def validate_call_routing_rules(
    rules: Sequence[CallRoutingRule], proxies: Sequence[SipProxy] | None = None
) -> list[Problem]:
    """Check rules when they are saved: regexes compile, group references exist, names resolve."""
    problems: list[Problem] = []
    names: set[str] = set()
    proxy_names = {p.name for p in proxies} if proxies is not None else None
    for rule in rules:
        if rule.name in names:
            problems.append(Problem(rule=rule.name, field="name", message="duplicate name"))
        names.add(rule.name)
        if not 1 <= rule.priority <= 200:
            problems.append(
                Problem(rule=rule.name, field="priority", message="must be between 1 and 200")
            )
        for cidr in rule.match_source:
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                problems.append(
                    Problem(
                        rule=rule.name,
                        field="match_source",
                        message=f"{cidr!r} is not an IP network (e.g. 192.0.2.0/24)",
                    )
                )
        if not rule.match_string:
            problems.append(
                Problem(rule=rule.name, field="match_string", message="must not be empty")
            )
            continue
        try:
            pattern = regex.compile(rule.match_string, flags=FLAGS)
        except regex.error as exc:
            problems.append(
                Problem(rule=rule.name, field="match_string", message=f"invalid regex: {exc}")
            )
            continue
        for ref in _GROUP_REF.finditer(rule.replace_string):
            number, name = ref.group(1), ref.group(2)
            if number is not None and int(number) > pattern.groups:
                problems.append(
                    Problem(
                        rule=rule.name,
                        field="replace_string",
                        message=f"refers to group {number} but the regex has {pattern.groups}",
                    )
                )
            elif name is not None and not name.isdigit() and name not in pattern.groupindex:
                problems.append(
                    Problem(
                        rule=rule.name, field="replace_string", message=f"unknown group {name!r}"
                    )
                )
        if rule.outgoing_protocol != "sip":
            problems.append(
                Problem(
                    rule=rule.name,
                    field="outgoing_protocol",
                    message="the bundled gateway places SIP calls only",
                )
            )
        if (
            proxy_names is not None
            and rule.sip_proxy not in ("", "dns")
            and rule.sip_proxy not in proxy_names
        ):
            problems.append(
                Problem(
                    rule=rule.name,
                    field="sip_proxy",
                    message=f"unknown SIP proxy {rule.sip_proxy!r}",
                )
            )
    return problems
