"""Store-backed configuration provider and call recorder (the gateway's adapters to ``otj.store``).

The SIP core only knows ``ConfigProvider`` and ``CallRecorder``; these two classes implement
them on the otj database. Writes happen on one background thread so the event loop never waits
for the database: each call's latest state is written, several changes of one call in the same
batch collapse into one write. Floods of refused calls are folded into summary records
(``cdr.RejectionSummary``), and records older than ``gateway.cdr_retention_days`` are deleted
at start and every hour.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from guestjoin.cdr import CallRecord, RejectionSummary
from guestjoin.config import GatewayConfig

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

#: What the gateway writes: every field but its own ``key``, the store's ``id`` and the
#: delivery side's ``room_notified_at``.
_COLUMNS = tuple(
    f.name for f in fields(CallRecord) if f.name not in ("key", "id", "room_notified_at")
)
_FIXED = ("call_id", "direction", "caller_uri", "invite_at")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StoreConfig:
    """Reads rules, proxies, gateway settings, endpoints (secrets resolved) and the identity
    certificate from the store; raises and clears the certificate's expiry alarms on the way
    (at most once per ``alarm_every`` seconds)."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = _utc_now,
        alarm_every: float = 60.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.alarm_every = timedelta(seconds=alarm_every)
        self._alarms_checked: datetime | None = None

    def load(self) -> GatewayConfig:
        """One consistent snapshot for the gateway."""
        repo = self.db.config
        config = GatewayConfig(
            rules=tuple(repo.call_routing_rules()),
            proxies=tuple(repo.sip_proxies()),
            settings=repo.gateway_settings(),
            endpoints=tuple(repo.endpoints()),
            credentials=tuple(repo.sip_credentials().values()),
            identity=self.db.identity.active(),
            receptions=tuple(repo.virtual_receptions()),
        )
        self._check_alarms()
        return config

    def _check_alarms(self) -> None:
        from otj.store.identity import check_certificate_alarms

        now = self.clock()
        last = self._alarms_checked
        if last is not None and last <= now < last + self.alarm_every:
            return
        self._alarms_checked = now
        try:
            check_certificate_alarms(self.db, now=now)
        except Exception:
            log.exception("cannot update the gateway certificate alarms")


class StoreRecorder:
    """Writes call detail records to the store's ``calls`` table from a worker thread."""

    def __init__(
        self,
        db: Database,
        *,
        batch: int = 500,
        summary: RejectionSummary | None = None,
        clock: Callable[[], datetime] = _utc_now,
        purge_every: float = 3600.0,
    ) -> None:
        self.db = db
        self.batch = batch
        self.summary = summary or RejectionSummary()
        self.clock = clock
        self.purge_every = purge_every
        self._queue: queue.SimpleQueue[CallRecord | None] = queue.SimpleQueue()
        self._ids: dict[str, int] = {}
        self._summary_keys: deque[str] = deque()
        self.written = 0
        self.failures = 0
        self.purged = 0
        self._thread = threading.Thread(target=self._run, name="otj-cdr-writer", daemon=True)
        self._thread.start()

    def record(self, call: CallRecord) -> None:
        """Queue the call's latest state, or the summary it joins (never blocks)."""
        self._queue.put(self.summary.filter(call))

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def purge(self) -> int:
        """Delete records older than the configured retention; return how many."""
        try:
            days = self.db.config.gateway_settings().cdr_retention_days
            deleted = self.db.calls.purge(before=self.clock() - timedelta(days=days))
        except Exception:
            log.exception("cannot delete old call records")
            return 0
        if deleted:
            log.info("deleted %d call record(s) older than %d days", deleted, days)
        self.purged += deleted
        return deleted

    def _run(self) -> None:
        stop = False
        next_purge = time.monotonic()
        while not stop:
            if time.monotonic() >= next_purge:
                self.purge()
                next_purge = time.monotonic() + self.purge_every
            try:
                item = self._queue.get(timeout=max(0.0, next_purge - time.monotonic()))
            except queue.Empty:
                continue
            pending: dict[str, CallRecord] = {}
            while True:
                if item is None:
                    stop = True
                else:
                    pending[item.key] = item
                if len(pending) >= self.batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            for call in pending.values():
                self._write(call)

    def _write(self, call: CallRecord) -> None:
        values: dict[str, Any] = {name: getattr(call, name) for name in _COLUMNS}
        try:
            record_id = self._ids.get(call.key)
            if record_id is None:
                fixed = {name: values.pop(name) for name in _FIXED}
                record = self.db.calls.start(**fixed, **values)
                self._ids[call.key] = record.id
                if call.is_summary:  # updated while its minute lasts; remembered a while
                    self._summary_keys.append(call.key)
                    if len(self._summary_keys) > 4096:
                        self._ids.pop(self._summary_keys.popleft(), None)
            else:
                for name in _FIXED:
                    values.pop(name)
                self.db.calls.update(record_id, **values)
            if call.end_at is not None and not call.is_summary:
                self._ids.pop(call.key, None)
            self.written += 1
        except Exception:
            self.failures += 1
            log.exception("%s: cannot write the call record", call.call_id)


class StoreAlarms:
    """Raises and clears gateway alarms (``rtpengine_unreachable``) in the store, in order, on
    one worker thread (the event loop never waits for the database)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.db = db
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otj-alarms")

    def raise_alarm(self, kind: str, subject: str, message: str) -> None:
        """Raise (or refresh) the alarm."""
        now = self.clock()
        self._submit(lambda: self.db.alarms.raise_alarm(kind, subject, message, now=now))

    def clear_alarm(self, kind: str, subject: str) -> None:
        """Clear it."""
        now = self.clock()
        self._submit(lambda: self.db.alarms.clear(kind, subject, now=now))

    def _submit(self, work: Callable[[], object]) -> None:
        self._pool.submit(work).add_done_callback(_log_failure)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._pool.shutdown(wait=True)


def _log_failure(future: Future[object]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("cannot write a gateway alarm: %s", exc)
