"""Keeps a push subscription open per room whose calendar service can push (I/O edge).

``tick`` (a worker job) claims or renews this process's leases on the rooms (``push_leases``:
with several worker processes on one database each room's subscription belongs to one of
them; a process that dies loses its leases after ``lease_ttl`` and the next tick elsewhere takes
the rooms over, closing the dead process's subscriptions), then subscribes, renews and, for
rooms no longer configured or no longer held, unsubscribes, following ``otj.worker.push``.
Notifications go to ``OTJ_PUBLIC_URL`` + ``/notifications/KIND`` (lifecycle events to
``…/lifecycle``); any API process accepts them and queues those of other processes' rooms.
A failure raises the ``push_subscription`` alarm on the room and leaves it polled at its normal
interval; success clears it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from calendars.base import CalendarNotFound
from calendars.push import PushRefused, PushSource, StreamingPush, channel_expiry
from otj.store import Database
from otj.worker.clock import Clock
from otj.worker.forwarding import QueueDrain
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
from otj.worker.push_store import (
    ALARM,
    alarm_message,
    close_inherited,
    keep_alarms,
    publish,
    raise_alarm,
)

log = logging.getLogger(__name__)

PUSH_EVERY = 30.0
"""Seconds between two ``tick`` runs (at most a third of the lease lifetime)."""
LEASE_TTL = timedelta(seconds=120)
VALIDATION_WINDOW = timedelta(seconds=30)


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
        owner: str = "",
        lease_ttl: timedelta = LEASE_TTL,
        renew_before: timedelta = RENEW_BEFORE,
    ) -> None:
        self.db = db
        self.owner = owner or "otj"
        self.lease_ttl = lease_ttl
        self.every = min(PUSH_EVERY, lease_ttl.total_seconds() / 3)
        self.plans = plans
        self.hub = hub
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.renew_before = renew_before
        self._subs: dict[str, Subscription] = {}
        self._sources: dict[str, PushSource] = {}
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._reported: frozenset[str] = frozenset()
        self._streaming: set[str] = set()
        self._elsewhere: frozenset[str] = frozenset()
        self._drain = QueueDrain(db, owner=self.owner, deliver=hub.deliver, clock=clock.now)

    # --- state --------------------------------------------------------------------------------

    def subscription(self, room: str) -> Subscription | None:
        """The room's subscription state."""
        with self._lock:
            return self._subs.get(room)

    def interval(self, plan: RoomPlan) -> float:
        """The room's poll interval in force (the safety net while its subscription, here or
        in the process holding its lease, is healthy)."""
        if plan.room in self._elsewhere:
            return max(plan.interval, plan.safety_interval)
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

    def start(self) -> None:
        """Take notifications other API processes queue for this process's rooms."""
        self._drain.start()

    def tick(self) -> bool:
        """Claim leases, subscribe, renew, unsubscribe as due; True when a room's health
        changed since the last tick (here, elsewhere, or in between: a lifecycle event, a
        stream that ended)."""
        with self._tick_lock:
            return self._tick()

    def _tick(self) -> bool:
        plans = self.plans.plans()
        sources: dict[str, PushSource] = {}
        for room, plan in sorted(plans.items()):
            source = plan.source
            if (
                isinstance(source, PushSource)
                and not plan.error
                and (self.public_url or isinstance(source, StreamingPush))
            ):
                sources[room] = source
        for room in sorted(set(self._subs) - set(sources)):
            why = "room no longer configured" if room not in plans else "source cannot push"
            self._drop(room, why)
        now = self.clock.now()
        try:
            held = self.db.push.claim(
                {r: s.push_kind for r, s in sources.items()},
                owner=self.owner,
                ttl=self.lease_ttl,
                now=now,
            )
            leases = self.db.push.leases()
        except Exception:
            log.exception("push leases: cannot claim or renew (keeping the subscriptions)")
            return False
        for room in sorted(set(self._subs) - set(held)):
            owner = leases[room].owner if room in leases else None
            self._drop(room, f"lease taken over by {owner or 'nobody'}", alarm_clear=False)
        claimed = now
        for room, lease in sorted(held.items()):
            if self.clock.now() - claimed > self.lease_ttl / 3:  # a long tick: renew meanwhile
                claimed = self.clock.now()
                if room not in self._renew({r: sources[r].push_kind for r in held}, claimed):
                    continue
            if room not in self._subs and lease.channel_id:
                close_inherited(self.db, sources[room], lease, owner=self.owner, now=now)
            self._step(room, sources[room])
        self._keep_alarms()
        self._elsewhere = frozenset(
            r for r, lease in leases.items() if lease.owner != self.owner and lease.healthy(now)
        )
        healthy = self.healthy() | self._elsewhere
        changed, self._reported = healthy != self._reported, healthy
        return changed

    def _renew(self, kinds: dict[str, str], now: datetime) -> set[str]:
        """Renew the leases held (during a long tick); the rooms still held."""
        try:
            return set(self.db.push.claim(kinds, owner=self.owner, ttl=self.lease_ttl, now=now))
        except Exception:
            log.exception("push leases: cannot renew")
            return set(kinds)

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
        self.hub.lifecycle_here(room, "streamEnded")  # the worker runs ``tick`` now

    def close(self) -> None:
        """Unsubscribe every room and give the leases back (worker stopping)."""
        self._drain.stop()
        with self._tick_lock:
            for room in sorted(self._subs):
                self._drop(room, "worker stopping", alarm_clear=False)
            try:
                self.db.push.release(owner=self.owner)
            except Exception:
                log.exception("cannot release the push leases")

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
            with self.hub.validating(source.push_kind), self._validating(room, source):
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
        self._set(subscribed(sub, channel, token=token), token=token)
        log.info("%s: subscribed to notifications until %s", room, channel.expires_at)
        if sub.state is PushState.FAILED:
            self.db.alarms.clear(ALARM, room, now=now)
        self.hub.changed(room)  # changes between the last poll and the subscription

    @contextmanager
    def _validating(self, room: str, source: PushSource) -> Iterator[None]:
        """Let every API process answer the validation request while the room subscribes."""
        if isinstance(source, StreamingPush):
            yield
            return
        until = self.clock.now() + VALIDATION_WINDOW
        self.db.push.validating(room, owner=self.owner, until=until)
        try:
            yield
        finally:
            self.db.push.validating(room, owner=self.owner, until=None)

    def _drop(self, room: str, why: str, *, alarm_clear: bool = True) -> None:
        with self._lock:
            sub = self._subs.pop(room, None)
            source = self._sources.pop(room, None)
        if sub is None:
            return
        try:
            self.db.push.release([room], owner=self.owner)
        except Exception:
            log.exception("%s: cannot release the push lease", room)
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

    def _set(self, sub: Subscription, *, token: str | None = None) -> None:
        """Keep the room's state here and in its lease row (``token``: a new subscription)."""
        with self._lock:
            self._subs[sub.room] = sub
        publish(self.db, sub, owner=self.owner, token=token)

    def _message(self, sub: Subscription) -> str:
        return alarm_message(sub, streaming=sub.kind in self._streaming, public_url=self.public_url)

    def _keep_alarms(self) -> None:
        """Raise the alarm again for failed rooms whose alarm was cleared (a recovered poll
        clears a room's alarms while its subscription may still fail)."""
        with self._lock:
            failing = [s for s in self._subs.values() if s.state is PushState.FAILED]
        keep_alarms(self.db, failing, self._message, now=self.clock.now())

    def _alarm(self, room: str, message: str) -> None:
        raise_alarm(self.db, room, message, now=self.clock.now())
