"""Calls in progress per source address (pure)."""

from __future__ import annotations

from guestjoin.admission import SourceCounter


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
