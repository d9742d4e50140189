"""Pure worker policies: retry plans, jittered intervals, the token bucket (no sleeping)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otj.worker.backoff import JitteredInterval, jitter_for, plan_retry
from otj.worker.quota import TokenBucket, quota_alarm_due

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "interval", "retry_in", "next_poll_in", "hold"),
    [
        (1, 7.0, 60, 7.0, 7.0, 7.0),  # the server's Retry-After, exactly
        (1, 50.0, 60, None, 60.0, 50.0),  # too close to the next poll: wait for it
        (1, 300.0, 60, None, 300.0, 300.0),  # longer than the interval: honoured
        (4, 5.0, 60, None, 60.0, 5.0),  # retries exhausted
        (4, None, 60, None, 60.0, None),
    ],
)
def test_retry_plan_table(
    attempt: int,
    retry_after: float | None,
    interval: float,
    retry_in: float | None,
    next_poll_in: float,
    hold: float | None,
) -> None:
    plan = plan_retry(
        attempt=attempt, retry_after=retry_after, interval=interval, rng=random.Random(1)
    )
    assert (plan.retry_in, plan.next_poll_in, plan.not_before_in) == (retry_in, next_poll_in, hold)


def test_exponential_back_off_with_bounded_jitter() -> None:
    rng = random.Random(3)
    delays = [
        plan_retry(attempt=a, retry_after=None, interval=600, rng=rng).retry_in for a in (1, 2, 3)
    ]
    for attempt, delay in zip((1, 2, 3), delays, strict=True):
        base = 2.0 * 2 ** (attempt - 1)
        assert delay is not None
        assert base <= delay <= base * 1.5


@given(
    attempt=st.integers(1, 10),
    retry_after=st.none() | st.floats(0, 10_000, allow_nan=False),
    interval=st.integers(10, 86_400),
    seed=st.integers(0, 2**32),
)
def test_retries_never_reach_the_next_poll(
    attempt: int, retry_after: float | None, interval: int, seed: int
) -> None:
    plan = plan_retry(
        attempt=attempt, retry_after=retry_after, interval=interval, rng=random.Random(seed)
    )
    if plan.retry_in is not None:
        assert plan.retry_in < interval * 0.8
        assert attempt <= 3
    if retry_after:
        assert plan.next_poll_in >= retry_after  # never earlier than the server asked


def test_jittered_interval_is_deterministic_and_bounded() -> None:
    trigger = JitteredInterval(interval=60, jitter=jitter_for(60), first=T0, rng=random.Random(11))
    assert trigger.get_next_fire_time(None, T0 - timedelta(seconds=5)) == T0
    fire = T0
    gaps = []
    for _ in range(200):
        nxt = trigger.get_next_fire_time(fire, fire)
        assert nxt is not None
        gaps.append((nxt - fire).total_seconds())
        fire = nxt
    assert min(gaps) >= 54
    assert max(gaps) <= 66
    assert len({round(g, 3) for g in gaps}) > 150  # really jittered
    again = JitteredInterval(interval=60, jitter=6, first=T0, rng=random.Random(11))
    assert again.get_next_fire_time(T0, T0) == JitteredInterval(
        interval=60, jitter=6, first=T0, rng=random.Random(11)
    ).get_next_fire_time(T0, T0)


def test_jitter_is_a_tenth_capped() -> None:
    assert jitter_for(60) == 6
    assert jitter_for(3600) == 15


def test_token_bucket_refills_at_the_daily_rate() -> None:
    bucket = TokenBucket.for_quota(86_400, now=T0)  # 1 per second, burst 60
    assert bucket.capacity == 60
    for _ in range(60):
        assert bucket.try_take(T0) == 0
    assert bucket.try_take(T0) == pytest.approx(1.0)
    assert bucket.try_take(T0 + timedelta(seconds=1)) == 0
    bucket.charge(T0 + timedelta(seconds=1), 5)  # a poll that needed 5 more requests
    assert bucket.try_take(T0 + timedelta(seconds=1)) == pytest.approx(6.0)


@given(quota=st.integers(1, 10_000_000), steps=st.lists(st.floats(0, 3600), max_size=50))
def test_token_bucket_never_exceeds_the_quota(quota: int, steps: list[float]) -> None:
    bucket = TokenBucket.for_quota(quota, now=T0)
    now, taken = T0, 0
    for step in steps:
        now += timedelta(seconds=step)
        while bucket.try_take(now) == 0:
            taken += 1
    elapsed = (now - T0).total_seconds()
    assert taken <= bucket.capacity + elapsed * quota / 86_400 + 1


def test_quota_alarm_threshold() -> None:
    assert not quota_alarm_due(79, 100)
    assert quota_alarm_due(80, 100)
    assert not quota_alarm_due(5, 0)
