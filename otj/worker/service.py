"""The long-running worker: one APScheduler job per room (``otj worker``, ``otj serve``).

Each room job fires every ``poll_interval`` seconds with jitter (``coalesce``,
``max_instances=1``) and polls the room if it is due and not leased by another process, so
several worker processes on one PostgreSQL database share the rooms (the database, not a shared
job store, decides who polls). A failed room is retried early when the back-off plan allows.
A reconcile job follows configuration changes; a delivery job runs after rooms changed and
every 30 s; a room-notices job tells rooms, within about a second, that their call ended in a
meeting's lobby or was refused (when the deliverer can: ``RoomNotifier``); a summary of each
poll cycle is logged.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from otj.worker.backoff import JitteredInterval, jitter_for
from otj.worker.delivery import Deliverer
from otj.worker.poller import PollResult, RoomPoller, summarise
from otj.worker.subscriptions import PushManager

log = logging.getLogger(__name__)
if logging.getLogger("apscheduler").level == logging.NOTSET:
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise

RECONCILE_EVERY = 10.0
DELIVER_EVERY = 30.0
NOTICE_EVERY = 1.0
"""Seconds between looks for calls whose room is to be told how they ended."""


@runtime_checkable
class RoomNotifier(Protocol):
    """A deliverer that can also tell rooms how their calls ended (``DeliveryRunner``)."""

    def notify_rooms(self, *, now: datetime) -> int:
        """Tell the rooms of calls that just ended in the lobby or were refused."""
        ...


FIRST_SPREAD = 3.0
"""Seconds over which the first polls are spread at start (a new user sees meetings quickly)."""


@dataclass(slots=True)
class _Stats:
    results: dict[str, PollResult] = field(default_factory=dict)
    polled_once: set[str] = field(default_factory=set)
    first_cycle_logged: bool = False
    cycles: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerService:
    """Schedules the room jobs; ``start`` returns at once, ``stop`` waits for running polls."""

    def __init__(
        self,
        poller: RoomPoller,
        *,
        deliverer: Deliverer | None = None,
        threads: int = 16,
        rng: random.Random | None = None,
        push: PushManager | None = None,
    ) -> None:
        self.poller = poller
        self.deliverer = deliverer
        self.push = push
        self._room_locks: dict[str, threading.Lock] = {}
        if push is not None:
            poller.interval_of = push.interval
        self.rng = rng or random.Random()  # noqa: S311 (spreading load, not security)
        self.scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=threads),
                "service": ThreadPoolExecutor(max_workers=2),
                "notices": ThreadPoolExecutor(max_workers=1),  # never behind a long delivery
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self._intervals: dict[str, float] = {}
        self._stats = _Stats()
        self._summary_every = 60.0
        # Jobs change the schedule (reconcile, reschedule, kick delivery) only under this lock
        # and never once stopping is set: APScheduler 3's shutdown(wait=True) holds the job
        # store lock while it waits for running jobs, so a job that then asked the scheduler
        # for a change would wait for that lock forever (seen: SIGTERM during a poll hung).
        self._lock = threading.RLock()
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every room and start the scheduler threads."""
        self.poller.plans.refresh(force=True)
        self._reconcile_jobs()
        self.scheduler.add_job(
            self._reconcile,
            IntervalTrigger(seconds=RECONCILE_EVERY),
            id="reconcile",
            executor="service",
            misfire_grace_time=None,
        )
        if self.deliverer is not None:
            self.scheduler.add_job(
                self._deliver,
                IntervalTrigger(seconds=DELIVER_EVERY),
                id="deliver",
                executor="service",
                misfire_grace_time=None,
            )
        if isinstance(self.deliverer, RoomNotifier):
            self.scheduler.add_job(
                self._notify_rooms,
                IntervalTrigger(seconds=NOTICE_EVERY),
                id="room-notices",
                executor="notices",
                misfire_grace_time=None,
            )
        if self.push is not None:
            self.push.hub.start(self._push_poll, lifecycle=self._lifecycle)
            self.push.start()
            self.scheduler.add_job(
                self._push_tick,
                IntervalTrigger(seconds=self.push.every),
                id="push",
                executor="service",
                misfire_grace_time=None,
                next_run_time=self.poller.clock.now(),
            )
        self.scheduler.add_job(
            self._summary,
            IntervalTrigger(seconds=self._summary_every),
            id="summary",
            executor="service",
            misfire_grace_time=None,
        )
        self.scheduler.start()
        log.info("worker %s started: %d room(s) scheduled", self.poller.owner, len(self._intervals))

    def stop(self) -> None:
        """Stop scheduling, wait for running polls, release leases, close sources."""
        with self._lock:  # a schedule change in progress finishes; none starts after this
            self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.push is not None:
            self.push.hub.stop()
            self.push.close()
        released = self.poller.db.rooms.release_all(owner=self.poller.owner)
        if released:
            log.info("released %d lease(s)", released)
        self.poller.plans.close()
        if self.deliverer is not None:
            self.deliverer.close()
        log.info("worker %s stopped", self.poller.owner)

    # --- jobs ---------------------------------------------------------------------------------

    def _job_id(self, room: str) -> str:
        return f"room:{room}"

    def _reconcile_jobs(self) -> None:
        """Add, reschedule and remove room jobs to match the current plans."""
        plans = self.poller.plans.plans()
        now = self.poller.clock.now()
        with self._lock:
            if self._stopping:
                return
            for room in sorted(set(self._intervals) - set(plans)):
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(self._job_id(room))
                del self._intervals[room]
            for room, plan in plans.items():
                interval = self.push.interval(plan) if self.push is not None else plan.interval
                if self._intervals.get(room) == interval:
                    continue
                first = now + timedelta(
                    seconds=self.rng.uniform(
                        0, min(FIRST_SPREAD, interval) if room not in self._intervals else interval
                    )
                )
                self.scheduler.add_job(
                    self._poll_job,
                    JitteredInterval(
                        interval=interval,
                        jitter=jitter_for(interval),
                        first=first,
                        rng=self.rng,
                    ),
                    args=(room,),
                    id=self._job_id(room),
                    name=room,
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=int(interval),
                )
                self._intervals[room] = interval
            if plans:
                self._summary_every = min(p.interval for p in plans.values())

    def _reconcile(self) -> None:
        try:
            if self.poller.plans.refresh():
                log.info("configuration changed: rescheduling rooms")
                self._reconcile_jobs()
        except Exception:
            log.exception("reconciling the room jobs failed")

    def _room_lock(self, room: str) -> threading.Lock:
        with self._lock:
            return self._room_locks.setdefault(room, threading.Lock())

    def _poll_job(self, room: str) -> None:
        lock = self._room_lock(room)
        if not lock.acquire(blocking=False):
            return  # a sync after a notification is reading this room right now
        try:
            result = self.poller.poll(room)
        finally:
            lock.release()
        self._after_poll(room, result)

    def _push_poll(self, room: str) -> None:
        """A notification arrived: sync the room now (after any poll of it in progress)."""
        with self._room_lock(room):
            result = self.poller.poll(room, force=True)
        log.debug("%s: synced after a notification: %s", room, result.outcome)
        self._after_poll(room, result)

    def _push_tick(self) -> None:
        assert self.push is not None
        try:
            if self.push.tick():
                self._reconcile_jobs()
        except Exception:
            log.exception("push subscriptions: tick failed")

    def _lifecycle(self, room: str, event: str) -> None:
        assert self.push is not None
        self.push.lifecycle(room, event)
        if event != "missed":
            self._modify_job("push", self.poller.clock.now())

    def _after_poll(self, room: str, result: PollResult) -> None:
        if result.outcome == "skipped":
            return
        if result.retry_in is not None:
            self._reschedule(room, result.retry_in)
        self._record(result)
        if result.changed and self.deliverer is not None:
            self._kick_delivery()

    def _reschedule(self, room: str, seconds: float) -> None:
        self._modify_job(self._job_id(room), self.poller.clock.now() + timedelta(seconds=seconds))

    def _kick_delivery(self) -> None:
        self._modify_job("deliver", self.poller.clock.now())

    def _modify_job(self, job_id: str, next_run_time: datetime) -> None:
        with self._lock, contextlib.suppress(JobLookupError):
            if not self._stopping:
                self.scheduler.modify_job(job_id, next_run_time=next_run_time)

    def _deliver(self) -> None:
        assert self.deliverer is not None
        try:
            report = self.deliverer.deliver_pending(now=self.poller.clock.now())
        except Exception:
            log.exception("delivery cycle failed")
            return
        if report.pushed or report.failed:
            log.info("delivery: %d pushed, %d failed", report.pushed, report.failed)

    def _notify_rooms(self) -> None:
        assert isinstance(self.deliverer, RoomNotifier)
        try:
            self.deliverer.notify_rooms(now=self.poller.clock.now())
        except Exception:
            log.exception("telling rooms how their calls ended failed")

    # --- cycle summaries ----------------------------------------------------------------------

    def _record(self, result: PollResult) -> None:
        with self._stats.lock:
            self._stats.results[result.room] = result
            self._stats.polled_once.add(result.room)
            first_done = not self._stats.first_cycle_logged and self._stats.polled_once >= set(
                self._intervals
            )
            if first_done:
                self._stats.first_cycle_logged = True
        if first_done:
            self._summary()

    def _summary(self) -> None:
        with self._stats.lock:
            results, self._stats.results = self._stats.results, {}
            self._stats.cycles += 1
            cycle = self._stats.cycles
        if not results:
            return
        log.info("poll cycle %d: %s", cycle, summarise(results))
        for result in results.values():
            if result.outcome == "failed":
                log.warning("%s: %s: %s", result.room, result.kind, result.message)

    def jobs(self) -> list[dict[str, Any]]:
        """The scheduled room jobs (for tests and diagnostics)."""
        return [
            {
                "id": job.id,
                "trigger": job.trigger,
                "coalesce": job.coalesce,
                "max_instances": job.max_instances,
                "next_run_time": getattr(job, "next_run_time", None),
            }
            for job in self.scheduler.get_jobs()
            if job.id.startswith("room:")
        ]
