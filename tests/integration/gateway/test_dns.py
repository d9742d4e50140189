"""RFC 3263 resolution with dnspython against a real dnslib DNS server on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from guestjoin.dns import DnsFailure, SipResolver
from guestjoin.sip import parse_uri
from guestjoin.values import Target
from tests.unit.gateway.support import ManualClock

from .dns_server import ZoneServer, meet_zone


def resolver(zone: ZoneServer, clock: ManualClock | None = None, **kw: object) -> SipResolver:
    return SipResolver(clock or ManualClock(), [zone.address], **kw)  # type: ignore[arg-type]


def t(transport: str, port: int, host: str = "127.0.0.1") -> Target:
    return Target(transport=transport, host=host, port=port, tls_name="google.pexip.me")


CASES = [
    (
        "naptr → srv → a, in priority order",
        meet_zone([("127.0.0.1", 5070), ("127.0.0.2", 5071)]),
        "sip:abc-defg-hij@google.pexip.me",
        [t("udp", 5070), t("udp", 5071, "127.0.0.2")],
    ),
    (
        "naptr order and preference pick the transport",
        (
            'google.pexip.me. 60 IN NAPTR 20 10 "S" "SIP+D2U" "" _sip._udp.google.pexip.me.\n'
            'google.pexip.me. 60 IN NAPTR 10 10 "S" "SIP+D2T" "" _sip._tcp.google.pexip.me.\n'
            "_sip._udp.google.pexip.me. 60 IN SRV 0 0 5070 a.google.pexip.me.\n"
            "_sip._tcp.google.pexip.me. 60 IN SRV 0 0 5072 a.google.pexip.me.\n"
            "a.google.pexip.me. 60 IN A 127.0.0.1\n"
        ),
        "sip:abc-defg-hij@google.pexip.me",
        [t("tcp", 5072), t("udp", 5070)],
    ),
    (
        "srv without naptr",
        meet_zone([("127.0.0.1", 5080)], naptr=False),
        "sip:abc-defg-hij@google.pexip.me",
        [t("udp", 5080)],
    ),
    (
        "a only: default port",
        "google.pexip.me. 60 IN A 127.0.0.3\n",
        "sip:abc-defg-hij@google.pexip.me",
        [t("udp", 5060, "127.0.0.3")],
    ),
    (
        "sips never uses udp, falls back to TLS on 5061",
        meet_zone([("127.0.0.1", 5070)]) + "google.pexip.me. 60 IN A 127.0.0.4\n",
        "sips:abc-defg-hij@google.pexip.me",
        [t("tls", 5061, "127.0.0.4")],
    ),
    (
        "sips with SIPS+D2T",
        meet_zone([("127.0.0.1", 5071)], transport="tls"),
        "sips:abc-defg-hij@google.pexip.me",
        [t("tls", 5071)],
    ),
    (
        "explicit port: address records only",
        meet_zone([("127.0.0.1", 5070)]) + "google.pexip.me. 60 IN A 127.0.0.5\n",
        "sip:abc@google.pexip.me:5099",
        [t("udp", 5099, "127.0.0.5")],
    ),
    (
        "transport parameter: that SRV only",
        meet_zone([("127.0.0.1", 5070)])
        + meet_zone([("127.0.0.1", 5072)], transport="tcp", naptr=False),
        "sip:abc@google.pexip.me;transport=tcp",
        [t("tcp", 5072)],
    ),
]


@pytest.mark.parametrize(("name", "records", "uri", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_resolution_table(
    zone: ZoneServer, name: str, records: str, uri: str, expected: list[Target]
) -> None:
    zone.set_zone(records)
    assert list(await resolver(zone).resolve(parse_uri(uri))) == expected


async def test_ip_literal_needs_no_dns(zone: ZoneServer) -> None:
    res = resolver(zone)
    assert await res.resolve(parse_uri("sip:a@127.0.0.1:5090;transport=tcp")) == (
        Target(transport="tcp", host="127.0.0.1", port=5090, tls_name="127.0.0.1"),
    )
    assert res.queries == 0


async def test_answers_are_cached_for_their_ttl(zone: ZoneServer) -> None:
    zone.set_zone(meet_zone([("127.0.0.1", 5070)], ttl=30))
    clock = ManualClock()
    res = resolver(zone, clock)
    uri = parse_uri("sip:abc-defg-hij@google.pexip.me")
    first = await res.resolve(uri)
    queries = res.queries
    assert res.cached(uri) == first
    clock.advance(29)
    assert await res.resolve(uri) == first
    assert res.queries == queries
    clock.advance(2)
    assert res.cached(uri) is None
    zone.set_zone(meet_zone([("127.0.0.1", 5071)], ttl=30))
    assert await res.resolve(uri) == (t("udp", 5071),)
    assert res.queries > queries


async def test_nxdomain_is_not_found_and_negatively_cached(zone: ZoneServer) -> None:
    res = resolver(zone)
    uri = parse_uri("sip:abc@nowhere.test")
    with pytest.raises(DnsFailure) as info:
        await res.resolve(uri)
    assert info.value.not_found
    queries = res.queries
    with pytest.raises(DnsFailure):
        await res.resolve(uri)
    assert res.queries == queries


async def test_servfail_is_a_failure(zone: ZoneServer) -> None:
    zone.servfail.add("google.pexip.me.")
    with pytest.raises(DnsFailure) as info:
        await resolver(zone).resolve(parse_uri("sip:abc@google.pexip.me"))
    assert not info.value.not_found


async def test_a_silent_server_times_out(zone: ZoneServer) -> None:
    zone.silent.add("google.pexip.me.")
    started = time.monotonic()
    with pytest.raises(DnsFailure, match="timeout"):
        await resolver(zone, timeout=0.3).resolve(parse_uri("sip:abc@google.pexip.me"))
    assert time.monotonic() - started < 3


async def test_srv_target_dot_means_no_service(zone: ZoneServer) -> None:
    zone.set_zone(
        "_sips._tcp.google.pexip.me. 60 IN SRV 0 0 0 .\n"
        "_sip._udp.google.pexip.me. 60 IN SRV 0 0 5070 a.google.pexip.me.\n"
        "a.google.pexip.me. 60 IN A 127.0.0.1\n"
    )
    assert await resolver(zone).resolve(parse_uri("sip:abc@google.pexip.me")) == (t("udp", 5070),)
