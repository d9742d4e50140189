"""Two ``otj gateway`` processes on one PostgreSQL database share ``call_licenses``.

The limit (4 licences: two calls) is one neither process reaches alone: with one ringing call in
each, a third call is refused with 503 by either; when one process is killed (no clean stop), its
licences come back once its heartbeat row expires, and the survivor admits calls again.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from otj.commands.runtime import open_configured_database
from otj.store import Database

from .dns_server import ZoneServer, meet_zone
from .peers import RUNNING, free_port, uas

pytestmark = [pytest.mark.peer, pytest.mark.slow]

CONFIG = """
call_routing_rules:
  - name: SIP Guest Join to the Pexip Service
    priority: 10
    match_string: '[a-z\\-]{{10,12}}@google\\.pexip\\.me'
gateway:
  dns_servers: ["{dns}"]
  call_licenses: 4
"""
HEARTBEAT = 0.5  # the row expires after six heartbeats: 3 s


@dataclass(frozen=True)
class Reply:
    """What the room reads of a response: status, reason and To tag. (Read by hand: the far
    end's 487 reaches the room without a Via, see uas_ring_cancel.xml, which a strict parser
    refuses.)"""

    status: int
    reason: str
    to_tag: str

    @classmethod
    def parse(cls, data: bytes) -> Reply:
        head, *lines = data.decode().split("\r\n")
        _, status, reason = head.split(" ", 2)
        to = next((line for line in lines if line.lower().startswith(("to:", "t:"))), "")
        return cls(int(status), reason, to.partition(";tag=")[2].split(";")[0])


class RingingCall(asyncio.DatagramProtocol):
    """A room's call over UDP: INVITE, then CANCEL when told (RFC 3261 §9.1)."""

    def __init__(self, gateway_port: int) -> None:
        self.gateway = ("127.0.0.1", gateway_port)
        self.responses: asyncio.Queue[Reply] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.call_id = f"cluster-{secrets.token_hex(6)}"
        self.branch = f"z9hG4bK-{secrets.token_hex(6)}"
        self.tag = secrets.token_hex(4)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.responses.put_nowait(Reply.parse(data))

    def _send(self, method: str, cseq: str, to_tag: str = "") -> None:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        to = "<sip:abc-defg-hij@google.pexip.me>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} sip:abc-defg-hij@google.pexip.me SIP/2.0",
            f"Via: SIP/2.0/UDP {host}:{port};branch={self.branch};rport",
            f"From: <sip:room@{host}>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq}",
            f"Contact: <sip:room@{host}:{port}>",
            "Max-Forwards: 70",
            "Content-Length: 0",
        ]
        self.transport.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), self.gateway)

    async def response(self, timeout: float = 10) -> Reply:
        while True:
            response = await asyncio.wait_for(self.responses.get(), timeout)
            if response.status != 100:
                return response

    async def invite(self) -> Reply:
        """Send the INVITE; the first answer other than 100 (a 180, or the refusal, ACKed)."""
        self._send("INVITE", "1 INVITE")
        first = await self.response()
        if first.status >= 300:
            self._send("ACK", "1 ACK", first.to_tag)
        return first

    async def cancel(self) -> None:
        """CANCEL the ringing call: 200 for the CANCEL, 487 for the INVITE (ACKed)."""
        self._send("CANCEL", "1 CANCEL")
        finals = {r.status: r for r in [await self.response(), await self.response()]}
        assert set(finals) == {200, 487}, finals
        self._send("ACK", "1 ACK", finals[487].to_tag)


async def ringing(port: int) -> RingingCall:
    loop = asyncio.get_running_loop()
    _, call = await loop.create_datagram_endpoint(
        lambda: RingingCall(port), local_addr=("127.0.0.1", 0)
    )
    return call


async def answered_within(port: int, status: int, seconds: float) -> tuple[RingingCall, float]:
    """Place calls until one is answered with ``status`` (180 or 503), cancelling admitted
    ones; how long that took. Admission follows the others' counts within a heartbeat or so
    (the documented window), so the first tries may still see the old figure."""
    start = time.monotonic()
    while True:
        call = await ringing(port)
        answer = await call.invite()
        took = time.monotonic() - start
        if answer.status == status:
            if status == 503:
                assert answer.reason == "Call Licence Limit Reached"
            return call, took
        assert answer.status in (180, 503), answer
        if answer.status == 180:
            await call.cancel()
        assert took < seconds, f"no {status} within {seconds} s (last: {answer.status})"
        await asyncio.sleep(0.05)


async def published(db: Database, counts: list[int], within: float = 5) -> None:
    """Wait until the live heartbeat rows hold ``counts`` (in any order)."""
    deadline = time.monotonic() + within
    while True:
        live = sorted(db.licences.live(now=datetime.now(UTC)).values())
        if live == sorted(counts):
            return
        assert time.monotonic() < deadline, f"published {live}, expected {counts}"
        await asyncio.sleep(0.05)


async def start_gateway(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "otj", "gateway", "--listen", f"udp:127.0.0.1:{port}",
        "--reload", "1", "--licence-heartbeat", str(HEARTBEAT),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    RUNNING.append(process)
    assert process.stdout is not None
    banner = ""
    while "call routing rule" not in banner:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, f"gateway exited: {banner}"
        banner += line.decode()
    assert "4 licences" in banner
    return process


async def test_two_gateway_processes_share_the_licences(
    zone: ZoneServer, tmp_path: Path, pg_url: str
) -> None:
    env = {**os.environ, "OTJ_DATABASE_URL": pg_url, "OTJ_DATA_DIR": str(tmp_path / "var")}
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(dns=zone.address))
    apply = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "otj", "config", "apply", str(config),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(apply.communicate(), 60)
    assert apply.returncode == 0, out.decode()
    far = await uas(tmp_path, "uas_ring_cancel.xml", calls=1000)
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    port_a, port_b = free_port(), free_port()
    a, b = await asyncio.gather(start_gateway(port_a, env), start_gateway(port_b, env))
    db = open_configured_database(pg_url, data_dir=str(tmp_path / "var"), upgrade=False)
    try:
        first, second = await ringing(port_a), await ringing(port_b)
        assert (await first.invite()).status == 180
        assert (await second.invite()).status == 180
        # each process holds one call (2 licences); together they hold the 4 there are, and
        # within about a heartbeat each refuses a third call it would admit on its own count
        window = 2 * HEARTBEAT + 1
        for port in (port_a, port_b):
            await answered_within(port, 503, window)
        await published(db, [2, 2])

        # a call that ends gives its licences back to the cluster
        await first.cancel()
        await answered_within(port_b, 180, window)  # b: its own 2 + 2 for this one

        # b is killed with two calls up: a cannot take a call until b's row expires
        await answered_within(port_a, 503, window)  # a has seen b's 4
        b.send_signal(signal.SIGKILL)
        await b.wait()
        assert (await (await ringing(port_a)).invite()).status == 503
        call, returned = await answered_within(port_a, 180, 60)
        # expiry (6 heartbeats = 3 s) plus at most one heartbeat of the survivor, plus slack
        assert returned < 6 * HEARTBEAT + HEARTBEAT + 2, returned
        sys.stderr.write(f"dead process's licences returned after {returned:.2f} s\n")
        await published(db, [2])  # a's call; b's row is gone
        await call.cancel()
    finally:
        db.close()
        for process in (a, b):
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.communicate(), 20)
    assert a.returncode == 0
