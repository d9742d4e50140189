"""``otj serve``: the worker and the HTTP API in one process, on embedded defaults.

SQLite in the data directory (``./var`` or ``$OTJ_DATA_DIR``), the API on 127.0.0.1:8080.
Started without any configuration it installs the bundled demo (rooms with ICS calendars
generated around today), so a new user sees Join aliases within seconds. ``--config FILE``
applies a configuration file first. SIGINT/SIGTERM stop it cleanly: the HTTP server drains,
running polls finish, leases are released. ``--no-worker`` runs the HTTP API alone (more API
processes behind a load balancer, ``otj worker`` processes doing the work): calendar
notifications it receives are checked against the stored push leases and queued for the worker
holding the room.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import re
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otj.commands.runtime import add_database_arguments, echo, positive_float, positive_int

if TYPE_CHECKING:
    from otj.commands.runtime import Runtime
    from otj.store import Database

log = logging.getLogger("otj.serve")

DEMO_KEY = "demo"


def register(subparsers: Any) -> None:
    """Add ``otj serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="run the worker and the HTTP API (demo rooms when nothing is configured)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="apply FILE before starting")
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=_listen_argument,
        help="HTTP address, e.g. 127.0.0.1:8081 (a bare port means 127.0.0.1:PORT; default: "
        "the configuration's api.listen, else 127.0.0.1:8080; port 0 picks a free port)",
    )
    parser.add_argument("--no-demo", action="store_true", help="never install the demo")
    parser.add_argument(
        "--public-url",
        default="",
        help="base URL endpoints reach this service at, for Cisco HttpFeedback "
        "(default: $OTJ_PUBLIC_URL)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="the HTTP API only (several behind a load balancer; `otj worker` processes poll, "
        "push and deliver): notifications are checked and queued for the worker holding the room",
    )
    parser.add_argument(
        "--threads", type=positive_int, default=16, help="rooms polled at a time (16)"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=20.0, help="seconds per calendar request (20)"
    )
    add_database_arguments(parser)
    parser.set_defaults(func=_serve)


def uvicorn_settings() -> dict[str, Any]:
    """How ``otj serve`` runs uvicorn: httptools' HTTP/1.1 parser and the uvloop event loop
    (C implementations: with h11 a warm pull API request took 0.40 ms of server time, with
    httptools 0.25 ms, bench/delivery.py), asyncio's loop where uvloop does not exist."""
    from otj.api.limits import HEAD_LIMIT, LimitedHttpToolsProtocol

    settings: dict[str, Any] = {
        "http": LimitedHttpToolsProtocol,  # httptools with a 431 for heads over HEAD_LIMIT
        "h11_max_incomplete_event_size": HEAD_LIMIT,
        "loop": "asyncio",
    }
    if sys.platform != "win32":
        settings["loop"] = "uvloop"
    return settings


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or a bare ``PORT`` (on 127.0.0.1); ``ValueError`` else."""
    text = text.strip()
    if text.isdigit():
        text = f"127.0.0.1:{text}"
    match = re.fullmatch(r"(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(?P<port>\d{1,5})", text)
    if match is None or int(match["port"]) > 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:8081, got {text!r}")
    return match["host"].strip("[]"), int(match["port"])


def _listen_argument(text: str) -> str:
    try:
        listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


class ListenError(OSError):
    """The HTTP address cannot be bound (in use, not ours, no permission)."""


def bind(text: str) -> socket.socket:
    """A listening-ready TCP socket bound to ``text`` (``ListenError`` with a hint when not)."""
    try:
        host, port = listen_address(text)
    except ValueError as exc:
        raise ListenError(f"cannot listen on {text!r}: {exc}") from None
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ListenError(
            f"cannot listen on {text}: unknown host {host!r} ({exc.strerror})"
        ) from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = {
            errno.EADDRINUSE: "the port is in use (another otj serve?)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "not an address of this machine",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise ListenError(
            f"cannot listen on {text}: {reason}; choose another address with "
            f"--listen HOST:PORT, e.g. --listen {host if ':' not in host else '[' + host + ']'}:"
            f"{port + 1 if 0 < port < 65535 else 8081}"
        ) from None
    return sock


def _file_listen(path: Path | None) -> str | None:
    """The ``api.listen`` of a configuration file, when it has one."""
    from otj.config import load_file
    from otj.config.yamlsrc import YamlError

    if path is None:
        return None
    try:
        data = load_file(path)[0].data
    except (OSError, YamlError):
        return None
    api = data.get("api") if isinstance(data, dict) else None
    listen = api.get("listen") if isinstance(api, dict) else None
    return listen if isinstance(listen, str) else None


def install_demo(db: Database, data_dir: Path) -> bool:
    """Write the demo calendars; apply the demo configuration when the store is empty."""
    from datetime import UTC, datetime

    from otj.config import apply_text
    from otj.demo import demo_config, write_calendars

    calendars = data_dir / "demo" / "calendars"
    installed = db.config.setting(DEMO_KEY)
    if not installed and not db.config.is_empty():
        return False
    write_calendars(calendars, now=datetime.now(UTC))
    if not installed:
        result = apply_text(db, demo_config(calendars), source="(bundled demo)", environ={})
        if not result.ok:
            raise RuntimeError(f"demo configuration invalid: {[str(p) for p in result.problems]}")
        db.config.set_setting(DEMO_KEY, {"calendars": str(calendars.resolve())})
        log.info("demo installed: %d rooms with calendars in %s", len(db.rooms.names()), calendars)
    else:
        log.info("demo calendars refreshed around today in %s", calendars)
    return True


def _serve(args: argparse.Namespace) -> int:
    """Check the file, take the database lock and bind the port before touching the store."""
    from otj.commands.runtime import check_readable, resolve_runtime
    from otj.worker.setup import WorkerLocked, database_lock

    if args.config is not None:
        check_readable(args.config, utf8=True)
    runtime = resolve_runtime(data_dir=args.data_dir, database=args.database)
    try:
        lock = contextlib.nullcontext() if args.no_worker else database_lock(runtime.database_url)
        with lock, contextlib.ExitStack() as stack:
            listen = args.listen or _file_listen(args.config)
            sock = bind(listen) if listen else None
            if sock is not None:
                stack.callback(sock.close)
            return _serve_locked(args, runtime, sock, stack)
    except (WorkerLocked, ListenError) as exc:
        echo(f"otj serve: error: {exc}", err=True)
        return 2


def _serve_locked(
    args: argparse.Namespace,
    runtime: Runtime,
    sock: socket.socket | None,
    stack: contextlib.ExitStack,
) -> int:
    import uvicorn

    from otj.api.app import create_app
    from otj.commands.runtime import open_store
    from otj.worker.delivery import default_deliverer
    from otj.worker.service import WorkerService
    from otj.worker.setup import make_poller, make_push

    db = open_store(args, application_name="otj-serve")
    stack.callback(db.close)
    if sock is None:
        sock = bind(db.config.api_settings().listen)
        stack.callback(sock.close)
    stopping: list[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    if args.config is not None and not _apply_config(db, args.config):
        return 1
    if args.no_worker:
        return _api_only(db, args, sock, stopping)
    demo = False if args.no_demo else install_demo(db, runtime.data_dir)
    codecs, panels = _attach_demo(db) if demo else ([], [])
    host, port = sock.getsockname()[:2]
    poller = make_poller(db, timeout=args.timeout)
    deliverer = default_deliverer(db, feedback_base_url=args.public_url)
    push = make_push(db, poller, args.public_url)
    options = {"otj.api.notifications": {"hub": push.hub}} if push.public_url else {}
    service = WorkerService(poller, deliverer=deliverer, threads=args.threads, push=push)
    if demo:
        service.scheduler.add_job(
            install_demo,
            "interval",
            hours=1,
            args=(db, runtime.data_dir),
            id="demo-calendars",
            executor="service",
        )
    home: dict[str, Any] = {"demo": demo, "codecs": codecs, "panels": panels}
    app = create_app(db, router_options={"otj.api.home": home, **options})
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", **uvicorn_settings())
    )
    service.start()
    base = f"http://{'[' + host + ']' if sock.family == socket.AF_INET6 else host}:{port}"
    log.info("otj listening on %s (OpenAPI: %s/openapi.json)", base, base)
    if demo:
        log.info("demo: open %s/ to see the demo rooms and their Join aliases", base)
    try:
        if not stopping:
            server.run(sockets=[sock])
    finally:
        log.info("stopping")
        service.stop()
        if demo:
            _stop_demo()
    log.info("stopped cleanly")
    return 0


def _apply_config(db: Database, config: Path) -> bool:
    """Apply ``--config`` before starting; False (problems printed) when it was not applied."""
    from otj.commands.runtime import warn_file_database
    from otj.config import apply_file

    warn_file_database(config, db.url)
    result = apply_file(db, config)
    for problem in result.problems:
        echo(f"{config}: {problem}", err=True)
    if not result.ok:
        echo("configuration not applied; not starting", err=True)
        return False
    return True


def _attach_demo(db: Database) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The demo's simulated Cisco codecs and paired panels, as (room, URL) pairs."""
    from datetime import UTC, datetime

    from otj.demo import codecs as demo_codecs
    from otj.demo import panels as demo_panels

    codecs: list[tuple[str, str]] = []
    for room, codec_url, _ in demo_codecs.attach(db):
        log.info("demo: simulated Cisco codec for %s at %s/ (its bookings)", room, codec_url)
        codecs.append((room, codec_url))
    return codecs, demo_panels.pair(db, now=datetime.now(UTC))


def _stop_demo() -> None:
    from otj.demo import codecs as demo_codecs

    demo_codecs.stop()


def _api_only(
    db: Database, args: argparse.Namespace, sock: socket.socket, stopping: list[int]
) -> int:
    """``otj serve --no-worker``: the HTTP API; notifications go to the workers' queues."""
    import uvicorn

    from otj.api.app import create_app
    from otj.worker.notifications import NotificationHub
    from otj.worker.setup import public_url

    url = public_url(args.public_url)
    options = {"otj.api.notifications": {"hub": NotificationHub(db)}} if url else {}
    app = create_app(db, router_options=options)
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", **uvicorn_settings())
    )
    host, port = sock.getsockname()[:2]
    base = f"http://{'[' + host + ']' if sock.family == socket.AF_INET6 else host}:{port}"
    log.info("otj listening on %s (HTTP API only, no worker)", base)
    if not stopping:
        server.run(sockets=[sock])
    log.info("stopped cleanly")
    return 0
