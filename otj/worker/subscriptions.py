"""Keeps a push subscription open per room whose calendar service can push (I/O edge).

``tick`` (a worker job) subscribes, renews and, for rooms no longer configured, unsubscribes,
following ``otj.worker.push``. Notifications go to ``OTJ_PUBLIC_URL`` + ``/notifications/KIND``
(lifecycle events to ``…/lifecycle``). A failure raises the ``push_subscription`` alarm on
the room and leaves it polled at its normal interval; success clears it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import timedelta
from typing import Any

from calendars.base import CalendarNotFound
from calendars.push import PushRefused, PushSource, StreamingPush, channel_expiry
from otj.store import Database
from otj.worker.clock import Clock
from otj.worker.intervals import PUSH_SETTING
from otj.worker.notifications import NotificationHub
from otj.worker.plans import PlanBook, RoomPlan
from otj.worker.push import (
    RENEW_BEFORE,
    PushState,
    Subscription,
    failed,
    next_action,
    poll_interval,
    reauthorization_required,
    renewed,
    subscribed,
)

log = logging.getLogger(__name__)

ALARM = "push_subscription"
PUSH_EVERY = 30.0
"""Seconds between two ``tick`` runs."""


class PushManager:
    """One process's subscriptions (thread-safe; ``tick`` runs on one thread at a time)."""

    def __init__(
        self,
        db: Database,
        plans: PlanBook,
        hub: NotificationHub,
        *,
        public_url: str,
        clock: Clock,
        renew_before: timedelta = RENEW_BEFORE,
    ) -> None:
        self.db = db
        self.plans = plans
        self.hub = hub
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.renew_before = renew_before
        self._subs: dict[str, Subscription] = {}
        self._sources: dict[str, PushSource] = {}
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._published: dict[str, Any] | None = None
        self._reported: frozenset[str] = frozenset()
        self._streaming: set[str] = set()

    # --- state --------------------------------------------------------------------------------

    def subscription(self, room: str) -> Subscription | None:
        """The room's subscription state."""
        with self._lock:
            return self._subs.get(room)

    def interval(self, plan: RoomPlan) -> float:
        """The room's poll interval in force (the safety net while its subscription is healthy)."""
        return poll_interval(
            self.subscription(plan.room),
            normal=plan.interval,
            safety=plan.safety_interval,
            now=self.clock.now(),
        )

    def healthy(self) -> frozenset[str]:
        """Rooms with a healthy subscription."""
        now = self.clock.now()
        with self._lock:
            return frozenset(room for room, sub in self._subs.items() if sub.healthy(now))

    # --- jobs ---------------------------------------------------------------------------------

    def tick(self) -> bool:
        """Subscribe, renew, unsubscribe as due; True when a room's health changed since the
        last tick (here or in between: a lifecycle event, a stream that ended)."""
        with self._tick_lock:
            changed = self._tick()
            self._publish()
            return changed

    def _tick(self) -> bool:
        plans = self.plans.plans()
        for room in sorted(set(self._subs) - set(plans)):
            self._drop(room, "room no longer configured")
        for room, plan in sorted(plans.items()):
            source = plan.source
            if (
                not isinstance(source, PushSource)
                or plan.error
                or not (self.public_url or isinstance(source, StreamingPush))
            ):
                if room in self._subs:
                    self._drop(room, "calendar source cannot push")
                continue
            self._step(room, source)
        self._keep_alarms()
        healthy = self.healthy()
        changed, self._reported = healthy != self._reported, healthy
        return changed

    def lifecycle(self, room: str, event: str) -> None:
        """A lifecycle notification (Graph ``lifecycleEvent``) for ``room``."""
        now = self.clock.now()
        with self._lock:
            sub = self._subs.get(room)
            if sub is None:
                return
            if event == "subscriptionRemoved":
                log.warning("%s: the service removed the subscription; subscribing again", room)
                self._forget(sub)
                self._subs[room] = failed(
                    sub, now=now, reason="removed by the service", retry_now=True
                )
            elif event == "reauthorizationRequired":
                self._subs[room] = reauthorization_required(sub)  # renewing reauthorises
        if event == "missed":
            log.info("%s: notifications were missed: syncing", room)
            self.hub.changed(room)

    def stream_failed(self, room: str, reason: str) -> None:
        """A source's own notification stream for ``room`` ended (EWS): poll, alarm, retry."""
        now = self.clock.now()
        with self._lock:
            sub = self._subs.get(room)
            if sub is None or sub.state is not PushState.HEALTHY:
                return
            self._forget(sub)
            after = failed(sub, now=now, reason=reason)
            self._subs[room] = after
        self._alarm(room, self._message(after))
        self.hub.lifecycle(room, "streamEnded")  # the worker runs ``tick`` now

    def close(self) -> None:
        """Unsubscribe every room (worker stopping)."""
        with self._tick_lock:
            for room in sorted(self._subs):
                self._drop(room, "worker stopping", alarm_clear=False)
            self._publish()

    def _publish(self) -> None:
        """Store each room's push state for ``otj status rooms`` (when it changed)."""
        with self._lock:
            snapshot = {
                room: {
                    "kind": sub.kind,
                    "state": str(sub.state),
                    "expires_at": sub.channel.expires_at.isoformat() if sub.channel else None,
                    "reason": sub.reason,
                }
                for room, sub in sorted(self._subs.items())
            }
        if snapshot == self._published:
            return
        try:
            self.db.config.set_setting(PUSH_SETTING, snapshot)
            self._published = snapshot
        except Exception:
            log.exception("cannot store the push subscription states")

    # --- one room -----------------------------------------------------------------------------

    def _step(self, room: str, source: PushSource) -> None:
        now = self.clock.now()
        sub = self._subs.get(room) or Subscription(room=room, kind=source.push_kind)
        action = next_action(sub, now=now, renew_before=self.renew_before)
        if action == "wait":
            return
        if action == "renew" and sub.channel is not None:
            try:
                channel = source.renew(
                    room, sub.channel, expires=channel_expiry(now, source.push_lifetime)
                )
            except (CalendarNotFound, PushRefused) as exc:  # gone or refused: a new one
                log.warning("%s: renewing the subscription failed: %s", room, exc)
                self._forget(sub)
                self._set(failed(sub, now=now, reason=f"renewal failed: {exc}", retry_now=True))
                return
            except Exception as exc:  # noqa: BLE001 (service down: it still runs, try again)
                log.warning("%s: renewing the subscription failed, retrying: %s", room, exc)
                return
            if channel.id != sub.channel.id:  # Google: a new channel replaced the old one
                self.hub.register(source.push_kind, channel.id, room, sub.token)
                self.hub.unregister(source.push_kind, sub.channel.id)
            self._set(renewed(sub, channel))
            log.info("%s: subscription renewed until %s", room, channel.expires_at)
            return
        if sub.channel is not None:
            self._forget(sub)
        self._subscribe(room, source, sub)

    def _subscribe(self, room: str, source: PushSource, sub: Subscription) -> None:
        now = self.clock.now()
        url = f"{self.public_url}/notifications/{source.push_kind}"
        token = secrets.token_urlsafe(32)
        if isinstance(source, StreamingPush):
            self._streaming.add(source.push_kind)
            source.attach_push(changed=self.hub.changed, failed=self.stream_failed)
        try:
            with self.hub.validating(source.push_kind):
                channel = source.subscribe(
                    room,
                    notification_url=url,
                    lifecycle_url=f"{url}/lifecycle",
                    token=token,
                    expires=channel_expiry(now, source.push_lifetime),
                )
        except Exception as exc:  # noqa: BLE001 (any failure: alarm, keep polling)
            after = failed(sub, now=now, reason=str(exc) or type(exc).__name__)
            log.warning("%s: cannot subscribe to notifications at %s: %s", room, url, exc)
            self._alarm(room, self._message(after))
            self._set(after)
            return
        self.hub.register(source.push_kind, channel.id, room, token)
        with self._lock:
            self._sources[room] = source
        self._set(subscribed(sub, channel, token=token))
        log.info("%s: subscribed to notifications until %s", room, channel.expires_at)
        if sub.state is PushState.FAILED:
            self.db.alarms.clear(ALARM, room, now=now)
        self.hub.changed(room)  # changes between the last poll and the subscription

    def _drop(self, room: str, why: str, *, alarm_clear: bool = True) -> None:
        with self._lock:
            sub = self._subs.pop(room, None)
            source = self._sources.pop(room, None)
        if sub is None:
            return
        self.hub.unregister(sub.kind, sub.channel.id if sub.channel else "")
        if sub.channel is not None and source is not None:
            try:
                source.unsubscribe(room, sub.channel)
                log.info("%s: unsubscribed (%s)", room, why)
            except Exception as exc:  # noqa: BLE001 (it expires on its own)
                log.warning("%s: unsubscribing failed (it expires on its own): %s", room, exc)
        if alarm_clear:
            self.db.alarms.clear(ALARM, room, now=self.clock.now())

    def _forget(self, sub: Subscription) -> None:
        if sub.channel is not None:
            self.hub.unregister(sub.kind, sub.channel.id)

    def _set(self, sub: Subscription) -> None:
        with self._lock:
            self._subs[sub.room] = sub

    def _message(self, sub: Subscription) -> str:
        what = (
            f"{sub.kind} streaming notifications"
            if sub.kind in self._streaming
            else f"push notifications to {self.public_url}/notifications/{sub.kind}"
        )
        retry = f"{sub.retry_at:%H:%M:%S} UTC" if sub.retry_at else "soon"
        return (
            f"{sub.room}: {what} could not be subscribed ({sub.reason}); "
            f"polling at the normal interval, next attempt at {retry}"
        )

    def _keep_alarms(self) -> None:
        """Raise the alarm again for failed rooms whose alarm was cleared (a recovered poll
        clears a room's alarms while its subscription may still fail)."""
        with self._lock:
            failing = [s for s in self._subs.values() if s.state is PushState.FAILED]
        if not failing:
            return
        try:
            active = {a.subject for a in self.db.alarms.active(kind=ALARM)}
        except Exception:
            log.exception("cannot read the %s alarms", ALARM)
            return
        for sub in failing:
            if sub.room not in active:
                self._alarm(sub.room, self._message(sub))

    def _alarm(self, room: str, message: str) -> None:
        try:
            self.db.alarms.raise_alarm(ALARM, room, message, now=self.clock.now())
        except Exception:
            log.exception("%s: cannot raise alarm %s", room, ALARM)
