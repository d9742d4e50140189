"""Where an in-dialog request may go (PURE): the route sets and remote targets of its dialog.

A valid dialog token (``guestjoin.dialog_token``) proves that we record-routed the dialog, not
that a request goes where the dialog goes: a caller could send a re-INVITE in its own dialog
towards any host (the shape of toll fraud). So each call remembers, on each side of the
gateway, the route set (RFC 3261 §12.1: the Record-Route entries below ours came from the
caller's side, those above ours from the callee's) and the remote targets (the Contact of
the INVITE, of 1xx/2xx responses, and of later 2xx and of requests from the callee's known
addresses, §12.2: target refresh), and an in-dialog request is forwarded only along them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from guestjoin.sip.uri import SipUri, UriError, parse_name_addr, parse_uri

Hop = tuple[str, int]  # host (lower case, no IPv6 brackets) and port (the default filled in)


def hop_of(uri: SipUri) -> Hop:
    """The host and port a URI leads to (5061 for ``sips`` or TLS, else 5060, §19.1.2); its
    ``maddr`` when it has one, as the resolver goes there (RFC 3263 §4)."""
    default = 5061 if uri.secure or uri.transport == "tls" else 5060
    host = uri.maddr.strip("[]").lower() if uri.maddr else uri.host_lower
    return host, uri.port or default


def same_address(a: str, b: str) -> bool:
    """Whether two hosts are one address (an IPv4-mapped IPv6 address is its IPv4 address)."""

    def norm(host: str) -> str:
        try:
            ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return host.lower()
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip)

    return norm(a) == norm(b)


def hops(values: Iterable[str]) -> tuple[Hop, ...] | None:
    """The hops of Route/Record-Route values (None when one cannot be parsed)."""
    out = []
    for value in values:
        try:
            out.append(hop_of(parse_uri(parse_name_addr(value).uri)))
        except UriError:
            return None
    return tuple(out)


def contact_hop(value: str | None) -> Hop | None:
    """The hop of a Contact header value (None for none, ``*`` or garbage)."""
    if not value or value.strip() == "*":
        return None
    try:
        return hop_of(parse_uri(parse_name_addr(value).uri))
    except UriError:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class DialogPath:
    """What one call's dialog allows, seen from the gateway."""

    caller_routes: tuple[Hop, ...] = ()  # toward the caller, in the order visited
    callee_routes: tuple[Hop, ...] = ()  # toward the callee, in the order visited
    caller_targets: frozenset[Hop] = frozenset()
    callee_targets: frozenset[Hop] = frozenset()

    @classmethod
    def from_invite(cls, record_route: Sequence[str], contact: str | None) -> DialogPath:
        """The caller's side as the initial INVITE arrived (before our Record-Route)."""
        hop = contact_hop(contact)
        return cls(
            caller_routes=hops(record_route) or (),
            caller_targets=frozenset([hop]) if hop else frozenset(),
        )

    def answered(
        self, record_route: Sequence[str], contact: str | None, is_ours: Callable[[SipUri], bool]
    ) -> DialogPath:
        """The callee's side from a 1xx (with a To tag) or 2xx to the initial INVITE: the
        Record-Route entries above ours, reversed, and its Contact."""
        above: list[str] = []
        for value in record_route:
            try:
                if is_ours(parse_uri(parse_name_addr(value).uri)):
                    break
            except UriError:
                break
            above.append(value)
        path = replace(self, callee_routes=hops(reversed(above)) or ())
        return path.with_target(contact, caller=False)

    def callee_hosts(self) -> frozenset[str]:
        """The hosts known to be the callee's side (its targets and route set)."""
        return frozenset(h for h, _ in (*self.callee_targets, *self.callee_routes))

    def with_target(self, contact: str | None, *, caller: bool) -> DialogPath:
        """A target refresh: another Contact of the caller's (or the callee's) side."""
        hop = contact_hop(contact)
        if hop is None:
            return self
        if caller:
            return replace(self, caller_targets=self.caller_targets | {hop})
        return replace(self, callee_targets=self.callee_targets | {hop})

    def refusal(self, *, toward_caller: bool, routes: Sequence[str], uri: str | None) -> str | None:
        """Why a request (our Route entries already removed) may not go on; None = it may.
        ``uri`` None: the Request-URI does not decide the next hop (the caller's own flow)."""
        expected = self.caller_routes if toward_caller else self.callee_routes
        got = hops(routes)
        if got != expected:
            return "Route is not the dialog's route set"
        if uri is None:
            return None  # the caller's own flow
        # with a route set too: a loose router on the way sends the request to its Request-URI
        # (§16.12), which must therefore be the dialog's remote target (§12.2.1.1)
        try:
            hop = hop_of(parse_uri(uri))
        except UriError:
            return "Request-URI is not a SIP URI"
        targets = self.caller_targets if toward_caller else self.callee_targets
        if hop not in targets:
            return "Request-URI is not the dialog's remote target"
        return None
