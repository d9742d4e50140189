"""Pure values shared by the transport, DNS, transaction and proxy layers (no I/O here).

``Target`` is where a request goes (RFC 3263 §4 gives an ordered list of them), ``Received``
where a message came from; the host helpers handle IPv6 brackets (RFC 3261 §25.1 ``IPv6reference``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Protocol

UDP_MAX_REQUEST = 1300  # RFC 3261 §18.1.1: larger requests go over a congestion-controlled one
RELIABLE = frozenset({"tcp", "tls"})


class StreamConnection(Protocol):
    """A TCP/TLS connection as the layers above the transport see it."""

    @property
    def alive(self) -> bool:
        """Whether the connection is still open."""

    def write(self, data: bytes) -> bool:
        """Queue ``data``; False when the connection is closed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """Where to send: a resolved address plus the name a TLS certificate must match."""

    transport: str
    host: str
    port: int
    tls_name: str | None = None

    @property
    def reliable(self) -> bool:
        """TCP or TLS."""
        return self.transport in RELIABLE


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Received:
    """Where a message came from: transport, remote and local address, stream connection."""

    transport: str
    remote: tuple[str, int]
    local: tuple[str, int]
    connection: StreamConnection | None = field(default=None, repr=False)

    @property
    def reliable(self) -> bool:
        """TCP or TLS."""
        return self.transport in RELIABLE


def host_of(text: str) -> str:
    """An address without IPv6 brackets."""
    return text[1:-1] if text.startswith("[") else text


_IP_CACHE: dict[str, bool] = {}


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4/IPv6 literal (brackets allowed); answers are memoised."""
    known = _IP_CACHE.get(text)
    if known is not None:
        return known
    try:
        ipaddress.ip_address(host_of(text))
    except ValueError:
        result = False
    else:
        result = True
    if len(_IP_CACHE) < 10000:
        _IP_CACHE[text] = result
    return result


def render_host(host: str) -> str:
    """Put brackets around an IPv6 literal for URIs and Via."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
