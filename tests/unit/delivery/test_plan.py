"""The delivery state machine: when to push, verify or skip; back-off; alarms."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from otj.delivery.engine.plan import (
    MAX_BACKOFF,
    DeliveryState,
    after_failure,
    after_push,
    after_verify,
    alarm_changes,
    backoff,
    decide,
    with_sync_required,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PUSHED = DeliveryState(endpoint="e", pushed_digest="d1", pushed_at=NOW, contacted_at=NOW)


@pytest.mark.parametrize(
    ("state", "digest", "now", "action", "reason"),
    [
        (DeliveryState(endpoint="e"), "d1", NOW, "push", "first delivery"),
        (PUSHED, "d1", NOW + timedelta(minutes=1), "skip", "unchanged"),
        (PUSHED, "d2", NOW + timedelta(minutes=1), "push", "booking list changed"),
        (replace(PUSHED, sync_required=True), "d1", NOW, "push", "SyncRequired"),
        (PUSHED, "d1", NOW + timedelta(hours=1), "verify", "periodic read-back"),
        (
            replace(
                PUSHED, failures=2, error_kind="unreachable", retry_at=NOW + timedelta(minutes=1)
            ),
            "d1",
            NOW,
            "skip",
            "backing off",
        ),
        (
            replace(
                PUSHED, failures=2, error_kind="unreachable", retry_at=NOW + timedelta(minutes=1)
            ),
            "d1",
            NOW + timedelta(minutes=1),
            "push",
            "retry after unreachable",
        ),
    ],
)
def test_decide(state: DeliveryState, digest: str, now: datetime, action: str, reason: str) -> None:
    decision = decide(state, digest=digest, now=now)
    assert decision.action == action
    assert reason in decision.reason


def test_no_verify_when_disabled() -> None:
    assert (
        decide(PUSHED, digest="d1", now=NOW + timedelta(days=1), verify_every=None).action == "skip"
    )


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff(n) for n in range(12)]
    assert delays[0] == timedelta(0)
    assert delays[1] == timedelta(seconds=30)
    assert delays[2] == timedelta(seconds=60)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert max(delays) == MAX_BACKOFF


def test_failure_then_recovery_raises_then_clears_the_alarm() -> None:
    failed = after_failure(PUSHED, kind="unreachable", message="refused", now=NOW)
    assert failed.failures == 1
    assert failed.retry_at == NOW + timedelta(seconds=30)
    raised = alarm_changes(PUSHED, failed)
    assert [(c.raise_alarm, c.key, c.severity) for c in raised] == [(True, "delivery", "error")]
    assert "refused" in raised[0].message
    # the same failure again does not raise a second alarm
    again = after_failure(failed, kind="unreachable", message="refused", now=NOW)
    assert alarm_changes(failed, again) == ()
    recovered = after_push(again, digest="d1", count=1, now=NOW)
    assert recovered.failures == 0
    assert recovered.retry_at is None
    assert [(c.raise_alarm, c.key) for c in alarm_changes(again, recovered)] == [
        (False, "delivery")
    ]


def test_mismatch_warns_once_and_verify_mismatch_asks_for_push() -> None:
    verified = after_verify(PUSHED, now=NOW, mismatches=("missing on device: x",))
    assert verified.sync_required
    assert decide(verified, digest="d1", now=NOW).action == "push"
    changes = alarm_changes(PUSHED, verified)
    assert [(c.key, c.severity) for c in changes] == [("mismatch", "warning")]
    cleared = after_push(verified, digest="d1", count=1, now=NOW)
    assert [(c.raise_alarm, c.key) for c in alarm_changes(verified, cleared)] == [
        (False, "mismatch")
    ]


def test_sync_required_cancels_backoff() -> None:
    failed = after_failure(PUSHED, kind="unreachable", message="x", now=NOW)
    woken = with_sync_required(failed)
    assert woken.retry_at is None
    assert decide(woken, digest="d1", now=NOW).action == "push"
