"""The delivery state machine for one push endpoint (pure: state + list digest + now → action).

Push when the list was never delivered, when it changed, when the device asked for it
(``Bookings SyncRequired``), when a periodic check found the device list differs, and when the
device comes back after a failure (it may have rebooted or been replaced). Otherwise do nothing:
an unchanged list is never re-sent. Failures back off exponentially so a dead endpoint costs one
attempt per back-off step, never a slot in every cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Action = Literal["push", "verify", "skip"]
AlarmSeverity = Literal["error", "warning"]

#: First retry delay after a failure; doubles per consecutive failure up to MAX_BACKOFF.
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=15)
#: How often an unchanged endpoint is read back (Bookings List) to notice reboots and drift.
DEFAULT_VERIFY_EVERY = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryState:
    """What we remember about one endpoint between cycles.

    The one model of an endpoint's delivery state: the plan's transitions produce it,
    ``otj.store`` persists it (``db.delivery``) and the console and ``otj endpoints list`` show
    it. ``retry_at`` is not stored: the store gives it back as its last write plus
    :func:`backoff` (every failure is written when it happens); nor is ``pushed_count``.
    """

    endpoint: str
    pushed_digest: str | None = None
    pushed_at: datetime | None = None
    pushed_count: int = 0
    contacted_at: datetime | None = None
    sync_required: bool = False
    failures: int = 0
    error_kind: str = ""
    last_error: str = ""
    retry_at: datetime | None = None
    mismatch: str = ""
    software_version: str = ""
    feedback_registered: str = ""
    #: What the last attempt did, as shown to administrators: ``pushed``, ``ok`` (read back,
    #: nothing to do) or the failure's kind.
    last_result: str = ""
    #: When a pulling device (a Poly endpoint over EWS) last read its meetings.
    last_read_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """What to do with an endpoint in this cycle, and why (shown to administrators)."""

    action: Action
    reason: str


def backoff(failures: int) -> timedelta:
    """Delay before the next attempt after ``failures`` consecutive failures."""
    if failures <= 0:
        return timedelta(0)
    step = FIRST_BACKOFF * (1 << min(failures - 1, 10))
    return min(step, MAX_BACKOFF)


def decide(
    state: DeliveryState,
    *,
    digest: str,
    now: datetime,
    verify_every: timedelta | None = DEFAULT_VERIFY_EVERY,
) -> Decision:
    """Choose push / verify / skip for one endpoint."""
    if state.retry_at is not None and now < state.retry_at:
        return Decision(
            action="skip",
            reason=f"backing off after {state.error_kind or 'error'} until "
            f"{state.retry_at.isoformat()}",
        )
    if state.failures > 0:
        return Decision(action="push", reason=f"retry after {state.error_kind or 'error'}")
    if state.pushed_digest is None:
        return Decision(action="push", reason="first delivery")
    if state.sync_required:
        return Decision(action="push", reason="device asked for a sync (SyncRequired)")
    if state.pushed_digest != digest:
        return Decision(action="push", reason="booking list changed")
    if verify_every is not None and (
        state.contacted_at is None or now - state.contacted_at >= verify_every
    ):
        return Decision(action="verify", reason="periodic read-back")
    return Decision(action="skip", reason="unchanged")


def after_push(
    state: DeliveryState,
    *,
    digest: str,
    count: int,
    now: datetime,
    mismatches: tuple[str, ...] = (),
    software_version: str | None = None,
) -> DeliveryState:
    """The state after a successful push (and its read-back)."""
    return replace(
        state,
        pushed_digest=digest,
        pushed_at=now,
        pushed_count=count,
        contacted_at=now,
        sync_required=False,
        failures=0,
        error_kind="",
        last_error="",
        retry_at=None,
        mismatch="; ".join(mismatches),
        software_version=state.software_version if software_version is None else software_version,
        last_result="pushed",
    )


def after_verify(
    state: DeliveryState, *, now: datetime, mismatches: tuple[str, ...]
) -> DeliveryState:
    """The state after a read-back: a differing device list asks for a push (as SyncRequired)."""
    return replace(
        state,
        contacted_at=now,
        sync_required=bool(mismatches) or state.sync_required,
        mismatch="; ".join(mismatches),
        last_result="ok",
    )


def after_failure(state: DeliveryState, *, kind: str, message: str, now: datetime) -> DeliveryState:
    """The state after an attempt failed; the next attempt waits for the back-off."""
    failures = state.failures + 1
    return replace(
        state,
        failures=failures,
        error_kind=kind,
        last_error=message,
        retry_at=now + backoff(failures),
        last_result=kind,
    )


def with_sync_required(state: DeliveryState) -> DeliveryState:
    """Mark that the device asked for its booking list again (HttpFeedback SyncRequired)."""
    return replace(state, sync_required=True, retry_at=None)


@dataclass(frozen=True, kw_only=True, slots=True)
class AlarmChange:
    """Raise or clear the endpoint's delivery alarm (one alarm per endpoint and key)."""

    raise_alarm: bool
    key: str
    severity: AlarmSeverity = "error"
    message: str = ""


def alarm_changes(before: DeliveryState, after: DeliveryState) -> tuple[AlarmChange, ...]:
    """Alarm transitions between two states: failures raise, recovery clears; mismatch warns."""
    changes: list[AlarmChange] = []
    if after.failures > 0 and (
        before.failures == 0
        or before.error_kind != after.error_kind
        or before.last_error != after.last_error
    ):
        changes.append(
            AlarmChange(
                raise_alarm=True,
                key="delivery",
                severity="error",
                message=f"{after.error_kind}: {after.last_error}",
            )
        )
    elif after.failures == 0 and before.failures > 0:
        changes.append(AlarmChange(raise_alarm=False, key="delivery"))
    if after.mismatch and after.mismatch != before.mismatch:
        changes.append(
            AlarmChange(
                raise_alarm=True,
                key="mismatch",
                severity="warning",
                message=f"device booking list differs: {after.mismatch}",
            )
        )
    elif not after.mismatch and before.mismatch:
        changes.append(AlarmChange(raise_alarm=False, key="mismatch"))
    return tuple(changes)
