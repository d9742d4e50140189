"""A real rtpengine (Debian rtpengine-daemon) in user-space mode on loopback, for the tests:
``inside`` on 127.0.0.1 (the rooms' side), ``outside`` on 127.0.0.2 (the far end's side), the
ng control port and the media port range chosen at runtime; started and stopped by the test."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from guestjoin.media.client import NgClient
from guestjoin.media.ng import NgError, NgReply, parse_reply, request, split_reply
from guestjoin.media.pool import Engine

from .peers import RUNNING, free_port, need

INSIDE = "127.0.0.1"
OUTSIDE = "127.0.0.2"


def _free_range(size: int = 1000) -> int:
    """A base port whose block of ``size`` UDP ports looks free on both addresses."""
    for _ in range(50):
        base = random.randrange(20_000, 60_000 - size, 2)
        probes = (base, base + size // 2, base + size - 1)
        ok = True
        for port in probes:
            for host in (INSIDE, OUTSIDE):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    try:
                        probe.bind((host, port))
                    except OSError:
                        ok = False
        if ok:
            return base
    raise RuntimeError("no free media port range")


@dataclass
class RtpEngine:
    """One rtpengine process; ``stop``/``start`` keep its ports (a restart)."""

    workdir: Path
    ng_port: int = field(default_factory=free_port)
    port_min: int = field(default_factory=_free_range)
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    @property
    def engine(self) -> Engine:
        return Engine(host="127.0.0.1", port=self.ng_port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ng_port}"

    async def start(self) -> RtpEngine:
        binary = need("rtpengine")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"rtpengine-{self.ng_port}.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--config-file=none",
            "--table=-1",
            "--foreground",
            "--log-stderr",
            f"--interface=inside/{INSIDE}",
            f"--interface=outside/{OUTSIDE}",
            f"--listen-ng=127.0.0.1:{self.ng_port}",
            f"--port-min={self.port_min}",
            f"--port-max={self.port_min + 999}",
            "--num-threads=2",
            "--delete-delay=0",
            "--log-level=6",
            stdout=log,
            stderr=log,
        )
        log.close()
        RUNNING.append(self.process)
        client = NgClient("127.0.0.1", self.ng_port, interval=0.1, tries=1)
        try:
            for _ in range(100):
                if self.process.returncode is not None:
                    break
                with contextlib.suppress(NgError):
                    await client.call({"command": "ping"})
                    return self
                await asyncio.sleep(0.05)
        finally:
            client.close()
        await self.stop()
        pytest.fail(f"rtpengine did not start on ng port {self.ng_port}:\n{self.log()[-3000:]}")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log(self) -> str:
        path = self.workdir / f"rtpengine-{self.ng_port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def ng(self, command: dict[str, Any]) -> NgReply:
        """One ng request from the test itself (``list``, ``query``), on a blocking socket in
        a thread: independent of the event loop the gateway under test runs on."""
        return await asyncio.to_thread(self._ng, command)

    def _ng(self, command: dict[str, Any]) -> NgReply:
        req = request(command)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1.0)
            for _ in range(3):
                sock.sendto(req.datagram(), ("127.0.0.1", self.ng_port))
                try:
                    while True:
                        cookie, body = split_reply(sock.recv(65_535))
                        if cookie == req.cookie:
                            return parse_reply(cookie, body, req.name)
                except TimeoutError:
                    continue
        raise AssertionError(f"rtpengine 127.0.0.1:{self.ng_port} did not answer {req.name}")

    async def calls(self) -> list[str]:
        """The call-ids rtpengine has sessions for (``list``)."""
        reply = await self.ng({"command": "list"})
        calls = reply.body.get("calls", [])
        return [str(c) for c in calls] if isinstance(calls, list) else []


@contextlib.asynccontextmanager
async def running_rtpengine(workdir: Path) -> AsyncIterator[RtpEngine]:
    """An rtpengine for the duration of the block; it must hold no session at the end."""
    engine = await RtpEngine(workdir).start()
    try:
        yield engine
        if engine.process is not None and engine.process.returncode is None:
            leaked = await engine.calls()
            assert leaked == [], f"media sessions left on rtpengine: {leaked}"
    finally:
        await engine.stop()
