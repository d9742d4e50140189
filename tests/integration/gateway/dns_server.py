"""A dnslib authoritative DNS server on 127.0.0.1 serving NAPTR/SRV/A records for tests.

Records are given as zone-file lines (``google.pexip.me. 60 IN SRV 0 0 5070 uas1.test.``);
names can be made to SERVFAIL or to never answer (a timeout). Run as a script for the
benchmark: ``python -m tests.integration.gateway.dns_server --port 0 --zone FILE``; it prints
the bound port on its first output line.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: ZoneServer) -> None:
        self.zone = zone

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord | None:
        reply = request.reply()
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        with self.zone.lock:
            self.zone.queries[(qname, qtype)] += 1
            if qname in self.zone.silent:
                return None  # no answer at all: the client times out
            if qname in self.zone.servfail:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            records = [rr for rr in self.zone.records if str(rr.rname).lower() == qname]
        matching = [rr for rr in records if QTYPE[rr.rtype] == qtype]
        for rr in matching:
            reply.add_answer(rr)
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class ZoneServer:
    """Serve a mutable set of records over UDP (and TCP) on 127.0.0.1, on a free port."""

    def __init__(self, zone: str = "", *, address: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.records: list[RR] = RR.fromZone(zone) if zone.strip() else []
        self.silent: set[str] = set()
        self.servfail: set[str] = set()
        self.queries: Counter[tuple[str, str]] = Counter()
        logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self._udp = DNSServer(_Resolver(self), port=port, address=address, logger=logger)
        self.host = address
        self.port: int = self._udp.server.server_address[1]

    @property
    def address(self) -> str:
        """``host:port`` as ``gateway.dns_servers`` takes it."""
        return f"{self.host}:{self.port}"

    def set_zone(self, zone: str) -> None:
        """Replace every record."""
        with self.lock:
            self.records = RR.fromZone(zone) if zone.strip() else []

    def reset(self) -> None:
        """No records, no failures, no counted queries."""
        with self.lock:
            self.records = []
            self.silent.clear()
            self.servfail.clear()
            self.queries.clear()

    def start(self) -> ZoneServer:
        """Serve in a background thread."""
        self._udp.start_thread()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._udp.stop()
        self._udp.server.server_close()

    def count(self, name: str, qtype: str) -> int:
        """How many queries for ``name``/``qtype`` arrived."""
        with self.lock:
            return self.queries[(name.lower().rstrip(".") + ".", qtype)]


def meet_zone(
    targets: list[tuple[str, int]],
    *,
    transport: str = "udp",
    ttl: int = 60,
    domain: str = "google.pexip.me",
    naptr: bool = True,
) -> str:
    """NAPTR → SRV → A records pointing ``domain`` at local peers (priority in list order)."""
    service = {
        "udp": ("SIP+D2U", "_sip._udp"),
        "tcp": ("SIP+D2T", "_sip._tcp"),
        "tls": ("SIPS+D2T", "_sips._tcp"),
    }[transport]
    lines = []
    if naptr:
        lines.append(f'{domain}. {ttl} IN NAPTR 10 10 "S" "{service[0]}" "" {service[1]}.{domain}.')
    for i, (host, port) in enumerate(targets):
        name = f"pexip{i + 1}.{domain}"
        lines.append(f"{service[1]}.{domain}. {ttl} IN SRV {i * 10} 0 {port} {name}.")
        lines.append(f"{name}. {ttl} IN A {host}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--zone", type=Path, required=True)
    args = parser.parse_args()
    server = ZoneServer(args.zone.read_text()).start()
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
