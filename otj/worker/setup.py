"""Assemble a poller from the store and the calendar registry (used by the CLI and serve)."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import make_url

from otj.store import Database
from otj.worker.clock import Clock, SystemClock
from otj.worker.plans import PlanBook, ProcessorFactory, SourceFactory, rules_processor
from otj.worker.poller import PollerSettings, RoomPoller

if TYPE_CHECKING:
    from otj.worker.subscriptions import PushManager

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0


class WorkerLocked(RuntimeError):
    """Another worker process already uses this SQLite database."""


def default_owner() -> str:
    """``host:pid:random`` — unique per process; pass ``--worker-id`` to keep it over restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def registry_source_factory(*, timeout: float) -> SourceFactory:
    """``calendars.registry.create_source`` with a per-call timeout."""
    from calendars.registry import create_source

    return partial(create_source, timeout=timeout)


def make_poller(
    db: Database,
    *,
    owner: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    lease_ttl: float = 120.0,
    clock: Clock | None = None,
    source_factory: SourceFactory | None = None,
    processor_factory: ProcessorFactory = rules_processor,
) -> RoomPoller:
    """A poller over the store's rooms with the real calendar sources and rules."""
    plans = PlanBook(
        db,
        source_factory=source_factory or registry_source_factory(timeout=timeout),
        processor_factory=processor_factory,
    )
    settings = PollerSettings(
        owner=owner or default_owner(), lease_ttl=timedelta(seconds=lease_ttl)
    )
    return RoomPoller(db, plans, settings=settings, clock=clock or SystemClock())


def public_url(given: str = "") -> str:
    """The public base URL (``given``, else ``$OTJ_PUBLIC_URL``), without a trailing slash."""
    from otj.delivery.engine.runner import PUBLIC_URL_ENV

    return (given or os.environ.get(PUBLIC_URL_ENV, "")).strip().rstrip("/")


def make_push(
    db: Database, poller: RoomPoller, given_url: str = "", *, lease_ttl: float = 120.0
) -> PushManager:
    """Push notifications (leases in the store, a notification hub that queues what other
    processes hold) towards the public URL; without one only the sources that hold their own
    connections (EWS streaming) push."""
    from otj.delivery.engine.runner import PUBLIC_URL_ENV
    from otj.worker.notifications import NotificationHub
    from otj.worker.subscriptions import PushManager

    url = public_url(given_url)
    hub = NotificationHub(db, clock=poller.clock.now)
    if url:
        log.info(
            "push notifications to %s/notifications/… where the calendar service can push", url
        )
    else:
        log.info(
            "no public URL (%s): Graph and Google calendars are polled, no push notifications "
            "(Exchange rooms use EWS streaming notifications)",
            PUBLIC_URL_ENV,
        )
    return PushManager(
        db,
        poller.plans,
        hub,
        public_url=url,
        clock=poller.clock,
        owner=poller.owner,
        lease_ttl=timedelta(seconds=lease_ttl),
    )


@contextmanager
def single_worker_lock(db: Database) -> Iterator[None]:
    """With SQLite, hold an exclusive lock file so a second worker process refuses to start.

    PostgreSQL needs no lock: workers share it by leasing rooms.
    """
    with database_lock(db.url):
        yield


@contextmanager
def database_lock(url: str) -> Iterator[None]:
    """:func:`single_worker_lock` by URL, so a command can take it before opening the store."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = Path(database + ".worker.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise WorkerLocked(
                f"another worker already uses {database}: with SQLite run one worker "
                "(use PostgreSQL for several)"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
