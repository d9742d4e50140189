"""One poll-and-deliver cycle over every due room (``otj worker --once``).

Rooms are claimed a few at a time (``FOR UPDATE SKIP LOCKED``), so several processes running a
cycle at once share the rooms instead of polling each twice; a room polled since the cycle
began is not claimed again. Each room runs on a thread pool: a slow or failing room holds one
thread for at most its calendar timeout (plus bounded retries), never the whole cycle.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from otj.store.values import RoomClaim
from otj.worker.delivery import Deliverer, DeliverySummary, NoDeliveryReport
from otj.worker.poller import PollResult, RoomPoller, summarise

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class CycleReport:
    """What a cycle did: one result per room it polled, and the delivery report."""

    started: datetime
    results: dict[str, PollResult] = field(default_factory=dict)
    delivery: DeliverySummary | None = None
    unfinished: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every polled room succeeded, none hung, and no delivery failed."""
        failed_delivery = self.delivery is not None and self.delivery.failed > 0
        return (
            not self.unfinished
            and all(r.outcome in ("ok", "skipped") for r in self.results.values())
            and not failed_delivery
        )

    def summary(self) -> str:
        """One log line."""
        text = summarise(self.results)
        deferred = sum(1 for r in self.results.values() if r.outcome == "deferred")
        if deferred:
            text += f", {deferred} deferred"
        if self.unfinished:
            text += f", {len(self.unfinished)} still running"
        if self.delivery is not None:
            text += f"; delivery: {self.delivery.pushed} pushed, {self.delivery.failed} failed"
        return text


def _poll_with_retries(poller: RoomPoller, claim: RoomClaim) -> PollResult:
    """Poll, then retry within the cycle while the back-off plan allows (bounded)."""
    result = poller.poll_claimed(claim)
    while result.outcome == "failed" and result.retry_in is not None:
        log.info("%s: retrying in %.1f s", claim.room, result.retry_in)
        poller.clock.sleep(result.retry_in)
        retry = poller.db.rooms.claim(
            claim.room,
            owner=poller.owner,
            now=poller.clock.now(),
            ttl=poller.settings.lease_ttl,
        )
        if retry is None:
            break
        result = poller.poll_claimed(retry)
    return result


def run_cycle(
    poller: RoomPoller,
    *,
    deliverer: Deliverer | None = None,
    threads: int = 16,
    force: bool = False,
    deadline: float | None = None,
) -> CycleReport:
    """Poll every due room once (``force``: every room), then deliver pending rooms."""
    clock = poller.clock
    started = clock.now()
    began = clock.monotonic()
    poller.plans.refresh()
    results: dict[str, PollResult] = {}
    unfinished: tuple[str, ...] = ()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="otj-poll")
    running: dict[Future[PollResult], str] = {}
    exhausted = False
    try:
        while True:
            free = threads * 2 - len(running)
            if not exhausted and len(running) <= threads:  # refill in batches: fewer claims
                claims = poller.db.rooms.claim_due(
                    owner=poller.owner,
                    now=clock.now(),
                    ttl=poller.settings.lease_ttl,
                    limit=free,
                    polled_before=started,
                    force=force,
                    exclude=set(running.values()),
                )
                exhausted = len(claims) < free
                for claim in claims:
                    running[pool.submit(_poll_with_retries, poller, claim)] = claim.room
            if not running:
                break
            timeout = None
            if deadline is not None:
                timeout = max(0.0, deadline - (clock.monotonic() - began))
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done:
                unfinished = tuple(sorted(running.values()))
                log.error("cycle deadline passed; still polling: %s", ", ".join(unfinished))
                break
            for future in done:
                room = running.pop(future)
                results[room] = future.result()
    finally:
        pool.shutdown(wait=not unfinished, cancel_futures=True)
    delivery: DeliverySummary | None = None
    if deliverer is not None:
        try:
            delivery = deliverer.deliver_pending(now=clock.now())
        except Exception:
            log.exception("delivery cycle failed")
            delivery = NoDeliveryReport(failed=1)
    report = CycleReport(started=started, results=results, delivery=delivery, unfinished=unfinished)
    log.info("poll cycle: %s", report.summary())
    for result in results.values():
        if result.outcome == "failed":
            log.warning("%s: %s: %s", result.room, result.kind, result.message)
    return report
