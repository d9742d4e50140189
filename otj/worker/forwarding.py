"""Takes the notifications other API processes queued for the rooms this worker holds.

An API process that receives a notification for a room whose push lease another process holds
queues it in ``push_notifications`` (``otj.store.push``). The holder takes its rows here: on
PostgreSQL a ``LISTEN`` connection wakes it at once (``NOTIFY`` with the holder's name, sent
in the queuing transaction), with a poll every ``PG_POLL`` seconds as the net; on SQLite (one
worker, but ``otj serve --no-worker`` processes may queue) it polls every ``SQLITE_POLL``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from otj.store.push import NOTIFY_CHANNEL

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

PG_POLL = 2.0
SQLITE_POLL = 0.25


class _Listener:
    """A dedicated PostgreSQL connection that ``LISTEN``s on ``NOTIFY_CHANNEL``."""

    def __init__(self, db: Database) -> None:
        self._raw: Any = db.engine.raw_connection()
        self._conn = cast(Any, self._raw.driver_connection)
        self._conn.commit()
        self._conn.autocommit = True
        self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, owner: str, timeout: float) -> None:
        """Return when a notification for ``owner`` arrived or ``timeout`` passed."""
        for note in self._conn.notifies(timeout=timeout):
            if note.payload in (owner, ""):
                return

    def close(self) -> None:
        with suppress(Exception):
            self._conn.execute(f"UNLISTEN {NOTIFY_CHANNEL}")
        with suppress(Exception):
            self._raw.invalidate()  # never back into the pool with LISTEN state


class QueueDrain:
    """A thread handing ``deliver(room, event)`` what was queued for ``owner``'s rooms."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        deliver: Callable[[str, str], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._owner = owner
        self._deliver = deliver
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otj-push-queue", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=PG_POLL + 3)

    def _listener(self) -> _Listener | None:
        if self._db.dialect != "postgresql":
            return None
        try:
            return _Listener(self._db)
        except Exception as exc:  # noqa: BLE001 (polling still works)
            log.warning("cannot LISTEN for queued notifications (polling instead): %s", exc)
            return None

    def _run(self) -> None:
        listener = self._listener()
        try:
            while not self._stop.is_set():
                self.drain()
                if listener is None:
                    self._stop.wait(SQLITE_POLL if self._db.is_sqlite else PG_POLL)
                    continue
                try:
                    listener.wait(self._owner, PG_POLL)
                except Exception as exc:  # noqa: BLE001 (the connection broke: reopen later)
                    log.warning("LISTEN connection lost (polling until it is back): %s", exc)
                    listener.close()
                    self._stop.wait(PG_POLL)
                    listener = self._listener()
        finally:
            if listener is not None:
                listener.close()

    def drain(self) -> int:
        """Take and deliver what is queued now; the count."""
        try:
            items = self._db.push.take(owner=self._owner, now=self._clock())
        except Exception:
            log.exception("cannot read the queued notifications")
            return 0
        for room, event in items:
            try:
                self._deliver(room, event)
            except Exception:
                log.exception("%s: handling a queued %s notification failed", room, event)
        self.delivered += len(items)
        return len(items)
