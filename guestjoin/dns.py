"""Locating SIP servers (RFC 3263 §4) with dnspython: NAPTR → SRV → A/AAAA, with a TTL cache.

The result is an ordered list of targets; the proxy tries them in order and fails over to the
next one on a timeout, a transport error or a 503 (§4.3). ``sips`` URIs only ever resolve to
TLS targets, and every TLS target carries the URI's domain as the name its certificate must
match (RFC 5922 §4).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from guestjoin.clock import Clock
from guestjoin.sip.uri import SipUri
from guestjoin.values import Target, host_of, is_ip

log = logging.getLogger(__name__)

NAPTR_SERVICES = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
SRV_PREFIX = {"udp": "_sip._udp.", "tcp": "_sip._tcp.", "tls": "_sips._tcp."}
DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}


class DnsFailure(Exception):
    """Resolution failed: ``not_found`` for NXDOMAIN/no records, else a timeout or SERVFAIL."""

    def __init__(self, message: str, *, not_found: bool) -> None:
        super().__init__(message)
        self.not_found = not_found


@dataclass(frozen=True, kw_only=True, slots=True)
class _Entry:
    expires: float
    targets: tuple[Target, ...]
    error: DnsFailure | None = None


def parse_nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    """``192.0.2.53``, ``127.0.0.1:15353`` or ``[::1]:15353``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
        return dns.nameserver.Do53Nameserver(host, port)
    if text.count(":") == 1:
        host, _, port_text = text.partition(":")
        return dns.nameserver.Do53Nameserver(host, int(port_text))
    return dns.nameserver.Do53Nameserver(text, 53)


class SipResolver:
    """RFC 3263 server location with a cache honouring the records' TTLs."""

    def __init__(
        self,
        clock: Clock,
        nameservers: Sequence[str] = (),
        *,
        timeout: float = 2.0,
        transports: frozenset[str] = frozenset({"udp", "tcp", "tls"}),
        negative_ttl: float = 30.0,
        max_ttl: float = 3600.0,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [parse_nameserver(n) for n in nameservers]
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.lifetime = timeout
        resolver.timeout = timeout
        self._resolver = resolver
        self.transports = transports
        self.negative_ttl = negative_ttl
        self.max_ttl = max_ttl
        self._rng = rng or random.Random()  # noqa: S311 - RFC 2782 weights, not security
        self._cache: dict[tuple[str, str, int | None, str | None], _Entry] = {}
        self.queries = 0

    # --- public ----------------------------------------------------------------------------
    def cached(self, uri: SipUri) -> tuple[Target, ...] | None:
        """Targets known without a query: an IP literal, or cached answers (a cached failure
        raises ``DnsFailure``)."""
        host = uri.maddr or uri.host
        if _is_ip(host):
            transport = uri.transport or ("tls" if uri.secure else "udp")
            if uri.secure and transport == "tcp":
                transport = "tls"
            if transport in self._allowed(uri):
                bare = host_of(host)
                port = uri.port or DEFAULT_PORT[transport]
                return (Target(transport=transport, host=bare, port=port, tls_name=bare),)
        entry = self._cache.get(self._key(uri))
        if entry is None or entry.expires <= self.clock.now():
            return None
        if entry.error is not None:
            raise entry.error
        return entry.targets

    async def resolve(self, uri: SipUri) -> tuple[Target, ...]:
        """Ordered targets for ``uri`` (RFC 3263 §4.1 transport, §4.2 port and address)."""
        hit = self.cached(uri)
        if hit is not None:
            return hit
        key = self._key(uri)
        try:
            targets, ttl = await self._locate(uri)
        except DnsFailure as exc:
            self._cache[key] = _Entry(
                expires=self.clock.now() + self.negative_ttl, targets=(), error=exc
            )
            raise
        self._cache[key] = _Entry(
            expires=self.clock.now() + min(ttl, self.max_ttl), targets=targets
        )
        return targets

    def clear(self) -> None:
        """Forget every cached answer."""
        self._cache.clear()

    # --- RFC 3263 --------------------------------------------------------------------------
    @staticmethod
    def _key(uri: SipUri) -> tuple[str, str, int | None, str | None]:
        return (uri.scheme, uri.host_lower, uri.port, uri.transport)

    def _allowed(self, uri: SipUri) -> list[str]:
        if uri.secure:
            return ["tls"] if "tls" in self.transports else []
        return [t for t in ("udp", "tcp", "tls") if t in self.transports]

    async def _locate(self, uri: SipUri) -> tuple[tuple[Target, ...], float]:
        host = uri.maddr or uri.host
        domain = host_of(host).lower().rstrip(".")
        allowed = self._allowed(uri)
        if not allowed:
            raise DnsFailure("no usable transport for this URI", not_found=True)
        wanted = uri.transport
        if wanted is not None:
            if wanted not in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
                raise DnsFailure(f"unknown transport {wanted}", not_found=True)
            if uri.secure and wanted == "tcp":
                wanted = "tls"  # sips + transport=tcp means TLS (RFC 3261 §26.2.2)
            if wanted not in allowed:
                raise DnsFailure(f"transport {wanted} not supported", not_found=True)
        tls_name = domain
        if _is_ip(domain):
            transport = wanted or ("tls" if uri.secure else "udp")
            port = uri.port or DEFAULT_PORT[transport]
            return (Target(transport=transport, host=domain, port=port, tls_name=tls_name),), 1e9
        if uri.port is not None:
            transport = wanted or ("tls" if uri.secure else "udp")
            addresses, ttl = await self._addresses(domain)
            return tuple(
                Target(transport=transport, host=a, port=uri.port, tls_name=tls_name)
                for a in addresses
            ), ttl
        ttl = self.max_ttl
        srv_names: list[tuple[str, str]] = []
        if wanted is None:
            naptr, naptr_ttl = await self._naptr(domain, allowed)
            if naptr:
                ttl = min(ttl, naptr_ttl)
                srv_names = naptr
            else:
                srv_names = [(SRV_PREFIX[t] + domain, t) for t in _srv_order(allowed)]
        else:
            srv_names = [(SRV_PREFIX[wanted] + domain, wanted)]
        targets: list[Target] = []
        for name, transport in srv_names:
            records, srv_ttl = await self._srv(name)
            if not records:
                continue
            ttl = min(ttl, srv_ttl)
            for target_host, port in records:
                try:
                    addresses, a_ttl = await self._addresses(target_host)
                except DnsFailure as exc:
                    log.info("%s: SRV target %s unusable: %s", domain, target_host, exc)
                    continue
                ttl = min(ttl, a_ttl)
                targets.extend(
                    Target(transport=transport, host=a, port=port, tls_name=tls_name)
                    for a in addresses
                )
        if targets:
            return tuple(targets), ttl
        transport = wanted or ("tls" if uri.secure else "udp")
        addresses, a_ttl = await self._addresses(domain)
        return tuple(
            Target(transport=transport, host=a, port=DEFAULT_PORT[transport], tls_name=tls_name)
            for a in addresses
        ), min(ttl, a_ttl)

    async def _query(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        self.queries += 1
        try:
            return await self._resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.resolver.NoNameservers as exc:
            raise DnsFailure(f"{name} {rdtype}: server failure", not_found=False) from exc
        except dns.exception.Timeout as exc:
            raise DnsFailure(f"{name} {rdtype}: timeout", not_found=False) from exc
        except dns.exception.DNSException as exc:
            raise DnsFailure(f"{name} {rdtype}: {exc}", not_found=False) from exc

    async def _naptr(self, domain: str, allowed: list[str]) -> tuple[list[tuple[str, str]], float]:
        answer = await self._query(domain, "NAPTR")
        if answer is None or answer.rrset is None:
            return [], self.max_ttl
        records = []
        for rr in answer:
            service = rr.service.decode().upper()
            transport = NAPTR_SERVICES.get(service)
            if transport is None or transport not in allowed:
                continue
            if rr.flags.decode().lower() != "s":
                continue  # only SRV-pointing records are meaningful here (§4.1)
            records.append(
                (rr.order, rr.preference, rr.replacement.to_text().rstrip("."), transport)
            )
        records.sort(key=lambda r: (r[0], r[1]))
        return [(name, transport) for _, _, name, transport in records], float(answer.rrset.ttl)

    async def _srv(self, name: str) -> tuple[list[tuple[str, int]], float]:
        answer = await self._query(name, "SRV")
        if answer is None or answer.rrset is None:
            return [], self.max_ttl
        by_priority: dict[int, list[tuple[int, str, int]]] = {}
        for rr in answer:
            target = rr.target.to_text().rstrip(".")
            if target == "":
                continue  # "." means the service is decidedly not available (RFC 2782)
            by_priority.setdefault(rr.priority, []).append((rr.weight, target, rr.port))
        ordered: list[tuple[str, int]] = []
        for priority in sorted(by_priority):
            ordered.extend(self._weighted(by_priority[priority]))
        return ordered, float(answer.rrset.ttl)

    def _weighted(self, records: list[tuple[int, str, int]]) -> list[tuple[str, int]]:
        """RFC 2782 weighted ordering within one priority."""
        pool = sorted(records, key=lambda r: r[0])  # zero weights first, as RFC 2782 says
        out: list[tuple[str, int]] = []
        while pool:
            total = sum(w for w, _, _ in pool)
            pick = self._rng.uniform(0, total) if total else 0
            running = 0
            for i, (weight, target, port) in enumerate(pool):
                running += weight
                if running >= pick:
                    out.append((target, port))
                    del pool[i]
                    break
        return out

    async def _addresses(self, host: str) -> tuple[list[str], float]:
        if _is_ip(host):
            return [host_of(host)], self.max_ttl
        out: list[str] = []
        ttl = self.max_ttl
        failure: DnsFailure | None = None
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._query(host, rdtype)
            except DnsFailure as exc:
                failure = exc
                continue
            if answer is not None and answer.rrset is not None:
                ttl = min(ttl, float(answer.rrset.ttl))
                out.extend(rr.address for rr in answer)
        if not out:
            if failure is not None:
                raise failure
            raise DnsFailure(f"{host} has no address records", not_found=True)
        return out, ttl


def _srv_order(allowed: list[str]) -> list[str]:
    """SRV fallback order without NAPTR: TLS, TCP, UDP (secure and reliable first)."""
    return [t for t in ("tls", "tcp", "udp") if t in allowed]


def _is_ip(text: str) -> bool:
    return is_ip(text)
