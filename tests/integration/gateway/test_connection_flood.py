"""Connection floods at a live gateway: 4,096 silent TCP connections from one host and 1,024
TLS connections that never handshake from another, while a caller on a third address places
real TCP and TLS calls. The flood is bounded in count and time."""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.conntrack import ConnectionPolicy
from guestjoin.gateway import GatewayOptions, run
from guestjoin.proxy import ProxyOptions
from otj.model import CallRoutingRule, GatewaySettings

from .dns_server import ZoneServer, meet_zone
from .peers import GatewayUnderTest, running_gateway, uas
from .sipclient import StreamUac

pytestmark = [pytest.mark.peer]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
TCP_FLOOD = 4096
TLS_FLOOD = 1024
PER_SOURCE = 64
FIRST_MESSAGE = 10.0


def _room_for_descriptors(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert soft == resource.RLIM_INFINITY or soft >= needed, f"need {needed} descriptors"


def _flood(source: str, port: int, count: int, seconds: float) -> list[socket.socket]:
    """Open up to ``count`` connections from ``source`` that send nothing (an attacker)."""
    deadline = time.monotonic() + seconds
    opened: list[socket.socket] = []
    while len(opened) < count and time.monotonic() < deadline:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        opened.append(sock)
    return opened


def _closed_by_gateway(socks: list[socket.socket]) -> int:
    """How many of the attacker's sockets the gateway has closed (EOF or reset seen)."""
    closed = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            if sock.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


async def _call(gw: GatewayUnderTest, *, tls: bool) -> tuple[int, int | None]:
    port = gw.tls_port if tls else gw.tcp_port
    uac = await StreamUac.connect("127.0.0.1", port, tls=tls, source="127.0.0.2")
    try:
        outcome = await uac.call("abc-defg-hij@google.pexip.me")
    finally:
        uac.close()
    return outcome.invite, outcome.bye


async def test_silent_connection_floods_do_not_lock_out_callers(
    zone: ZoneServer, tmp_path: Path
) -> None:
    await _flood_while_calling(zone, tmp_path)


def test_silent_connection_floods_on_uvloop(zone: ZoneServer, tmp_path: Path) -> None:
    run(_flood_while_calling(zone, tmp_path))  # the event loop `otj gateway` runs on


async def _flood_while_calling(zone: ZoneServer, tmp_path: Path) -> None:
    _room_for_descriptors(TCP_FLOOD + TLS_FLOOD + 2048)
    config = GatewayConfig(rules=(MEET,), settings=GatewaySettings(dns_servers=(zone.address,)))
    policy = ConnectionPolicy(
        first_message_timeout=FIRST_MESSAGE, tls_handshake_timeout=2.0, max_per_source=PER_SOURCE
    )
    options = GatewayOptions(
        reload_interval=0, proxy=ProxyOptions(failover_timeout=2.0), connections=policy
    )
    async with running_gateway(config, options) as gw:
        far = await uas(tmp_path, "uas_answer.xml", calls=2)
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
        transport = gw.gateway.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        tcp_flood = await asyncio.to_thread(_flood, "127.0.0.1", gw.tcp_port, TCP_FLOOD, 30)
        started = loop.time()
        tls_flood = await asyncio.to_thread(_flood, "127.0.0.3", gw.tls_port, TLS_FLOOD, 30)
        try:
            assert len(tcp_flood) == TCP_FLOOD
            assert len(tls_flood) == TLS_FLOOD
            # each attacker holds at most its share, and everyone else still gets in
            assert 0 < transport.inbound.count("127.0.0.1") <= PER_SOURCE
            assert transport.inbound.count("127.0.0.3") <= PER_SOURCE
            assert await _call(gw, tls=False) == (200, 200)
            assert await _call(gw, tls=True) == (200, 200)
            # un-handshaken TLS connections go after the handshake timeout (before the
            # first-message timeout could have closed any), silent TCP ones after the latter
            handshake_deadline = started + FIRST_MESSAGE - 0.5
            while transport.inbound.count("127.0.0.3") and loop.time() < handshake_deadline:
                await asyncio.sleep(0.1)
            assert transport.inbound.count("127.0.0.3") == 0
            assert _closed_by_gateway(tls_flood) == TLS_FLOOD
            assert loop.time() < handshake_deadline
            while transport.inbound.count("127.0.0.1") and loop.time() < started + 30:
                await asyncio.sleep(0.2)
            assert transport.inbound.count("127.0.0.1") == 0
            assert _closed_by_gateway(tcp_flood) == TCP_FLOOD
        finally:
            for sock in tcp_flood + tls_flood:
                sock.close()
        (await far.wait()).check()
