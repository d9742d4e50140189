"""Delivery benchmark: N simulated Cisco codecs in one process, the real store and runner.

Prints, from one run:

* push cycle after a change to every room (our DeliveryRunner: store → plan → Bookings Put →
  Bookings List read-back → state/alarms) next to a bare loop of the same Bookings Put POSTs
  with httpx (no store, no read-back) at the same concurrency;
* a cycle with no change (idempotence: pushes and device requests should be ~0);
* the same cycles to N Webex cloud devices through the cloud xAPI (``bench/delivery_cloud.py``,
  the Webex fake over loopback HTTP): time and requests next to the local push's;
* pull API requests/s and p50/p99 latency at C concurrent clients (our FastAPI app under
  uvicorn with ``otj serve``'s settings, in its own process: bearer token check, the room's
  cached JSON, ETag) next to the same JSON bodies served as static files by ``python -m
  http.server`` (HTTP/1.1 keep-alive) and by a uvicorn/Starlette static route, and from memory
  by a bare ASGI function under uvicorn (the floor: what our checks and FastAPI add is the
  difference).

Usage: ``./dev bench delivery [--codecs 2000] [--clients 50] [--duration 5]``; ``--pull-only``
skips the push part, ``--rounds R`` runs the servers R times in turn and prints medians (the
machine is noisy), ``--baseline DIR`` also serves the pull API from another source tree (for
example ``git archive HEAD~1 | tar -x -C DIR``) in the same rounds, for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import h11  # noqa: E402
import httpx  # noqa: E402

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


# --- HTTP load ------------------------------------------------------------------------------------


class _Connection:
    """A minimal keep-alive HTTP/1.1 client connection (h11): light enough that the servers,
    not the load generator, are what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.headers = [("Host", f"{host}:{port}")]
        self.conn: h11.Connection | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.conn = h11.Connection(h11.CLIENT)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.conn = self.reader = self.writer = None

    async def get(self, path: str, headers: list[tuple[str, str]]) -> int:
        if self.conn is None:
            await self._open()
        assert self.conn is not None
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(
            self.conn.send(
                h11.Request(method="GET", target=path, headers=[*self.headers, *headers])
            )
        )
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        status = 0
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:
            await self.close()
        return status


async def load(
    base: str, requests: list[tuple[str, list[tuple[str, str]]]], clients: int, duration: float
) -> tuple[float, float, float, int]:
    """Requests/s, p50 and p99 latency (ms) of ``clients`` concurrent connections for ``duration``
    seconds, each request a random ``(path, headers)`` of ``requests`` (each made once before)."""
    host, port = base.removeprefix("http://").split(":")
    gc.collect()
    gc.freeze()  # the load generator's own full collections would show up as server latency
    latencies: list[float] = []
    errors = 0
    connections = [_Connection(host, int(port)) for _ in range(clients)]

    async def warm(connection: _Connection, share: list[tuple[str, list[tuple[str, str]]]]) -> None:
        for path, headers in share:
            await connection.get(path, headers)

    # warm-up: every request once (each server's caches, the page cache, every connection)
    await asyncio.gather(
        *(warm(c, requests[i::clients] or requests[:1]) for i, c in enumerate(connections))
    )
    deadline = time.perf_counter() + duration
    rng = random.Random(7)

    async def worker(connection: _Connection) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            path, headers = requests[rng.randrange(len(requests))]
            started = time.perf_counter()
            try:
                status = await connection.get(path, headers)
            except (OSError, h11.ProtocolError):
                status = 0  # e.g. a reset when the server's accept backlog overflows
                await connection.close()
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, errors


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # a separate process: poll with a deadline
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _uvicorn_settings() -> dict[str, Any]:
    try:
        from otj.commands.serve import uvicorn_settings
    except ImportError:  # an older tree: uvicorn's defaults
        return {}
    return uvicorn_settings()


def _run_uvicorn(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **{"access_log": False, **_uvicorn_settings()},
    )


def serve_api(db_url: str, key_file: str, port: int) -> None:
    """(Child process) our HTTP API as ``otj serve`` runs it: the same app, the same uvicorn
    settings."""
    from otj.api.app import create_app
    from otj.store import Database, SecretBox

    db = Database(db_url, box=SecretBox(key_file=Path(key_file), environ={}))
    _run_uvicorn(create_app(db, clock=lambda: datetime.now(UTC)), port)


def serve_static_uvicorn(directory: str, port: int) -> None:
    """(Child process) the same JSON files from a Starlette static route under uvicorn."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    _run_uvicorn(Starlette(routes=[Mount("/", app=StaticFiles(directory=directory))]), port)


def serve_memory(directory: str, port: int) -> None:
    """(Child process) the same JSON bodies held in memory by a bare ASGI function (no
    framework, no checks) under uvicorn: the floor for any Python server on this stack."""
    bodies = {f"/{path.name}": path.read_bytes() for path in Path(directory).iterdir()}
    json_type = (b"content-type", b"application/json")

    async def app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
        body = bodies.get(scope["path"], b"")
        await send(
            {
                "type": "http.response.start",
                "status": 200 if body else 404,
                "headers": [json_type, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    _run_uvicorn(app, port)


Server = tuple[str, list[str]]
"""A label and the command line that serves on the port appended to it."""


def measure(
    servers: list[tuple[str, list[str], list[tuple[str, list[tuple[str, str]]]]]],
    *,
    clients: int,
    duration: float,
    rounds: int,
) -> dict[str, tuple[float, float, float, int]]:
    """Each server (label, command without its port, requests) started in turn and loaded,
    ``rounds`` times round-robin; the median requests/s, p50 and p99 and the errors of each."""
    results: dict[str, list[tuple[float, float, float, int]]] = {
        label: [] for label, _, _ in servers
    }
    for _ in range(rounds):
        for label, command, requests in servers:
            port = free_port()
            chatty = "http.server" in command  # it logs every request on stderr
            process = subprocess.Popen(
                [*command, str(port)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL if chatty else None,
            )
            try:
                wait_listening(port, process)
                results[label].append(
                    asyncio.run(load(f"http://127.0.0.1:{port}", requests, clients, duration))
                )
            finally:
                process.terminate()
                process.wait(10)
    return {
        label: (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs),
            sum(r[3] for r in runs),
        )
        for label, runs in results.items()
    }


def pull_section(
    args: argparse.Namespace,
    db,
    db_url: str,
    key_file: Path,  # type: ignore[no-untyped-def]
    workdir: Path,
    now: datetime,
) -> bool:
    """The pull API next to static servers (and a baseline tree); True when all went well."""
    tokens = {}
    for i in range(min(args.codecs, args.rooms)):
        name = f"room{i:05d}"
        tokens[name] = db.tokens.create("endpoint", name, now=now, endpoint=name)[0]
    static_dir = workdir / "static"
    static_dir.mkdir()
    api_command = [sys.executable, __file__, "--serve-api", db_url, str(key_file)]
    port = free_port()
    first = subprocess.Popen([*api_command, str(port)], cwd=ROOT)
    try:
        wait_listening(port, first)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            for name, token in tokens.items():
                body = client.get(
                    f"/api/v1/rooms/{name}@rooms.example.com/meetings",
                    headers={"Authorization": f"Bearer {token}"},
                )
                body.raise_for_status()
                (static_dir / f"{name}.json").write_bytes(body.content)
    finally:
        first.terminate()
        first.wait(10)
    # every request: a random room with that room's endpoint token (checked each time)
    api_requests = [
        (f"/api/v1/rooms/{name}@rooms.example.com/meetings", [("Authorization", f"Bearer {token}")])
        for name, token in tokens.items()
    ]
    static_requests: list[tuple[str, list[tuple[str, str]]]] = [
        (f"/{name}.json", []) for name in tokens
    ]
    ours = "ours: GET /api/v1/rooms/{room}/meetings"
    servers = [(ours, api_command, api_requests)]
    if args.baseline:
        baseline = Path(args.baseline).resolve()
        servers.append(
            (
                f"baseline ({baseline.name}): the same GET",
                [
                    sys.executable,
                    str(baseline / "bench" / "delivery.py"),
                    "--serve-api",
                    db_url,
                    str(key_file),
                ],
                api_requests,
            )
        )
    uvicorn_static = "static: uvicorn + Starlette StaticFiles"
    http_server = "static: python -m http.server"
    servers += [
        (
            uvicorn_static,
            [sys.executable, __file__, "--serve-static", str(static_dir)],
            static_requests,
        ),
        (
            "in memory: uvicorn + a bare ASGI function",
            [sys.executable, __file__, "--serve-memory", str(static_dir)],
            static_requests,
        ),
        # HTTP/1.1 so that it keeps connections open like the others (with HTTP/1.0 every
        # request reconnects and its accept backlog of 5 overflows into 1 s SYN retries)
        (
            http_server,
            [
                sys.executable,
                "-m",
                "http.server",
                "--protocol",
                "HTTP/1.1",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(static_dir),
            ],
            static_requests,
        ),
    ]
    results = measure(servers, clients=args.clients, duration=args.duration, rounds=args.rounds)
    print()
    print(
        f"== pull API, {args.clients} concurrent clients, {len(tokens)} rooms, "
        f"{args.duration:g} s each, median of {args.rounds} round(s) (client: h11 keep-alive "
        "connections in this process; servers: one process each, in turn) =="
    )
    for label, (rps, p50, p99, errors) in results.items():
        print(
            f"{label:<44} {rps:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
            f"errors {errors}"
        )
    mine = results[ours]
    for label, _, _ in servers[1:]:
        other = results[label]
        short = label.split(":")[0] if label.startswith("baseline") else label.split(": ")[1]
        short = short.removeprefix("uvicorn + ")
        print(
            f"ours / {short:<32} = {mine[0] / other[0]:.2f}× throughput, "
            f"{mine[2] / max(other[2], 1e-9):.2f}× p99"
        )
    return not mine[3]


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
