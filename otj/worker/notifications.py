"""Where notifications meet the worker: who is subscribed, and a debounced sync per room.

The HTTP endpoints (``otj.api.notifications``) authenticate each notification here: the
subscription id must be one this process opened, or (with a database) one a live lease in
``push_leases`` names, and its token must match (compared in constant time, against the stored
SHA-256 for another process's subscription). A room this process holds is synced on the
debouncer's threads, never in the request; any other room's notification is queued in the
database for the process holding it (``otj.worker.forwarding``). A burst of notifications for
a room is one sync; one arriving while that sync runs is one more sync after it (the change
may postdate the read).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

DEBOUNCE = 0.5
"""Seconds a room waits after its first notification before its sync starts."""


class Debouncer:
    """Runs ``run(room)`` once per burst of ``notify(room)``, at most once at a time per room."""

    def __init__(
        self, run: Callable[[str], object], *, delay: float = DEBOUNCE, threads: int = 4
    ) -> None:
        self._run = run
        self._delay = delay
        self._cond = threading.Condition()
        self._due: dict[str, float] = {}
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="otj-push")
        self._thread = threading.Thread(
            target=self._dispatch, name="otj-push-debounce", daemon=True
        )
        self._thread.start()

    def notify(self, room: str) -> None:
        """A change for ``room``: sync it soon (once for the whole burst)."""
        with self._cond:
            if self._closed:
                return
            if room in self._running:
                self._again.add(room)
            elif room not in self._due:
                self._due[room] = time.monotonic() + self._delay
                self._cond.notify()

    def pending(self) -> int:
        """Rooms waiting or syncing."""
        with self._cond:
            return len(self._due) + len(self._running)

    def close(self) -> None:
        """Stop dispatching and wait for running syncs."""
        with self._cond:
            self._closed = True
            self._due.clear()
            self._cond.notify()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                ready = [room for room, due in self._due.items() if due <= now]
                for room in ready:
                    del self._due[room]
                    self._running.add(room)
                    self._pool.submit(self._one, room)
                timeout = min(self._due.values(), default=now + 60) - now
                self._cond.wait(timeout=max(0.01, timeout))

    def _one(self, room: str) -> None:
        try:
            self._run(room)
        except Exception:
            log.exception("%s: sync after a notification failed", room)
        finally:
            with self._cond:
                self._running.discard(room)
                if room in self._again and not self._closed:
                    self._again.discard(room)
                    self._due[room] = time.monotonic() + self._delay
                    self._cond.notify()


@dataclass(frozen=True, kw_only=True, slots=True)
class Registered:
    """A subscription this process opened."""

    kind: str
    subscription_id: str
    room: str
    token: str = field(repr=False)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NotificationHub:
    """The subscriptions this process holds, shared by the HTTP endpoints and the worker; with
    ``db``, also the gateway to the subscriptions other processes hold."""

    def __init__(
        self, db: Database | None = None, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._subs: dict[tuple[str, str], Registered] = {}
        self._held: Counter[str] = Counter()
        self._validating: dict[str, int] = {}
        self._debouncer: Debouncer | None = None
        self._on_lifecycle: Callable[[str, str], None] | None = None
        self.accepted = 0
        self.rejected = 0
        self.forwarded = 0

    # --- the worker's side --------------------------------------------------------------------

    def start(
        self,
        sync: Callable[[str], object],
        *,
        lifecycle: Callable[[str, str], None],
        delay: float = DEBOUNCE,
    ) -> None:
        """Route changes to ``sync(room)`` (debounced) and lifecycle events to ``lifecycle``."""
        self._debouncer = Debouncer(sync, delay=delay)
        self._on_lifecycle = lifecycle

    def stop(self) -> None:
        """Stop syncing on notifications (waits for running syncs)."""
        debouncer, self._debouncer = self._debouncer, None
        if debouncer is not None:
            debouncer.close()

    def register(self, kind: str, subscription_id: str, room: str, token: str) -> None:
        """Accept notifications for this subscription from now on."""
        with self._lock:
            old = self._subs.get((kind, subscription_id))
            if old is not None:
                self._held[old.room] -= 1
            self._subs[(kind, subscription_id)] = Registered(
                kind=kind, subscription_id=subscription_id, room=room, token=token
            )
            self._held[room] += 1

    def unregister(self, kind: str, subscription_id: str) -> None:
        """Accept nothing more for this subscription."""
        with self._lock:
            old = self._subs.pop((kind, subscription_id), None)
            if old is not None:
                self._held[old.room] -= 1
                if self._held[old.room] <= 0:
                    del self._held[old.room]

    @contextmanager
    def validating(self, kind: str) -> Iterator[None]:
        """While a subscription is being opened, the service's validation request is answered."""
        with self._lock:
            self._validating[kind] = self._validating.get(kind, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._validating[kind] -= 1

    def deliver(self, room: str, event: str) -> None:
        """A notification another process queued for a room this process holds."""
        if not self.holds(room):
            return  # the lease moved on since: the new holder subscribed afresh and synced
        if event == "changed":
            self.sync_here(room)
        else:
            self.lifecycle_here(room, event)

    # --- the endpoints' side ------------------------------------------------------------------

    def holds(self, room: str) -> bool:
        """True while this process holds a subscription of ``room``."""
        with self._lock:
            return room in self._held

    def expects_validation(self, kind: str) -> bool:
        """True while this process (or, with a database, any process) opens a subscription of
        ``kind``."""
        with self._lock:
            if self._validating.get(kind, 0) > 0:
                return True
        if self._db is None:
            return False
        try:
            return self._db.push.expects_validation(kind, now=self._clock())
        except Exception:
            log.exception("cannot read the push leases")
            return False

    def authenticate(self, kind: str, subscription_id: object, token: object) -> str | None:
        """The room of a subscription this process (or a live lease holder) opened whose token
        matches, else None. Reads the database: call it off the event loop."""
        if not isinstance(subscription_id, str) or not isinstance(token, str):
            self._reject()
            return None
        with self._lock:
            sub = self._subs.get((kind, subscription_id))
        if sub is not None:
            ok = hmac.compare_digest(sub.token.encode(), token.encode())
            room = sub.room
        else:
            ok, room = self._authenticate_stored(kind, subscription_id, token)
        if not ok:
            self._reject()
            return None
        with self._lock:
            self.accepted += 1
        return room

    def _authenticate_stored(self, kind: str, subscription_id: str, token: str) -> tuple[bool, str]:
        if self._db is None:
            return False, ""
        from otj.store.push import token_hash

        try:
            lease = self._db.push.find(kind, subscription_id)
        except Exception:
            log.exception("cannot read the push leases")
            return False, ""
        if lease is None or not lease.live(self._clock()) or not lease.token_sha256:
            return False, ""
        return hmac.compare_digest(lease.token_sha256, token_hash(token)), lease.room

    def changed(self, room: str) -> None:
        """An authenticated change notification: sync the room soon (here, or queued for the
        process holding it)."""
        if self.holds(room) or self._db is None:
            self.sync_here(room)
        else:
            self._forward(room, "changed")

    def lifecycle(self, room: str, event: str) -> None:
        """An authenticated lifecycle notification (handled off the request)."""
        if self.holds(room) or self._db is None:
            self.lifecycle_here(room, event)
        else:
            self._forward(room, event)

    def sync_here(self, room: str) -> None:
        """Sync ``room`` in this process (debounced)."""
        debouncer = self._debouncer
        if debouncer is not None:
            debouncer.notify(room)

    def lifecycle_here(self, room: str, event: str) -> None:
        """Handle a lifecycle event of ``room`` in this process."""
        handler = self._on_lifecycle
        if handler is not None:
            handler(room, event)

    def _forward(self, room: str, event: str) -> None:
        assert self._db is not None
        try:
            self._db.push.enqueue(room, event, now=self._clock())
        except Exception:
            log.exception("%s: cannot queue a notification for its worker", room)
            return
        with self._lock:
            self.forwarded += 1

    def _reject(self) -> None:
        with self._lock:
            self.rejected += 1
