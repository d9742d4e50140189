"""Call licences counted across every gateway process that shares the database.

``ClusterLicences`` is a ``Licences`` (the proxy's interface: ``acquire``, ``release``,
``in_use``, ``total``) whose admission adds what the other live processes hold. The INVITE path
never touches the database: it compares this process's own count plus ``others``, a figure a
heartbeat thread refreshes. The thread publishes this process's count with an expiry
(``HeartbeatPolicy.expiry``) every ``interval`` seconds, and soon after every change (at most
every ``min_gap``), reading back the sum of the other processes' unexpired rows. A process that
dies stops publishing: its licences count until its row expires (30 s by default), and the others
notice at their next heartbeat (5 s) -- within a minute.

The approximation (the race window): two processes that admit calls at the same moment each
decide on the other's last published count, so for at most one heartbeat round trip (``min_gap``
plus a database write and read, typically well under a second under load) the cluster may admit
a few calls beyond the total -- never more than the calls admitted elsewhere in that window. A
process that cannot reach the database keeps the last figure it read and keeps serving.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from guestjoin.licences import PER_CALL, Licences

log = logging.getLogger(__name__)


class LicenceBoard(Protocol):
    """Where processes publish their counts (``otj.store.licences.LicenceBoard``)."""

    def publish(self, process: str, in_use: int, *, now: datetime, expires_at: datetime) -> int:
        """Store this process's count; return the other live processes' sum."""

    def withdraw(self, process: str) -> None:
        """Remove this process's row."""


@dataclass(frozen=True, kw_only=True, slots=True)
class HeartbeatPolicy:
    """How often a process publishes its licence count, and how long a publication stands."""

    interval: float = 5.0  # seconds between heartbeats when nothing changes
    expiry: float = 30.0  # a row not refreshed for this long no longer counts
    min_gap: float = 0.2  # changes are published at most this often (bounds database writes)

    def __post_init__(self) -> None:
        if not 0 < self.min_gap <= self.interval < self.expiry:
            raise ValueError(
                "licence heartbeat: need 0 < min_gap <= interval < expiry "
                f"(got {self.min_gap}, {self.interval}, {self.expiry})"
            )


def admits(calls_here: int, others: int, total: int) -> bool:
    """Whether one more call (``PER_CALL`` licences) fits: own calls plus the others' licences."""
    return (calls_here + 1) * PER_CALL + others <= total


def process_name() -> str:
    """A name for this process's row that no other process, here or elsewhere, has."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClusterLicences(Licences):
    """Licences of this process plus the other processes' published counts."""

    def __init__(
        self,
        total: int,
        board: LicenceBoard,
        *,
        policy: HeartbeatPolicy | None = None,
        process: str | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__(total)
        self.board = board
        self.policy = policy or HeartbeatPolicy()
        self.process = process or process_name()
        self._now = now
        self.others = 0  # licences the other live processes held at the last heartbeat
        self.heartbeats = 0
        self.failures = 0
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, key: str) -> bool:
        """Take two licences for a call unless this process's and the others' exceed the total."""
        if key in self._held:
            return True
        if not admits(len(self._held), self.others, self.total):
            return False
        self._held.add(key)
        self._mark_changed()
        return True

    def release(self, key: str) -> None:
        """Give a call's licences back (idempotent)."""
        if key in self._held:
            self._held.discard(key)
            self._mark_changed()

    def _mark_changed(self) -> None:
        if not self._changed.is_set():  # a flag read; set() takes a lock and notifies
            self._changed.set()

    @property
    def cluster_in_use(self) -> int:
        """Licences held in the cluster, as far as this process knows."""
        return self.in_use + self.others

    def beat(self) -> None:
        """Publish this process's count and read the others' (blocking: not on the event loop)."""
        now = self._now()
        try:
            self.others = self.board.publish(
                self.process,
                self.in_use,
                now=now,
                expires_at=now + timedelta(seconds=self.policy.expiry),
            )
        except Exception:
            self.failures += 1
            log.exception("licence heartbeat failed; keeping the last count (%d)", self.others)
            return
        self.heartbeats += 1

    def start(self) -> None:
        """Publish once now, then keep publishing from a daemon thread."""
        self.beat()
        self._thread = threading.Thread(target=self._run, name="otj-licence-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the heartbeat and withdraw this process's row (its licences are free at once)."""
        self._stopping.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.board.withdraw(self.process)
        except Exception:
            log.exception("cannot withdraw the licence row; it expires by itself")

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._changed.wait(self.policy.interval)
            if self._stopping.is_set():
                return
            self._changed.clear()
            self.beat()
            self._stopping.wait(self.policy.min_gap)
