"""Calls in progress per source address (pure)."""

from __future__ import annotations

from guestjoin.admission import SourceCounter, source_key


def test_a_source_holds_at_most_its_limit_and_gets_them_back() -> None:
    counter = SourceCounter()
    assert all(counter.acquire("192.0.2.1", f"call{i}", 3) for i in range(3))
    assert not counter.acquire("192.0.2.1", "call3", 3)
    assert counter.acquire("192.0.2.2", "other", 3)  # other sources are not affected
    assert counter.acquire("192.0.2.1", "call0", 3)  # the same call again: idempotent
    assert counter.held("192.0.2.1") == 3
    counter.release("call1")
    counter.release("call1")  # idempotent
    counter.release("never-acquired")
    assert counter.held("192.0.2.1") == 2
    assert counter.acquire("192.0.2.1", "call3", 3)
    for key in ("call0", "call2", "call3", "other"):
        counter.release(key)
    assert len(counter) == 0
    assert counter.held("192.0.2.1") == 0


def test_limit_zero_means_unlimited() -> None:
    counter = SourceCounter()
    assert all(counter.acquire("192.0.2.1", str(i), 0) for i in range(1000))
    assert counter.held("192.0.2.1") == 1000


def test_a_source_is_an_address_and_an_ipv6_source_its_slash_64() -> None:
    """Many IPv6 addresses of one /64 (one subscriber, RFC 6177) share one limit; an
    IPv4-mapped address is its IPv4 address; other /64s and addresses stay apart."""
    counter = SourceCounter()
    same = [f"2001:db8:1:2::{n:x}" for n in range(1, 4)] + ["2001:db8:1:2:ffff:ffff:ffff:ffff"]
    granted = [counter.acquire(source_key(a), f"v6-{n}", 3) for n, a in enumerate(same)]
    assert granted == [True, True, True, False]
    assert counter.acquire(source_key("2001:db8:1:3::1"), "next-64", 3)
    assert source_key("2001:DB8:1:2:0:0:0:9") == "2001:db8:1:2::/64"
    assert source_key("fe80::1%lo") == "fe80::/64"
    assert source_key("::ffff:192.0.2.7") == source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("192.0.2.8") != source_key("192.0.2.7")
    assert source_key("not-an-address") == "not-an-address"
