"""Poll one room: lease → read the calendar → rules → one transaction → delivery mark.

Every failure stays with its room: calendar errors are mapped to a recorded failure (and an
alarm where an administrator must act), unexpected exceptions are logged with the room and
recorded too. Time comes from the injected clock; randomness from the injected generator.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from calendars.base import (
    CalendarAuthError,
    CalendarError,
    CalendarEvent,
    CalendarNotFound,
    CalendarUnavailable,
    MalformedCalendarData,
    SyncResult,
    SyncStateExpired,
)
from otj.delivery.devices.native_join import with_native_join
from otj.model import CallProtocol, Meeting, Platform, TraceStep
from otj.store import Database
from otj.store.rooms import LeaseLost
from otj.store.values import PollCommit, RoomClaim, Severity
from otj.worker.backoff import plan_retry
from otj.worker.clock import Clock
from otj.worker.plans import PlanBook, RoomPlan
from otj.worker.quota import DailyQuotas

log = logging.getLogger(__name__)

Outcome = Literal["ok", "failed", "skipped", "deferred"]
LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class PollResult:
    """What one poll of one room did."""

    room: str
    outcome: Outcome
    kind: str = ""
    message: str = ""
    full: bool = False
    events: int = 0
    listed: int = 0
    changed: bool = False
    requests: int = 0
    duration: float = 0.0
    retry_in: float | None = None

    @property
    def ok(self) -> bool:
        """The room was polled and stored."""
        return self.outcome == "ok"


@dataclass(frozen=True, kw_only=True, slots=True)
class PollerSettings:
    """Tunables of the poller."""

    owner: str
    lease_ttl: timedelta = timedelta(minutes=2)
    lookback: timedelta = LOOKBACK


def _unlisted(event: CalendarEvent, reason: str) -> Meeting:
    """A meeting for an event the rules could not process (kept, not shown, reason recorded)."""
    return Meeting(
        room=event.room,
        event_id=event.id,
        ical_uid=event.ical_uid,
        subject=event.subject,
        organizer_name=event.organizer_name,
        organizer_email=event.organizer_email,
        start=event.start,
        end=event.end,
        join_from=event.start,
        join_until=event.end,
        alias=None,
        protocol=CallProtocol.SIP,
        platform=Platform.OTHER,
        rule=None,
        private=event.private,
        listed=False,
        unlisted_reason=reason,
        trace=(TraceStep(rule="", meeting_type="", outcome="error", detail=reason),),
    )


class RoomPoller:
    """Polls rooms for one worker process (thread-safe: one poll per room at a time)."""

    def __init__(
        self,
        db: Database,
        plans: PlanBook,
        *,
        settings: PollerSettings,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.plans = plans
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._quotas = DailyQuotas(db, self._alarm)
        self._alarmed_integrations: set[str] = set()
        self._alarm_lock = threading.Lock()
        #: The room's poll interval in force (a push subscription relaxes it); default: the plan's.
        self.interval_of: Callable[[RoomPlan], float] = _plan_interval

    @property
    def owner(self) -> str:
        """This worker's lease owner name."""
        return self.settings.owner

    # --- entry points -------------------------------------------------------------------------

    def poll(self, room: str, *, force: bool = False) -> PollResult:
        """Claim the room if it is due (or ``force``) and poll it."""
        plan = self.plans.get(room)
        if plan is None:
            return PollResult(room=room, outcome="skipped", message="room not configured")
        now = self.clock.now()
        early = timedelta(seconds=plan.interval / 2)
        claim = self.db.rooms.claim(
            room,
            owner=self.owner,
            now=now,
            ttl=self.settings.lease_ttl,
            early=early,
            force=force,
        )
        if claim is None:
            return PollResult(room=room, outcome="skipped", message="not due or leased")
        return self.poll_claimed(claim)

    def poll_claimed(self, claim: RoomClaim) -> PollResult:
        """Poll a room this worker holds the lease of (never raises)."""
        room = claim.room
        started = self.clock.monotonic()
        now = self.clock.now()
        plan = self.plans.get(room)
        try:
            if plan is None:
                self.db.rooms.release(room, owner=self.owner)
                return PollResult(room=room, outcome="skipped", message="room not configured")
            return self._poll(plan, claim, now, started)
        except LeaseLost as exc:
            log.warning("%s: poll discarded: %s", room, exc)
            return PollResult(room=room, outcome="skipped", kind="lease_lost", message=str(exc))
        except Exception as exc:
            log.exception("%s: poll failed unexpectedly", room)
            return self._fail(
                plan, claim, now, started, kind="internal", message=f"{type(exc).__name__}: {exc}"
            )

    # --- one poll -----------------------------------------------------------------------------

    def _poll(self, plan: RoomPlan, claim: RoomClaim, now: datetime, started: float) -> PollResult:
        room = plan.room
        if plan.error or plan.source is None or plan.processor is None:
            message = plan.error or "no calendar source"
            self._alarm("configuration", plan.error_subject or room, message, now)
            return self._fail(plan, claim, now, started, kind="config", message=message)
        integration = plan.integration or ""
        wait = self._quotas.reserve(integration, plan.daily_quota, now)
        if wait > 0:
            later = now + timedelta(seconds=wait)
            self.db.rooms.release(room, owner=self.owner, next_poll_at=later, not_before=later)
            log.info("%s: deferred %.0f s by the request quota of %s", room, wait, integration)
            return PollResult(room=room, outcome="deferred", kind="quota", retry_in=wait)

        start = now - self.settings.lookback
        end = now + timedelta(days=plan.profile.display_upcoming_meetings)
        state = claim.sync_state if claim.sync_fingerprint == plan.fingerprint else None
        extra_requests = 0
        try:
            try:
                result = plan.source.sync(room, start=start, end=end, state=state)
            except SyncStateExpired:
                if state is None:
                    raise
                log.info("%s: sync state expired, reading the whole window", room)
                extra_requests = 1
                result = plan.source.sync(room, start=start, end=end, state=None)
        except CalendarError as exc:
            return self._calendar_failure(plan, claim, now, started, exc)

        requests = result.requests + extra_requests
        self._quotas.charge(integration, now, requests)
        meetings = self._process_all(plan, result.events, now)
        outcome = self.db.rooms.commit_poll(
            PollCommit(
                room=room,
                owner=self.owner,
                now=now,
                full=result.full,
                meetings=meetings,
                removed_event_ids=result.removed_ids,
                sync_state=result.sync_state,
                sync_fingerprint=plan.fingerprint,
                window_start=start,
                window_end=end,
                display_end=end,
                next_poll_at=now + timedelta(seconds=self.interval_of(plan)),
                requests=requests,
                duration_ms=int((self.clock.monotonic() - started) * 1000),
                integration=integration or None,
            )
        )
        if claim.consecutive_failures:
            self.db.alarms.clear(None, room, now=now)
        self._integration_ok(integration, now)
        duration = self.clock.monotonic() - started
        log.debug(
            "%s: %s read, %d event(s), %d listed, %s, %d request(s), %.0f ms",
            room,
            "full" if result.full else "incremental",
            len(result.events),
            outcome.listed,
            "changed" if outcome.changed else "unchanged",
            requests,
            duration * 1000,
        )
        return PollResult(
            room=room,
            outcome="ok",
            full=result.full,
            events=len(result.events),
            listed=outcome.listed,
            changed=outcome.changed,
            requests=requests,
            duration=duration,
        )

    def _process_all(
        self, plan: RoomPlan, events: Sequence[CalendarEvent], now: datetime
    ) -> list[Meeting]:
        """Process the room's events one by one; one that raises is kept unlisted with the
        reason and the others are unaffected."""
        return [self._process(plan, event, now) for event in events]

    def _process(self, plan: RoomPlan, event: CalendarEvent, now: datetime) -> Meeting:
        assert plan.processor is not None
        try:
            meeting = plan.processor.process(event, plan.profile, now=now)
            return with_native_join(meeting, event, plan.profile)
        except Exception as exc:
            log.exception("%s: event %s could not be processed", plan.room, event.id)
            return _unlisted(event, f"processing failed: {type(exc).__name__}: {exc}")

    def _calendar_failure(
        self, plan: RoomPlan, claim: RoomClaim, now: datetime, started: float, exc: CalendarError
    ) -> PollResult:
        room = plan.room
        integration = plan.integration or ""
        self._quotas.charge(integration, now, 1)
        message = str(exc) or type(exc).__name__
        if isinstance(exc, CalendarUnavailable):
            log.warning("%s: calendar unavailable (retry after %s): %s", room, exc.retry_after, exc)
            return self._fail(
                plan,
                claim,
                now,
                started,
                kind="unavailable",
                message=message,
                retry_after=exc.retry_after,
            )
        if isinstance(exc, CalendarAuthError):
            log.error("%s: calendar credentials refused: %s", room, exc)
            self._alarm("calendar_auth", integration, f"{room}: {message}", now, critical=True)
            with self._alarm_lock:
                self._alarmed_integrations.add(integration)
            return self._fail(plan, claim, now, started, kind="auth", message=message)
        if isinstance(exc, CalendarNotFound):
            log.error("%s: calendar not found: %s", room, exc)
            self._alarm("calendar_not_found", room, message, now)
            return self._fail(plan, claim, now, started, kind="not_found", message=message)
        if isinstance(exc, SyncStateExpired):
            log.warning("%s: sync state refused on a full read: %s", room, exc)
            return self._fail(
                plan, claim, now, started, kind="sync_state", message=message, reset_sync=True
            )
        kind = "malformed" if isinstance(exc, MalformedCalendarData) else "calendar"
        log.warning("%s: calendar error: %s", room, exc)
        if kind == "malformed":
            self._alarm("calendar_data", room, message, now, severity_warning=True)
        return self._fail(plan, claim, now, started, kind=kind, message=message)

    def _fail(
        self,
        plan: RoomPlan | None,
        claim: RoomClaim,
        now: datetime,
        started: float,
        *,
        kind: str,
        message: str,
        retry_after: float | None = None,
        reset_sync: bool = False,
    ) -> PollResult:
        interval = plan.interval if plan else 60.0
        retry = plan_retry(
            attempt=claim.consecutive_failures + 1,
            retry_after=retry_after,
            interval=interval,
            rng=self.rng,
        )
        if kind not in ("unavailable", "calendar", "internal"):
            retry = plan_retry(attempt=99, retry_after=None, interval=interval, rng=self.rng)
        self.db.rooms.record_failure(
            claim.room,
            owner=self.owner,
            now=now,
            kind=kind,
            message=message,
            next_poll_at=now + timedelta(seconds=retry.next_poll_in),
            not_before=now + timedelta(seconds=retry.not_before_in)
            if retry.not_before_in
            else None,
            requests=1
            if kind in ("unavailable", "auth", "not_found", "malformed", "calendar")
            else 0,
            integration=plan.integration if plan else None,
            reset_sync=reset_sync,
        )
        return PollResult(
            room=claim.room,
            outcome="failed",
            kind=kind,
            message=message,
            duration=self.clock.monotonic() - started,
            retry_in=retry.retry_in,
        )

    # --- alarms -------------------------------------------------------------------------------

    def _alarm(
        self,
        kind: str,
        subject: str,
        message: str,
        now: datetime,
        *,
        critical: bool = False,
        severity_warning: bool = False,
    ) -> None:
        severity: Severity = "critical" if critical else "warning" if severity_warning else "error"
        try:
            self.db.alarms.raise_alarm(kind, subject, message, now=now, severity=severity)
        except Exception:
            log.exception("%s: cannot raise alarm %s", subject, kind)

    def _integration_ok(self, integration: str, now: datetime) -> None:
        with self._alarm_lock:
            if integration not in self._alarmed_integrations:
                return
            self._alarmed_integrations.discard(integration)
        self.db.alarms.clear("calendar_auth", integration, now=now)


def _plan_interval(plan: RoomPlan) -> float:
    return plan.interval


def summarise(results: Mapping[str, PollResult]) -> str:
    """``12 polled, 11 ok, 1 failed, 34 meetings listed, 12 requests``."""
    done = [r for r in results.values() if r.outcome in ("ok", "failed")]
    ok = sum(1 for r in done if r.ok)
    return (
        f"{len(done)} polled, {ok} ok, {len(done) - ok} failed, "
        f"{sum(r.listed for r in done)} meetings listed, "
        f"{sum(1 for r in done if r.changed)} changed, {sum(r.requests for r in done)} requests"
    )


__all__ = ["PollResult", "PollerSettings", "RoomPoller", "SyncResult", "summarise"]
