"""``otj gateway``: run the SIP Guest Join gateway with the configuration in the store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from otj.commands.runtime import add_database_arguments, echo

if TYPE_CHECKING:
    from guestjoin.cluster_licences import ClusterLicences
    from guestjoin.gateway import Gateway


def register(subparsers: Any) -> None:
    """Add ``otj gateway``."""
    parser = subparsers.add_parser(
        "gateway",
        help="run the SIP gateway (call routing rules, RFC 3263 DNS, registrar, CDRs)",
        description="Run the SIP Guest Join gateway. Listen addresses, TLS certificate, DNS "
        "servers and licences come from the gateway section of the configuration; "
        "--listen overrides the listen addresses.",
    )
    add_database_arguments(parser)
    parser.add_argument(
        "--listen",
        action="append",
        metavar="TRANSPORT:ADDRESS:PORT",
        help="listen here instead of the configured addresses (repeatable), e.g. udp:0.0.0.0:5060",
    )
    parser.add_argument(
        "--tls-ca", metavar="FILE", help="extra CA certificates trusted for outbound TLS"
    )
    parser.add_argument(
        "--timer-c",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="proxy Timer C for ringing calls (RFC 3261 §16.6; at least 180)",
    )
    parser.add_argument(
        "--lobby-window",
        type=float,
        default=40.0,
        metavar="SECONDS",
        help="a far-end hang-up this soon after answer is recorded as not_admitted",
    )
    parser.add_argument(
        "--reload",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how often the configuration is read again",
    )
    parser.add_argument(
        "--licence-heartbeat",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often this process publishes its licence count to the other gateway "
        "processes sharing the database (default 5; a process that stops publishing counts "
        "for six heartbeats, at most 10 s each)",
    )
    _add_connection_limits(parser)
    parser.set_defaults(func=_run)
    from otj.commands.gateway_identity import add_to

    add_to(parser)


def _add_connection_limits(parser: argparse.ArgumentParser) -> None:
    """The options limiting what one peer may hold open over TCP/TLS."""
    limits = parser.add_argument_group(
        "TCP/TLS connection limits", "what one peer may hold open (see guestjoin/README.md)"
    )
    limits.add_argument(
        "--max-connections-per-source",
        type=int,
        default=128,
        metavar="N",
        help="inbound connections one address (IPv6: one /64) may hold (default 128)",
    )
    limits.add_argument(
        "--first-message-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a connection without a complete SIP message this long (default 30)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=3900.0,
        metavar="SECONDS",
        help="close a connection without traffic this long (default 3900)",
    )
    limits.add_argument(
        "--tls-handshake-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="close a TLS connection not handshaken this long (default 5)",
    )


def parse_listen(values: list[str]) -> tuple[Any, ...]:
    """``udp:0.0.0.0:5060`` → ListenAddress (IPv6 as ``tcp:[::]:5060``)."""
    from otj.model import ListenAddress

    out = []
    for value in values:
        transport, _, rest = value.partition(":")
        address, _, port = rest.rpartition(":")
        transport = transport.lower()
        if transport not in ("udp", "tcp", "tls") or not address or not port.isdigit():
            raise ValueError(f"--listen {value!r}: expected TRANSPORT:ADDRESS:PORT")
        out.append(
            ListenAddress(transport=transport, address=address.strip("[]"), port=int(port))  # type: ignore[arg-type]
        )
    return tuple(out)


def tune_gc() -> None:
    """Process-wide garbage collector settings for a gateway process (the library never
    changes them). The call path frees everything by reference counting (no reference
    cycles: transactions, timers and forwards drop their callbacks when done), so automatic
    collections only cost pauses: with calls freed by reference counting the collector's
    young generation is no longer bounded by its threshold and one automatic collection
    stalled the event loop for 50-300 ms. Automatic collection is therefore off;
    ``collect_garbage_forever`` collects the young objects ten times a second (a few
    milliseconds) and everything every 15 minutes (cycles from rarer paths). Start-up objects
    are frozen out of every collection."""
    import gc

    gc.collect()
    gc.freeze()
    gc.disable()


YOUNG_EVERY = 0.1  # seconds
FULL_EVERY = 900.0  # seconds


async def collect_garbage_forever(young: float = YOUNG_EVERY, full: float = FULL_EVERY) -> None:
    """The collections ``tune_gc`` turned off: the young generation often, in small batches,
    and a full collection now and then."""
    import asyncio
    import gc
    import time

    next_full = time.monotonic() + full
    while True:
        await asyncio.sleep(young)
        if time.monotonic() >= next_full:
            gc.collect()
            next_full = time.monotonic() + full
        else:
            gc.collect(0)


def _option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the timing and limit options, if anything."""
    if args.timer_c < 180:
        return "--timer-c must be at least 180 seconds (RFC 3261 §16.6)"
    for flag in ("first_message_timeout", "idle_timeout", "tls_handshake_timeout"):
        if not getattr(args, flag) > 0:
            return f"--{flag.replace('_', '-')} must be a positive number of seconds"
    if not 0 < args.licence_heartbeat <= 10:
        return "--licence-heartbeat must be more than 0 and at most 10 seconds"
    if args.max_connections_per_source < 1:
        return "--max-connections-per-source must be at least 1"
    return None


def _run(args: argparse.Namespace) -> int:
    from guestjoin.cluster_licences import ClusterLicences, HeartbeatPolicy
    from guestjoin.conntrack import ConnectionPolicy
    from guestjoin.gateway import Gateway, GatewayOptions, run
    from guestjoin.proxy import ProxyOptions
    from guestjoin.reception.calendar import StoreCalendar
    from guestjoin.storage import StoreAlarms, StoreConfig, StoreRecorder
    from otj.commands.runtime import open_store
    from otj.store import SecretKeyError

    try:
        listen = parse_listen(args.listen) if args.listen else None
    except ValueError as exc:
        echo(str(exc), err=True)
        return 2
    problem = _option_problem(args)
    if problem:
        echo(problem, err=True)
        return 2
    connections = ConnectionPolicy(
        first_message_timeout=args.first_message_timeout,
        idle_timeout=args.idle_timeout,
        tls_handshake_timeout=args.tls_handshake_timeout,
        max_per_source=args.max_connections_per_source,
    )
    db = open_store(args, application_name="otj-gateway")
    try:
        # Record-Route tokens: an HMAC key from the store's secret key (guestjoin.dialog_token)
        dialog_key = db.box.derive_key("guestjoin dialog tokens")
    except SecretKeyError as exc:
        echo(f"cannot derive the gateway's dialog key: {exc}", err=True)
        db.close()
        return 1
    recorder = StoreRecorder(db)
    options = GatewayOptions(
        tls_ca_file=args.tls_ca,
        reload_interval=args.reload,
        proxy=ProxyOptions(
            timer_c=args.timer_c, lobby_window=args.lobby_window, dialog_key=dialog_key
        ),
        connections=connections,
    )
    heartbeat = args.licence_heartbeat
    licences = ClusterLicences(
        0,
        db.licences,
        policy=HeartbeatPolicy(
            interval=heartbeat, expiry=6 * heartbeat, min_gap=min(0.2, heartbeat)
        ),
    )
    alarms = StoreAlarms(db)
    gateway = Gateway(
        StoreConfig(db),
        recorder,
        options=options,
        licences=licences,
        calendar=StoreCalendar(db),
        alarms=alarms,
    )

    try:
        return run(_serve(gateway, licences, listen))
    finally:
        licences.stop()  # the row goes: this process's licences are free for the others
        recorder.close()
        alarms.close()
        db.close()


async def _serve(
    gateway: Gateway, licences: ClusterLicences, listen: tuple[Any, ...] | None
) -> int:
    """Listen, report what is served, and run until SIGINT or SIGTERM."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await loop.run_in_executor(None, licences.start)  # first heartbeat: the others' count
    try:
        listeners = await gateway.start(listen)
    except OSError as exc:
        echo(f"cannot listen: {exc}", err=True)
        return 1
    tune_gc()
    collector = loop.create_task(collect_garbage_forever())
    for lst in listeners:
        echo(f"gateway listening on {lst.transport} {lst.host}:{lst.port}")
    rules = len(gateway.config.rules)
    echo(f"{rules} call routing rule(s); {gateway.config.settings.call_licenses} licences")
    engines = gateway.config.settings.rtpengines
    if engines:
        echo(f"media relay: {', '.join(e.address for e in engines)}")
    await stop.wait()
    collector.cancel()
    echo("stopping the gateway")
    await gateway.stop()
    return 0
