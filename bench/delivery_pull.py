"""The pull part of the delivery benchmark (run by ``bench/delivery.py``): pull API requests/s
and p50/p99 latency at C concurrent keep-alive clients (h11), our FastAPI app under uvicorn with
``otj serve``'s settings next to the same JSON bodies from ``python -m http.server``, a
uvicorn/Starlette static route and a bare ASGI function (and, with ``--baseline``, the pull API
of another source tree). Servers run as child processes of ``bench/delivery.py --serve-…``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h11
import httpx

ROOT = Path(__file__).resolve().parents[1]
#: The script the server child processes run (its ``--serve-api|static|memory`` options).
DELIVERY_BENCH = ROOT / "bench" / "delivery.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    api_command = [sys.executable, str(DELIVERY_BENCH), "--serve-api", db_url, str(key_file)]
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
            [sys.executable, str(DELIVERY_BENCH), "--serve-static", str(static_dir)],
            static_requests,
        ),
        (
            "in memory: uvicorn + a bare ASGI function",
            [sys.executable, str(DELIVERY_BENCH), "--serve-memory", str(static_dir)],
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
