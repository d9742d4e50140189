"""Sync benchmark: a changed meeting reaching the room's codec, with push notifications and polling.

For each service with push (Microsoft Graph, Google Calendar, Exchange EWS): N rooms in its fake
(driven by the real client libraries), a simulated Cisco codec per room (the xAPI over HTTP,
``otj.demo.codec``), the otj API over TLS (uvicorn) and a worker with delivery in
this process. Two modes:

- ``push``: subscriptions/channels to the API (``OTJ_PUBLIC_URL``; EWS: streaming connections,
  one per group of up to 200 rooms); rooms polled at the safety net
  (``notification_safety_poll``, 900 s);
- ``polling``: no public URL; rooms polled at the interval the quota allows (``poll_interval``
  10 s raised to the quota floor: 200 rooms on 900,000 requests a day → 24 s).

It edits ``--edits`` meetings in random rooms at random moments and reports p50/p95 seconds
from the edit in the fake to the changed booking on the room's codec (the Join button), and to
the store on the way; requests per room per day: measured in a quiet window after the edits and
extrapolated, and at the interval in force; for EWS, the streaming connections open.

    ./dev bench sync [--rooms 200] [--edits 20] [--window 30] [--services graph,google,ews]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from otj.api.app import create_app  # noqa: E402
from otj.demo.codec.farm import ThreadedCodecFarm  # noqa: E402
from otj.demo.codec.server import SimulatedCodec  # noqa: E402
from otj.store import Database, SecretBox  # noqa: E402
from otj.worker.delivery import default_deliverer  # noqa: E402
from otj.worker.intervals import room_intervals  # noqa: E402
from otj.worker.notifications import NotificationHub  # noqa: E402
from otj.worker.service import WorkerService  # noqa: E402
from otj.worker.setup import make_poller  # noqa: E402
from otj.worker.subscriptions import PushManager  # noqa: E402
from tests.fakes.ews import EwsFake  # noqa: E402
from tests.fakes.google_calendar import GoogleCalendarFake  # noqa: E402
from tests.fakes.google_calendar_http import self_signed_certificate  # noqa: E402
from tests.fakes.graph import GraphFake  # noqa: E402
from tests.fakes.graph_store import FakeEvent  # noqa: E402
from tests.integration.service.push_support import serve_tls  # noqa: E402
from tests.integration.service.support import google_integration, meet_event  # noqa: E402

QUOTA = 900_000
PASSWORD = "bench-codec"
MEET = "Join with Google Meet: https://meet.google.com/abc-defg-hij"


def _rooms(n: int) -> list[str]:
    return [f"room{i:04d}@example.com" for i in range(n)]


def _config(integration: dict[str, Any], rooms: list[str], codecs: dict[str, Any]) -> str:
    doc = {
        "integrations": [{**integration, "daily_request_quota": QUOTA}],
        "profiles": [{"name": "Rooms", "integration": integration["name"], "poll_interval": 10}],
        "endpoint_groups": [{"name": "All", "profile": "Rooms"}],
        "endpoints": [
            {
                "name": r.split("@")[0],
                "group": "All",
                "room_resource_email": r,
                "type": "CISCO",
                "api_address": "127.0.0.1",
                "api_port": codecs[r].port,
                "use_https": False,
                "verify_cert": False,
                "api_username": "admin",
                "api_password": PASSWORD,
            }
            for r in rooms
        ],
        "meeting_processing_rules": [
            {"name": "Meet", "meeting_type": "googlemeetsipguestjoin", "priority": 10}
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


class _Service:
    """One fake with N rooms: how to configure otj for it and how to edit a meeting."""

    def __init__(self, kind: str, rooms: list[str], tls: tuple[Path, Path]) -> None:
        self.kind = kind
        self.rooms = rooms
        self.events: dict[str, str] = {}
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
        if kind in ("graph", "ews"):
            server: Any = (
                GraphFake(tls=tls, notification_ca=tls[0]) if kind == "graph" else EwsFake()
            )
            self.fake: Any = server.start()
            if kind == "ews":
                self.fake.streaming.heartbeat = 5.0
            for room in rooms:
                if kind == "ews":
                    self.fake.store.add_mailbox(room)
                self.events[room] = self.fake.add_event(
                    room,
                    FakeEvent(subject="v0", start=start, end=start + timedelta(hours=1), body=MEET),
                )
            self.integration = (
                _ews_integration(self.fake)
                if kind == "ews"
                else {
                    "name": "M365",
                    "type": "graph",
                    "tenant_id": self.fake.tenant_id,
                    "client_id": self.fake.client_id,
                    "client_secret": self.fake.client_secret,
                    "authority_host": self.fake.authority_host,
                    "graph_endpoint": self.fake.graph_endpoint,
                    "ca_file": str(tls[0]),
                }
            )
        else:
            self.fake = GoogleCalendarFake(notification_ca=tls[0]).start()
            for room in rooms:
                self.events[room] = self.fake.put_event(room, meet_event(start, subject="v0"))
            self.integration = google_integration(self.fake)

    def edit(self, room: str, subject: str) -> None:
        if self.kind == "google":
            self.fake.patch_event(room, self.events[room], summary=subject)
        else:
            self.fake.store.update(room, self.events[room], subject=subject)

    def requests(self) -> int:
        if self.kind == "ews":  # the streaming connections are not requests per change
            return sum(1 for op, _ in self.fake.operations if op != "GetStreamingEvents")
        return sum(self.fake.requests_by_room.values())


def _ews_integration(fake: EwsFake) -> dict[str, Any]:
    return {
        "name": "EWS",
        "type": "exchange",
        "service_endpoint": fake.service_endpoint,
        "username": "EXAMPLE\\svc-otj",
        "password": "ews-password",
        "auth": "basic",
        "version": "Exchange2016",
        "max_wait": 2,
    }


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} not within {timeout:.0f} s")
        time.sleep(0.1)


@contextmanager
def _worker(db: Database, svc: _Service, tls: tuple[Path, Path], push: bool) -> Iterator[Any]:
    hub = NotificationHub(db)
    app = create_app(db, router_options={"otj.api.notifications": {"hub": hub}})
    with serve_tls(app, tls) as base_url:
        poller = make_poller(db, owner=f"bench-{svc.kind}", timeout=20)
        manager = (
            PushManager(
                db, poller.plans, hub, public_url=base_url, clock=poller.clock, owner=poller.owner
            )
            if push
            else None
        )
        service = WorkerService(poller, deliverer=default_deliverer(db), push=manager, threads=16)
        service.start()
        try:
            yield manager
        finally:
            service.stop()


def _on_codec(codec: SimulatedCodec, subject: str) -> bool:
    return any(b.title == subject for b in list(codec.bookings))


def _measure(
    db: Database,
    svc: _Service,
    codecs: dict[str, SimulatedCodec],
    args: argparse.Namespace,
    rng: random.Random,
) -> tuple[list[float], list[float], float]:
    """Seconds from each of ``--edits`` edits to the store and to the codec; requests/room/day
    in a quiet window afterwards."""
    pending: dict[str, tuple[str, float, bool]] = {}
    to_store: list[float] = []
    to_codec: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with lock:
                items = list(pending.items())
            for room, (subject, began, stored) in items:
                now = time.monotonic()
                if not stored and any(m.subject == subject for m in db.meetings.list(room)):
                    with lock:
                        pending[room] = (subject, began, True)
                        to_store.append(now - began)
                if _on_codec(codecs[room], subject):
                    with lock:
                        pending.pop(room, None)
                        to_codec.append(time.monotonic() - began)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    chosen = rng.sample(svc.rooms, args.edits)
    for i, room in enumerate(chosen):
        time.sleep(10.0 / args.edits * rng.random() * 2)
        subject = f"v{i + 1}"
        with lock:
            pending[room] = (subject, time.monotonic(), False)
        svc.edit(room, subject)
    _wait(lambda: not pending, 180, "every edit on its codec")
    stop.set()
    watcher.join()
    before = svc.requests()
    time.sleep(args.window)
    per_day = (svc.requests() - before) / len(svc.rooms) * 86_400 / args.window
    return to_store, to_codec, per_day


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run(kind: str, args: argparse.Namespace, tls: tuple[Path, Path], tmp: Path) -> None:
    rng = random.Random(7)
    for mode in args.modes.split(","):
        _one(kind, mode == "push", args, tls, tmp, rng)


def _one(
    kind: str,
    push: bool,
    args: argparse.Namespace,
    tls: tuple[Path, Path],
    tmp: Path,
    rng: random.Random,
) -> None:
    from otj.config import apply_text

    mode = "push" if push else "polling"
    svc = _Service(kind, _rooms(args.rooms), tls)
    farm = ThreadedCodecFarm()
    streams = ""
    try:
        codecs = {
            r: farm.add(r.split("@")[0], username="admin", password=PASSWORD) for r in svc.rooms
        }
        db = Database(
            f"sqlite:///{tmp / f'{kind}-{mode}.db'}",
            box=SecretBox(key_file=tmp / "secret.key", environ={}),
            application_name="bench",
        )
        db.upgrade()
        result = apply_text(db, _config(svc.integration, svc.rooms, codecs), environ={})
        assert result.ok, [str(p) for p in result.problems]
        with _worker(db, svc, tls, push) as manager:
            _wait(
                lambda: all(_on_codec(codecs[r], "v0") for r in svc.rooms),
                600,
                "the first booking on every codec",
            )
            if manager is not None:
                _wait(
                    lambda: len(manager.healthy()) == len(svc.rooms),
                    300,
                    "every room subscribed",
                )
            time.sleep(2)
            interval = room_intervals(db, now=datetime.now(UTC))[svc.rooms[0]]
            to_store, to_codec, measured = _measure(db, svc, codecs, args, rng)
            if kind == "ews" and push:
                streams = (
                    f"  EWS streaming connections: {svc.fake.streaming.open_streams} open, "
                    f"peak {svc.fake.streaming.peak_streams}"
                )
        db.close()
    finally:
        farm.close()
        svc.fake.stop()
    at_interval = 86_400 / interval.seconds
    print(
        f"{kind:6} {mode:8} codec p50 {statistics.median(to_codec):5.1f} s  "
        f"p95 {_percentile(to_codec, 0.95):5.1f} s  (store p50 "
        f"{statistics.median(to_store):4.1f} s, p95 {_percentile(to_store, 0.95):4.1f} s)  "
        f"requests/room/day: {measured:7.0f} measured ({args.window:.0f} s window), "
        f"{at_interval:6.0f} at the interval in force ({interval.reason}){streams}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--services", default="graph,google,ews")
    parser.add_argument("--modes", default="push,polling")
    parser.add_argument(
        "--ews-group-size",
        type=int,
        default=0,
        help="subscriptions per EWS streaming connection (1: one per room, as before grouping)",
    )
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # skipped runs under load
    if args.ews_group_size:
        import calendars.sources.exchange_stream

        calendars.sources.exchange_stream.GROUP_SIZE = args.ews_group_size
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tls = self_signed_certificate(tmp)
        print(f"{args.rooms} rooms per service, {args.edits} edits, quota {QUOTA:,}/day")
        for kind in args.services.split(","):
            _run(kind, args, tls, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
