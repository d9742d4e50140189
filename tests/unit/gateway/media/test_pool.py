"""Engine choice: Call-ID stickiness, weights, skipping engines that do not answer, recovery."""

from __future__ import annotations

from collections import Counter

import pytest

from guestjoin.media.pool import Engine, EnginePool, Transition, parse_engine

A = Engine(host="127.0.0.1", port=2223)
B = Engine(host="127.0.0.2", port=2223)


def test_parse_engine() -> None:
    assert parse_engine("127.0.0.1:2223") == A
    assert parse_engine("[::1]:2223", 3) == Engine(host="::1", port=2223, weight=3)
    assert parse_engine("[::1]:2223").address == "[::1]:2223"
    for bad in ("127.0.0.1", "host:0", "host:99999", ":2223", "::1:2223"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_engine(bad)
    with pytest.raises(ValueError, match="weight"):
        parse_engine("127.0.0.1:1", 0)


def test_a_call_id_always_ranks_the_engines_the_same_way() -> None:
    pool = EnginePool([A, B])
    assert pool.candidates("call-1", 0.0) == pool.candidates("call-1", 99.0)
    assert EnginePool([B, A]).candidates("call-1", 0.0) == pool.candidates("call-1", 0.0)


def test_calls_spread_by_weight() -> None:
    heavy = Engine(host="127.0.0.2", port=2223, weight=3)
    pool = EnginePool([A, heavy])
    firsts = Counter(pool.candidates(f"call-{i}", 0.0)[0] for i in range(4000))
    assert 0.70 < firsts[heavy] / 4000 < 0.80
    even = Counter(EnginePool([A, B]).candidates(f"c{i}", 0.0)[0] for i in range(4000))
    assert 0.45 < even[A] / 4000 < 0.55


def test_removing_an_engine_moves_only_its_calls() -> None:
    third = Engine(host="127.0.0.3", port=2223)
    three = EnginePool([A, B, third])
    two = EnginePool([A, B])
    for i in range(500):
        first = three.candidates(f"c{i}", 0.0)[0]
        if first != third:
            assert two.candidates(f"c{i}", 0.0)[0] == first


def test_a_failed_engine_is_skipped_until_its_retry_time_then_recovers() -> None:
    pool = EnginePool([A, B], retry_after=2.0)
    assert pool.failed(A, 10.0, "no answer") == Transition(
        engine=A, change="down", reason="no answer"
    )
    assert pool.failed(A, 10.5, "no answer") is None  # already down: one alarm
    assert pool.candidates("x", 11.0) == (B,)
    assert pool.due_probes(11.0) == ()
    assert pool.due_probes(12.6) == (A,)
    assert pool.candidates("x", 12.6) == (B, A)  # due again, after the answering one
    assert pool.answered(A) == Transition(engine=A, change="up")
    assert pool.answered(A) is None
    assert set(pool.candidates("x", 13.0)) == {A, B}


def test_calls_stick_to_their_engine_and_survive_reconfiguration() -> None:
    pool = EnginePool([A, B])
    pool.assign("call-1", B)
    pool.configure([A])
    assert pool.engine_of("call-1") == B
    assert pool.calls_on(B) == 1
    assert pool.release("call-1") == B
    assert pool.release("call-1") is None
    assert pool.engines == (A,)


async def test_a_relay_without_engines_says_so() -> None:
    from guestjoin.media.relay import MediaRelay, RelayUnavailable

    relay = MediaRelay(())
    with pytest.raises(
        RelayUnavailable, match=r"no rtpengine is configured \(gateway.rtpengines\)"
    ):
        await relay.offer(call_id="c", from_tag="a", sdp="v=0\r\n")
    await relay.close()
