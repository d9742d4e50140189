"""The processes around the gateway benchmark: free ports, a peer started in its own session
(its CPU time read from /proc), rtpengine in user space and its session count (ng protocol)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def wait_udp(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


def session_cpu(session: int | None) -> float:
    """User + system CPU seconds of every live process in a session (Linux /proc)."""
    if session is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:  # stat field 6: the session id
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@contextlib.contextmanager
def process(
    args: list[str], *, cwd: Path, port: int, what: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    log = (cwd / f"{what}.log").open("wb")
    proc = subprocess.Popen(
        args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        wait_udp(port, proc, what)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@contextlib.contextmanager
def start_rtpengine(workdir: Path, ng_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """rtpengine in user space: inside 127.0.0.1, outside 127.0.0.2, its own port range."""
    base = 30_000 + ng_port % 20_000
    args = [
        shutil.which("rtpengine") or "/usr/bin/rtpengine",
        "--config-file=none",
        "--table=-1",
        "--foreground",
        "--log-stderr",
        "--log-level=4",
        "--interface=inside/127.0.0.1",
        "--interface=outside/127.0.0.2",
        f"--listen-ng=127.0.0.1:{ng_port}",
        f"--port-min={base}",
        f"--port-max={base + 9_999}",
        "--delete-delay=0",
        "--num-threads=2",
    ]
    with process(args, cwd=workdir, port=ng_port, what="rtpengine") as proc:
        yield proc


def engine_sessions(ng_port: int) -> int:
    """How many sessions rtpengine still holds (``list``): 0 when every call was deleted."""
    from guestjoin.media.ng import parse_reply, request, split_reply

    req = request({"command": "list"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(req.datagram(), ("127.0.0.1", ng_port))
        cookie, body = split_reply(sock.recv(65_535))
    calls = parse_reply(cookie, body, "list").body.get("calls", [])
    return len(calls) if isinstance(calls, list) else -1
