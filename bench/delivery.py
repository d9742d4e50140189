"""Delivery benchmark: N simulated Cisco codecs in one process, the real store and runner.

Prints, from one run:

* push cycle after a change to every room (our DeliveryRunner: store → plan → Bookings Put →
  Bookings List read-back → state/alarms) next to a bare loop of the same Bookings Put POSTs
  with httpx (no store, no read-back) at the same concurrency;
* a cycle with no change (idempotence: pushes and device requests should be ~0);
* the same cycles to N Webex cloud devices through the cloud xAPI (``bench/delivery_cloud.py``,
  the Webex fake over loopback HTTP): time and requests next to the local push's;
* pull API requests/s and p50/p99 latency at C concurrent clients (``bench/delivery_pull.py``:
  our FastAPI app under uvicorn with ``otj serve``'s settings, in its own process: bearer token
  check, the room's cached JSON, ETag) next to the same JSON bodies served as static files by
  ``python -m http.server`` (HTTP/1.1 keep-alive) and by a uvicorn/Starlette static route, and
  from memory by a bare ASGI function under uvicorn (the floor: what our checks and FastAPI add
  is the difference).

Usage: ``./dev bench delivery [--codecs 2000] [--clients 50] [--duration 5]``; ``--pull-only``
skips the push part, ``--rounds R`` runs the servers R times in turn and prints medians (the
machine is noisy), ``--baseline DIR`` also serves the pull API from another source tree (for
example ``git archive HEAD~1 | tar -x -C DIR``) in the same rounds, for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.delivery_pull import (  # noqa: E402
    pull_section,
    serve_api,
    serve_memory,
    serve_static_uvicorn,
)
from otj.delivery.devices.booking_documents import render_put_command  # noqa: E402
from otj.delivery.devices.bookings import bookings_for_room  # noqa: E402
from otj.delivery.engine.runner import DeliveryRunner  # noqa: E402
from otj.demo.codec.farm import ThreadedCodecFarm  # noqa: E402
from otj.model import (  # noqa: E402
    CallProtocol,
    Endpoint,
    EndpointGroup,
    Meeting,
    Platform,
    Profile,
)
from otj.secret import Secret  # noqa: E402
from tests.integration.delivery.storehelp import store_meetings  # noqa: E402

PASSWORD = "bench-secret"
LIST_DOCUMENT = b"<Command><Bookings><List/></Bookings></Command>"
PROFILE = Profile(name="Bench", start_buffer=5)


def room_name(i: int) -> str:
    return f"room{i:05d}@rooms.example.com"


def meetings_for(room: str, now: datetime, version: int) -> list[Meeting]:
    base = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    out = []
    for k in range(4):
        start = base + timedelta(hours=2 * k)
        out.append(
            Meeting(
                room=room,
                event_id=f"{room}-{k}",
                subject=f"Meeting {k} v{version} — café ☕",
                organizer_name="Ola Normann",
                organizer_email="ola@example.com",
                start=start,
                end=start + timedelta(minutes=45),
                join_from=start - timedelta(minutes=5),
                join_until=start + timedelta(minutes=45),
                alias=None if k == 3 else f"abc-defg-h{k:02d}@google.pexip.me",
                protocol=CallProtocol.SIP,
                platform=Platform.GOOGLE_MEET,
                rule="bench",
            )
        )
    return out


def setup_store(db_url: str, key_file: Path, codecs: list[tuple[str, int]], now: datetime):  # type: ignore[no-untyped-def]
    from otj.store import Database, SecretBox
    from otj.store.values import Configuration

    db = Database(db_url, box=SecretBox(key_file=key_file, environ={}))
    db.upgrade()
    endpoints = tuple(
        Endpoint(
            name=name,
            group="Bench",
            room_resource_email=room_name(i),
            type="CISCO",
            api_address="127.0.0.1",
            api_port=port,
            use_https=False,
            verify_cert=False,
            api_username="admin",
            api_password=Secret(PASSWORD),
        )
        for i, (name, port) in enumerate(codecs)
    )
    db.config.apply(
        Configuration(
            sections=frozenset({"profiles", "endpoint_groups", "endpoints"}),
            profiles=(PROFILE,),
            endpoint_groups=(EndpointGroup(name="Bench", profile="Bench"),),
            endpoints=endpoints,
        )
    )
    return db


def commit_all(db, count: int, now: datetime, version: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(count):
        room = room_name(i)
        store_meetings(db, room, meetings_for(room, now, version), now=now)


async def bare_put(
    urls: list[str], documents: list[bytes], concurrency: int, *, read_back: bool = False
) -> float:
    """The comparison: the same Bookings Put POSTs (and Bookings List), straight from httpx."""
    slots = asyncio.Semaphore(concurrency)
    clients = [
        httpx.AsyncClient(base_url=u, auth=("admin", PASSWORD), trust_env=False) for u in urls
    ]

    async def one(client: httpx.AsyncClient, document: bytes) -> None:
        async with slots:
            response = await client.post(
                "/putxml", content=document, headers={"Content-Type": "text/xml"}
            )
            response.raise_for_status()
            if read_back:
                listed = await client.post(
                    "/putxml", content=LIST_DOCUMENT, headers={"Content-Type": "text/xml"}
                )
                listed.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one(c, d) for c, d in zip(clients, documents, strict=True)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.aclose() for c in clients))
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codecs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100, help="codecs pushed at once")
    parser.add_argument("--clients", type=int, default=50, help="concurrent pull clients")
    parser.add_argument(
        "--cloud-concurrency", type=int, default=20, help="Webex cloud requests at once"
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument(
        "--rooms",
        type=int,
        default=200,
        help="rooms (each with its endpoint token) the pull clients ask for",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="pull load runs per server, in turn (medians are printed)",
    )
    parser.add_argument("--pull-only", action="store_true", help="skip the push benchmark")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also serve the pull API from this source tree (before/after)",
    )
    parser.add_argument(
        "--serve-api", nargs=3, metavar=("DB", "KEY", "PORT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve-static", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-memory", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_api:
        serve_api(args.serve_api[0], args.serve_api[1], int(args.serve_api[2]))
        return 0
    if args.serve_static:
        serve_static_uvicorn(args.serve_static[0], int(args.serve_static[1]))
        return 0
    if args.serve_memory:
        serve_memory(args.serve_memory[0], int(args.serve_memory[1]))
        return 0

    import logging

    logging.basicConfig(level=logging.ERROR)
    n = args.codecs
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="otj-bench-") as tmp:
        workdir = Path(tmp)
        db_url = f"sqlite:///{workdir / 'otj.db'}"
        key_file = workdir / "secret.key"
        if args.pull_only:
            db = setup_store(db_url, key_file, [(f"room{i:05d}", 9) for i in range(n)], now)
            commit_all(db, n, now, version=1)
            push_ok = True
        else:
            db, push_ok = push_section(args, db_url, key_file, now)
        pull_ok = pull_section(args, db, db_url, key_file, workdir, now)
        db.close()
        if os.environ.get("OTJ_BENCH_STRICT") and not (push_ok and pull_ok):
            return 1
    return 0


def push_section(
    args: argparse.Namespace,
    db_url: str,
    key_file: Path,  # type: ignore[no-untyped-def]
    now: datetime,
):
    """Push to N simulated codecs after a change, then without one; the store and success."""
    n = args.codecs
    print(f"starting {n} simulated codecs …", flush=True)
    farm = ThreadedCodecFarm()
    codecs = [farm.add(f"room{i:05d}", username="admin", password=PASSWORD) for i in range(n)]
    db = setup_store(db_url, key_file, [(c.name, c.port) for c in codecs], now)
    commit_all(db, n, now, version=1)
    runner = DeliveryRunner(db, concurrency=args.concurrency, deadline=60.0)

    started = time.perf_counter()
    first = runner.deliver_pending(now=now)
    initial = time.perf_counter() - started

    commit_all(db, n, now, version=2)  # every room changes
    change_before = sum(len(c.requests) for c in codecs)
    started = time.perf_counter()
    changed = runner.deliver_pending(now=now + timedelta(seconds=30))
    push_time = time.perf_counter() - started
    change_requests = sum(len(c.requests) for c in codecs) - change_before

    requests_before = sum(len(c.requests) for c in codecs)
    started = time.perf_counter()
    quiet = runner.deliver_pending(now=now + timedelta(seconds=60))
    quiet_time = time.perf_counter() - started
    quiet_requests = sum(len(c.requests) for c in codecs) - requests_before

    documents = [
        render_put_command(bookings_for_room(meetings_for(room_name(i), now, 3), profile=PROFILE))
        for i in range(n)
    ]
    urls = [c.url for c in codecs]
    # on a loop of its own, like the runner (the codecs answer from the farm's thread)
    with ThreadPoolExecutor(1) as pool:
        bare_time = pool.submit(asyncio.run, bare_put(urls, documents, args.concurrency)).result()
        bare_read = pool.submit(
            asyncio.run, bare_put(urls, documents, args.concurrency, read_back=True)
        ).result()
    runner.close()
    farm.close()
    stored_ok = all(len(c.bookings) == 4 for c in codecs)

    print()
    print(f"== push to {n} codecs (concurrency {args.concurrency}) ==")
    print(
        f"first delivery (never pushed): {initial:8.2f} s  pushed={first.pushed} "
        f"failed={first.failed}"
    )
    print(
        f"after a change to every room:  {push_time:8.2f} s  pushed={changed.pushed} "
        f"failed={changed.failed}  ({n / push_time:,.0f} rooms/s; per room: status "
        "cached, Bookings Put + Bookings List read-back, store update)"
    )
    print(
        f"comparison, bare httpx Put:     {bare_time:8.2f} s  ({n / bare_time:,.0f} "
        f"rooms/s; one POST each, no store, no read-back) → ours/bare = "
        f"{push_time / bare_time:.1f}×"
    )
    print(
        f"comparison, bare Put + List:    {bare_read:8.2f} s  ({n / bare_read:,.0f} "
        f"rooms/s; the same two requests, no store) → ours/bare = "
        f"{push_time / bare_read:.1f}×"
    )
    print(
        f"cycle without change:          {quiet_time:8.3f} s  pushed={quiet.pushed} "
        f"considered={quiet.considered} device requests={quiet_requests}"
    )
    print(f"every codec holds its 4 bookings: {stored_ok}")

    from bench.delivery_cloud import print_cloud, run_cloud

    cloud_first, cloud_changed, cloud_quiet, held = run_cloud(
        n=n,
        concurrency=args.cloud_concurrency,
        workdir=Path(db_url.removeprefix("sqlite:///")).parent,
        now=now,
        room_name=room_name,
        commit_all=commit_all,
    )
    print_cloud(
        n=n,
        concurrency=args.cloud_concurrency,
        first=cloud_first,
        changed=cloud_changed,
        quiet=cloud_quiet,
        held=held,
        local_seconds=push_time,
        local_requests=change_requests,
    )
    cloud_ok = held and not (cloud_changed.failed or cloud_quiet.pushed or cloud_quiet.requests)
    return db, not (changed.failed or quiet.pushed) and cloud_ok


if __name__ == "__main__":
    sys.exit(main())
