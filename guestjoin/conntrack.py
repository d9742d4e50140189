"""Limits on inbound TCP/TLS connections: caps per source and in total, and timeouts.

A peer that opens connections and sends nothing must not starve everyone else of file
descriptors (RFC 3261 §18 leaves how long connections stay open to the implementation). The
rules, pure and with time passed in:

- a connection that has not delivered one complete SIP message within
  ``first_message_timeout`` of opening is closed (keep-alive pings do not count);
- a connection without traffic for ``idle_timeout`` is closed (longer than any refresh: a
  registration lasts at most an hour, RFC 4028 session refreshes half an hour);
- one source address (an IPv6 /64) holds at most ``max_per_source`` connections, beyond
  that a new one is closed at once;
- at ``max_connections`` in total, the oldest connection that has not delivered a message
  yet makes room for the new one (sources that speak SIP keep theirs), and only when every
  connection has is the new one refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionPolicy:
    """Timeouts (seconds) and caps for inbound stream connections."""

    first_message_timeout: float = 30.0
    idle_timeout: float = 3900.0
    tls_handshake_timeout: float = 5.0
    max_connections: int = 4096
    max_per_source: int = 128

    def __post_init__(self) -> None:
        for name in ("first_message_timeout", "idle_timeout", "tls_handshake_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_connections < 1 or self.max_per_source < 1:
            raise ValueError("connection caps must be at least 1")

    @property
    def sweep_interval(self) -> float:
        """How often connections are checked against the timeouts."""
        return max(0.05, min(30.0, self.first_message_timeout / 4, self.idle_timeout / 4))


def source_key(ip: str) -> str:
    """What the per-source cap counts: the IPv4 address, or the IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


class Tracked(Protocol):
    """What the table reads from a connection."""

    @property
    def last_used(self) -> float:
        """Loop time of the last traffic in either direction."""


C = TypeVar("C", bound=Tracked)


@dataclass(slots=True)
class _Entry:
    source: str
    opened_at: float
    proven: bool = False


@dataclass(frozen=True, slots=True)
class Admission(Generic[C]):
    """The table's answer to a new connection: admitted or not, and whom to close for it."""

    admitted: bool
    evicted: C | None = None
    reason: str = ""


class InboundTable(Generic[C]):
    """The inbound connections of one transport layer, with what the policy needs to know."""

    def __init__(self, policy: ConnectionPolicy) -> None:
        self.policy = policy
        self._entries: dict[C, _Entry] = {}
        self._unproven: dict[C, None] = {}  # in opening order
        self._per_source: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def connections(self) -> list[C]:
        """Every tracked connection, oldest first."""
        return list(self._entries)

    def count(self, ip: str) -> int:
        """Connections open from ``ip``'s source (its /64 for IPv6)."""
        return self._per_source.get(source_key(ip), 0)

    def admit(self, conn: C, ip: str, now: float) -> Admission[C]:
        """Take a new connection in, unless its source or the whole table is full."""
        source = source_key(ip)
        if self._per_source.get(source, 0) >= self.policy.max_per_source:
            return Admission(
                False, reason=f"{self.policy.max_per_source} connections from {source}"
            )
        evicted = None
        if len(self._entries) >= self.policy.max_connections:
            evicted = next(iter(self._unproven), None)
            if evicted is None:
                return Admission(False, reason=f"{self.policy.max_connections} connections in all")
            self.remove(evicted)
        self._entries[conn] = _Entry(source, now)
        self._unproven[conn] = None
        self._per_source[source] = self._per_source.get(source, 0) + 1
        return Admission(True, evicted)

    def proven(self, conn: C) -> None:
        """The connection delivered a complete SIP message."""
        entry = self._entries.get(conn)
        if entry is not None and not entry.proven:
            entry.proven = True
            self._unproven.pop(conn, None)

    def remove(self, conn: C) -> None:
        """Forget a connection (closed, or evicted)."""
        entry = self._entries.pop(conn, None)
        if entry is None:
            return
        self._unproven.pop(conn, None)
        left = self._per_source[entry.source] - 1
        if left:
            self._per_source[entry.source] = left
        else:
            del self._per_source[entry.source]

    def expired(self, now: float) -> list[tuple[C, str]]:
        """Connections past a timeout, with the reason (they stay until ``remove``)."""
        out = []
        first = self.policy.first_message_timeout
        for conn in self._unproven:
            if now - self._entries[conn].opened_at <= first:
                break  # opening order: the rest are younger
            out.append((conn, f"no SIP message within {first:g} s"))
        idle = self.policy.idle_timeout
        out += [
            (conn, f"idle for more than {idle:g} s")
            for conn, entry in self._entries.items()
            if entry.proven and now - conn.last_used > idle
        ]
        return out
