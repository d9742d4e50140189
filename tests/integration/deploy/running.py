"""Running the deploy files' commands on this machine: paths mapped under a temporary root,
listen addresses on loopback with ports chosen by the kernel, each long-running command
checked for being up (and answering), then stopped by its stop signal and expected to exit 0.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SUBCOMMANDS = {"serve", "worker", "gateway", "db", "config", "tokens", "status"}


@dataclass(frozen=True)
class Root:
    """A container's (or host's) file system under ``base``; ``links`` place single paths."""

    base: Path
    links: Mapping[str, Path] = field(default_factory=dict)

    def local(self, path: str) -> str:
        """Where the absolute ``path`` of the deploy file is on this machine."""
        for prefix in sorted(self.links, key=len, reverse=True):
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return str(self.links[prefix]) + path[len(prefix.rstrip("/")) :]
        return str(self.base / path.lstrip("/"))

    def value(self, text: str) -> str:
        """An argument or environment value: absolute paths are mapped, the rest kept."""
        return self.local(text) if text.startswith("/") else text


def subcommand(argv: Sequence[str]) -> str:
    """The ``otj`` sub-command of a command line (``""`` for something else)."""
    if not argv or Path(argv[0]).name != "otj":
        return ""
    return next((a for a in argv[1:] if a in SUBCOMMANDS), "")


def on_loopback(argv: Sequence[str]) -> list[str]:
    """``--listen`` values moved to 127.0.0.1 with a port the kernel picks (the test machine's
    8080 and 5060 may be in use; the deploy file's address is checked to be well-formed)."""
    out = list(argv)
    for index, arg in enumerate(out[:-1]):
        if arg != "--listen":
            continue
        value = out[index + 1]
        transport, sep, rest = value.partition(":")
        if subcommand(out) == "gateway" and sep and transport in ("udp", "tcp", "tls"):
            assert re.fullmatch(r"[^:]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", rest), value
            out[index + 1] = f"{transport}:127.0.0.1:0"
        else:
            assert re.fullmatch(r"[^:]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", value), value
            out[index + 1] = "127.0.0.1:0"
    return out


class Process:
    """A child process whose output lines are awaited (no sleeping)."""

    def __init__(self, origin: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path):
        self.origin = origin
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            self.lines.put(line)

    def output(self) -> str:
        return f"{self.origin}: {' '.join(self.argv)}\n{''.join(self.log)[-4000:]}"

    def wait_for(self, pattern: str, *, timeout: float = 60) -> re.Match[str]:
        """The first output line matching ``pattern``; fails if the process exits first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line matching {pattern!r} within {timeout} s:\n{self.output()}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    self._reader.join(5)
                    if self.lines.empty():
                        pytest.fail(
                            f"exited ({self.proc.returncode}) before {pattern!r}:\n{self.output()}"
                        )
                continue
            match = regex.search(line)
            if match:
                return match

    def finish(self, *, timeout: float = 120) -> int:
        """Wait for a one-shot command to end."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running after {timeout} s:\n{self.output()}")
        self._reader.join(5)
        return code

    def stop(self, signum: int, *, timeout: float) -> int:
        """Send the stop signal; fail (after SIGABRT for every thread's stack) on a hang."""
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            self.kill()
            pytest.fail(f"no exit {timeout} s after signal {signum}:\n{self.output()}")
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def check_up(process: Process) -> str:
    """Wait until a long-running ``otj`` command is up and answers; describe what answered."""
    command = subcommand(process.argv)
    if command == "serve":
        base = process.wait_for(r"otj listening on (http://\S+?) ")[1]
        response = httpx.get(f"{base}/openapi.json", timeout=10)
        assert response.status_code == 200, (response.status_code, process.output())
        assert "/api/v1/rooms/{room}/meetings" in response.json()["paths"], process.output()
        return f"HTTP {base}"
    if command == "worker":
        process.wait_for(r"worker \S+ started")
        return "worker started"
    if command == "gateway":
        match = process.wait_for(r"gateway listening on udp (\S+):(\d+)")
        return f"SIP {sip_options(match[1], int(match[2]))}"
    pytest.fail(f"no check for a long-running `{' '.join(process.argv)}` ({process.origin})")


def sip_options(host: str, port: int) -> str:
    """Send one OPTIONS over UDP (RFC 3261 §11) and return the status line of the answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        local = sock.getsockname()[1]
        branch = f"z9hG4bK{uuid.uuid4().hex}"
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:deploy-test@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), (host, port))
        data, _ = sock.recvfrom(65535)
    status = data.split(b"\r\n", 1)[0].decode()
    assert status.startswith("SIP/2.0 200"), data.decode(errors="replace")
    return status


@dataclass(frozen=True)
class Daemon:
    """A long-running command as a deploy file runs it (paths and addresses already local)."""

    origin: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 10.0  # docker/podman stop and compose's default grace period
    pre: tuple[list[str], ...] = ()  # one-shot commands run just before (ExecStartPre=)


def run_estate(
    daemons: Sequence[Daemon],
    *,
    while_up: Callable[[list[Process]], None] | None = None,
    settle: float = 2.0,
) -> list[Process]:
    """Start every daemon in order (after its ``pre`` commands), check each is up, run
    ``while_up``, check all still run ``settle`` seconds later, stop them in reverse order and
    expect exit status 0 and no traceback from each."""
    started: list[tuple[Process, Daemon]] = []
    try:
        for daemon in daemons:
            for argv in daemon.pre:
                run_oneshot(f"{daemon.origin} (before)", argv, daemon.env, daemon.cwd)
            process = Process(daemon.origin, daemon.argv, env=daemon.env, cwd=daemon.cwd)
            started.append((process, daemon))
            check_up(process)
        if while_up is not None:
            while_up([p for p, _ in started])
        time.sleep(settle)
        for process, _ in started:
            assert process.proc.poll() is None, f"stopped by itself:\n{process.output()}"
        for process, daemon in reversed(started):
            code = process.stop(daemon.stop_signal, timeout=daemon.stop_timeout)
            assert code == 0, f"exit status {code} on signal {daemon.stop_signal}:\n" + (
                process.output()
            )
            assert "Traceback" not in "".join(process.log), process.output()
        return [p for p, _ in started]
    finally:
        for process, _ in started:
            process.kill()


def wait_for_any(processes: Sequence[Process], pattern: str, *, timeout: float = 60) -> str:
    """The first line matching ``pattern`` in any of the processes' output so far or soon."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            for line in list(process.log):
                if regex.search(line):
                    return line
        time.sleep(0.1)
    pytest.fail(f"no line matching {pattern!r}:\n" + "\n".join(p.output() for p in processes))


def run_oneshot(origin: str, argv: list[str], env: Mapping[str, str], cwd: Path) -> str:
    """Run a command that must end with status 0; its output."""
    process = Process(origin, argv, env=env, cwd=cwd)
    code = process.finish()
    assert code == 0, f"exit status {code}:\n{process.output()}"
    return "".join(process.log)


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This machine's environment without any OTJ_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    env["PYTHONFAULTHANDLER"] = "1"
    env.update(extra)
    return env
