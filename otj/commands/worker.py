"""``otj worker [--once]``: poll the room calendars and deliver the meetings."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from otj.commands.runtime import add_database_arguments, echo, positive_float, positive_int


def register(subparsers: Any) -> None:
    """Add ``otj worker``."""
    parser = subparsers.add_parser(
        "worker",
        help="poll room calendars (one APScheduler job per room) and deliver",
        description=(
            "Runs until SIGINT/SIGTERM. With --once, polls every due room once, delivers, and "
            "exits 0 when every polled room succeeded. Several workers may share one PostgreSQL "
            "database (rooms are leased); with SQLite run one."
        ),
    )
    parser.add_argument("--once", action="store_true", help="one poll-and-deliver cycle, then exit")
    parser.add_argument(
        "--force", action="store_true", help="with --once: poll every room, due or not"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=16, help="rooms polled at a time (16)"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=20.0, help="seconds per calendar request (20)"
    )
    parser.add_argument(
        "--lease-ttl",
        type=positive_float,
        default=120.0,
        help="seconds a room's poll or push lease lasts (120); a dead worker's rooms move to "
        "another after this",
    )
    parser.add_argument(
        "--worker-id",
        help="lease owner name (default host:pid:random); a restart with the same id takes "
        "back its own leases at once",
    )
    parser.add_argument("--no-delivery", action="store_true", help="poll only")
    parser.add_argument(
        "--public-url",
        default="",
        help="base URL an `otj serve` process receives calendar notifications at "
        "(default: $OTJ_PUBLIC_URL; without one, only Exchange rooms push)",
    )
    add_database_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.worker.cycle import run_cycle
    from otj.worker.delivery import NoDelivery, default_deliverer
    from otj.worker.service import WorkerService
    from otj.worker.setup import WorkerLocked, make_poller, make_push, single_worker_lock

    db = open_store(args, application_name="otj-worker")
    try:
        with single_worker_lock(db):
            poller = make_poller(
                db, owner=args.worker_id, timeout=args.timeout, lease_ttl=args.lease_ttl
            )
            deliverer = NoDelivery() if args.no_delivery else default_deliverer(db)
            if args.once:
                try:
                    report = run_cycle(
                        poller, deliverer=deliverer, threads=args.threads, force=args.force
                    )
                finally:
                    poller.plans.close()
                    deliverer.close()
                echo(report.summary())
                return 0 if report.ok else 1
            push = make_push(db, poller, args.public_url, lease_ttl=args.lease_ttl)
            service = WorkerService(poller, deliverer=deliverer, threads=args.threads, push=push)
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            service.start()
            stop.wait()
            service.stop()
            return 0
    except WorkerLocked as exc:
        echo(f"error: {exc}", err=True)
        return 2
    finally:
        db.close()
