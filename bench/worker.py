"""Worker benchmark: N rooms in the Google Calendar fake, polled through the real client.

Prints, from one run:
- the wall time of a full first cycle and of a no-change incremental cycle, requests per cycle
  (counted by the fake), CPU time per room and peak RSS of the worker process;
- the COMPARISON: the same incremental reads as a raw client loop (same source, same threads,
  no store, no rules) and the fake's own request-handling time, so the worker's overhead shows;
- p50/p95 latency from an event edited in the fake to the changed meeting in the store, with
  the worker running its APScheduler loop (poll interval given; latency is bounded by it).

The fake runs in this process; the worker runs in a child process so its CPU and RSS are its
own. Targets (2,000 rooms): no-change cycle < 60 s, ≤ 1 request per room, RSS < 300 MB.

    ./dev bench worker [--rooms 2000] [--threads 16] [--database URL] [--edits 40]

On a shared PostgreSQL database, give the bench a schema of its own, e.g.
``--database 'postgresql+psycopg://postgres@127.0.0.1/test?options=-csearch_path%3Dbench'``
(after ``CREATE SCHEMA bench``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.google_calendar import GoogleCalendarFake  # noqa: E402
from tests.integration.service.support import (  # noqa: E402
    config_text,
    google_integration,
    meet_event,
    room_name,
)


def _open(url: str, key: str) -> Any:
    from otj.store import Database, SecretBox

    db = Database(url, box=SecretBox(key_file=Path(key), environ={}), application_name="bench")
    db.upgrade()
    return db


def _child(conn: Any, url: str, key: str, threads: int, poll_interval: int) -> None:
    """The worker process: runs what the parent asks and reports measurements."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from otj.worker.cycle import run_cycle
    from otj.worker.service import WorkerService
    from otj.worker.setup import make_poller

    db = _open(url, key)
    poller = make_poller(db, owner="bench", timeout=30)
    service: WorkerService | None = None
    while True:
        command, _arg = conn.recv()
        if command == "cycle":
            cpu, wall = time.process_time(), time.perf_counter()
            report = run_cycle(poller, threads=threads, force=True)
            conn.send(
                {
                    "wall": time.perf_counter() - wall,
                    "cpu": time.process_time() - cpu,
                    "polled": len(report.results),
                    "ok": sum(r.ok for r in report.results.values()),
                    "full": sum(r.full for r in report.results.values()),
                    "requests": sum(r.requests for r in report.results.values()),
                    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
        elif command == "raw":
            conn.send(_raw_loop(db, poller, threads))
        elif command == "loop":
            service = WorkerService(poller, threads=threads)
            service.start()
            conn.send({"started": True})
        elif command == "stop":
            if service is not None:
                service.stop()
            conn.send({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            return


def _raw_loop(db: Any, poller: Any, threads: int) -> dict[str, Any]:
    """The same incremental reads without the store and the rules (the comparison)."""
    plans = poller.plans.plans()
    states = {room: db.rooms.sync_state(room) for room in plans}
    now = datetime.now(UTC)

    def read(room: str) -> int:
        plan = plans[room]
        result = plan.source.sync(
            room,
            start=now - timedelta(days=1),
            end=now + timedelta(days=plan.profile.display_upcoming_meetings),
            state=states[room],
        )
        return int(result.requests)

    cpu, wall = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        requests = sum(pool.map(read, sorted(plans)))
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "requests": requests,
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--events", type=int, default=3, help="events per room")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in a temp dir)")
    parser.add_argument("--edits", type=int, default=40, help="events edited for latency")
    parser.add_argument("--poll-interval", type=int, default=20, help="seconds, latency phase")
    parser.add_argument(
        "--settle", type=float, help="seconds the loop runs before edits (1.5 intervals)"
    )
    return parser.parse_args()


def _edit_latencies(
    args: argparse.Namespace,
    db: Any,
    fake: GoogleCalendarFake,
    rooms: list[str],
    rng: random.Random,
    ask: Callable[[str], dict[str, Any]],
) -> tuple[list[float], dict[tuple[str, str], float]]:
    """Seconds from an edit to its meeting in the store while the worker loop runs, and the
    edits not seen within four poll intervals."""
    latencies: list[float] = []
    # latency: the APScheduler loop polls every room every poll_interval seconds
    ask("loop")
    settle = args.poll_interval * 1.5 if args.settle is None else args.settle
    time.sleep(settle)  # bench only: let the loop settle into its phase
    edits: dict[tuple[str, str], float] = {}
    # distinct rooms: a second edit of one event could hide the first before a poll
    for n, i in enumerate(rng.sample(range(args.rooms), min(args.edits, args.rooms))):
        room = rooms[i]
        subject = f"Edited {n}"
        fake.patch_event(room, f"r{i}e0", summary=subject)
        edits[(room, subject)] = time.time()
        time.sleep(rng.uniform(0, args.poll_interval / args.edits * 2))
    deadline = time.time() + args.poll_interval * 4
    pending = dict(edits)
    while pending and time.time() < deadline:
        for (room, subject), edited in list(pending.items()):
            for meeting in db.meetings.list(room):
                if meeting.subject == subject:
                    latencies.append(_visible_at(db, room, meeting.event_id) - edited)
                    del pending[(room, subject)]
                    break
        time.sleep(0.5)
    return latencies, pending


def _cycles(
    args: argparse.Namespace,
    url: str,
    fake: GoogleCalendarFake,
    ask: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """A full cycle, a no-change cycle and the raw client loop, printed; the no-change cycle."""
    print(
        f"otj worker benchmark: {args.rooms} rooms × {args.events} events, "
        f"{args.threads} threads, {url.split(':', maxsplit=1)[0]}"
    )
    fake.reset_counters()
    full = ask("cycle")
    print(
        f"  first cycle (full reads):      {full['wall']:7.2f} s wall, "
        f"{sum(fake.requests_by_room.values())} requests, {full['ok']}/{full['polled']} ok"
    )

    fake.reset_counters()
    before = fake.handling_seconds
    quiet = ask("cycle")
    requests = sum(fake.requests_by_room.values())
    fake_time = fake.handling_seconds - before
    print(
        f"  no-change incremental cycle:   {quiet['wall']:7.2f} s wall "
        f"(target < 60 s), {quiet['ok']}/{quiet['polled']} ok, {quiet['full']} full"
    )
    print(
        f"  requests per cycle:            {requests} = {requests / args.rooms:.2f} per room "
        "(target ≤ 1)"
    )
    print(f"  CPU time per room (worker):    {quiet['cpu'] / args.rooms * 1000:7.2f} ms")

    fake.reset_counters()
    raw = ask("raw")
    print("  COMPARISON, same run:")
    print(
        f"    raw client loop (no store, no rules): {raw['wall']:7.2f} s wall, "
        f"{raw['cpu'] / args.rooms * 1000:.2f} ms CPU per room, {raw['requests']} requests"
    )
    print(f"    the fake's own handling time:         {fake_time:7.2f} s (summed over its threads)")
    print(f"    worker / raw loop wall-time ratio:    {quiet['wall'] / raw['wall']:7.2f}")
    return quiet


def main() -> int:
    args = _arguments()

    tmp = Path(tempfile.mkdtemp(prefix="otj-bench-"))
    url = args.database or f"sqlite:///{tmp / 'bench.db'}"
    key = str(tmp / "secret.key")
    fake = GoogleCalendarFake().start()
    rng = random.Random(42)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rooms = [room_name(i) for i in range(args.rooms)]
    for i, room in enumerate(rooms):
        for j in range(args.events):
            start = now + timedelta(hours=1 + j * 5 + i % 24)
            fake.put_event(room, meet_event(start, event_id=f"r{i}e{j}"))

    from otj.config import apply_text

    db = _open(url, key)
    text = config_text(
        google_integration(fake, quota=100_000_000), rooms, poll_interval=args.poll_interval
    )
    result = apply_text(db, text, environ={})
    assert result.ok, [str(p) for p in result.problems]

    ctx = mp.get_context("spawn")
    parent, child_end = ctx.Pipe()
    child = ctx.Process(target=_child, args=(child_end, url, key, args.threads, args.poll_interval))
    child.start()

    def ask(command: str, arg: Any = None) -> dict[str, Any]:
        parent.send((command, arg))
        answer: dict[str, Any] = parent.recv()
        return answer

    quiet = _cycles(args, url, fake, ask)

    latencies, pending = (
        _edit_latencies(args, db, fake, rooms, rng, ask) if args.edits else ([], {})
    )
    loop = ask("stop")
    child.join(30)
    if latencies:
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(
            f"  edit → store latency ({len(latencies)} edits, poll interval "
            f"{args.poll_interval} s): p50 {statistics.median(latencies):.1f} s, p95 {p95:.1f} s"
            f" (bounded by the interval; {len(pending)} not seen)"
        )
    print(
        f"  peak RSS of the worker process: {max(quiet['rss_mb'], loop['rss_mb']):.0f} MB "
        "(target < 300 MB)"
    )
    fake.stop()
    db.close()
    return 0


def _visible_at(db: Any, room: str, event_id: str) -> float:
    """When a meeting's row was written: the poll's start plus the poll's duration."""
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        updated, duration = conn.execute(
            sa.text(
                "SELECT m.updated_at, r.last_duration_ms FROM meetings m "
                "JOIN rooms r ON r.room = m.room WHERE m.room = :room AND m.event_id = :event"
            ),
            {"room": room, "event": event_id},
        ).one()
    if isinstance(updated, str):
        updated = datetime.fromisoformat(updated)
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    return float(updated.timestamp() + duration / 1000)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    threading.current_thread().name = "bench"
    sys.exit(main())
