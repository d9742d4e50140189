"""Calls in progress per source address (PURE): no source may hold more than its share.

A source that sends INVITEs and never ends them (no ACK, no BYE) would otherwise hold every
call licence; ``gateway.max_calls_per_source`` bounds what one address can hold. The gateway's
first line of defence stays ``gateway.allowed_sources``. A source is an address, never a port,
and an IPv6 source is its /64: one subscriber gets a whole /64 (RFC 6177), so counting single
IPv6 addresses would give an attacker 2**64 shares.
"""

from __future__ import annotations

import ipaddress


def source_key(address: str) -> str:
    """The source a call counts against: an IPv4 address, an IPv6 /64 (an IPv4-mapped IPv6
    address counts as its IPv4 address); anything else (a name) as it is."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SourceCounter:
    """Counts live calls by source address; ``acquire`` refuses beyond a limit."""

    def __init__(self) -> None:
        self._source_of: dict[str, str] = {}  # call key → source address
        self._counts: dict[str, int] = {}

    def acquire(self, source: str, key: str, limit: int) -> bool:
        """Count call ``key`` against ``source``; False when ``source`` already holds ``limit``
        calls (``limit`` 0 = unlimited). Idempotent for the same key."""
        if key in self._source_of:
            return True
        held = self._counts.get(source, 0)
        if limit > 0 and held >= limit:
            return False
        self._source_of[key] = source
        self._counts[source] = held + 1
        return True

    def release(self, key: str) -> None:
        """The call ``key`` ended (idempotent; unknown keys are ignored)."""
        source = self._source_of.pop(key, None)
        if source is None:
            return
        left = self._counts[source] - 1
        if left:
            self._counts[source] = left
        else:
            del self._counts[source]

    def held(self, source: str) -> int:
        """Calls in progress from ``source``."""
        return self._counts.get(source, 0)

    def __len__(self) -> int:
        """Calls counted, over every source."""
        return len(self._source_of)
