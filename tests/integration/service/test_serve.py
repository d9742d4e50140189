"""``otj serve`` as a new user runs it: demo rooms, Join aliases over HTTP, clean SIGTERM."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


class Process:
    """A child process whose stderr lines are awaited (no sleeping)."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            self.lines.put(line)

    def stop(self, signum: int, *, timeout: float = 30) -> int:
        """Send ``signum`` and wait for the exit status; on a hang, fail with every thread's stack.

        (The child runs with ``PYTHONFAULTHANDLER=1``: SIGABRT makes it print all tracebacks.)
        """
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            time.sleep(0.2)  # the reader thread drains the pipe
            pytest.fail(f"no exit {timeout} s after signal {signum}:\n{''.join(self.log)}")

    def wait_for(self, pattern: str, *, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r}:\n{''.join(self.log)}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            match = regex.search(line)
            if match:
                return match


def otj_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    env["OTJ_DATA_DIR"] = str(data_dir)
    env["PYTHONFAULTHANDLER"] = "1"
    return env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Process, str]]:
    data = tmp_path / "var"
    process = Process(
        [sys.executable, "-m", "otj", "serve", "--listen", "127.0.0.1:0"],
        cwd=tmp_path,
        env=otj_env(data),
    )
    try:
        base = process.wait_for(r"otj listening on (http://127\.0\.0\.1:\d+)")[1]
        yield process, base
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_serve_shows_demo_join_aliases_within_seconds_and_stops_cleanly(
    served: tuple[Process, str], tmp_path: Path
) -> None:
    process, base = served
    started = time.monotonic()
    cycle = process.wait_for(r"poll cycle 1: (\d+) polled, (\d+) ok, (\d+) failed")
    assert cycle[1] == cycle[2] == "4"
    assert time.monotonic() - started < 15

    token = subprocess.run(
        [sys.executable, "-m", "otj", "tokens", "create", "--admin", "test"],
        cwd=tmp_path,
        env=otj_env(tmp_path / "var"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        rooms = http.get("/api/v1/status/rooms", headers=headers).json()
        assert len(rooms) == 4
        assert all(r["last_error"] == "" for r in rooms)
        by_room = {
            r["room"]: http.get(
                f"/api/v1/status/rooms/{r['room']}/meetings", headers=headers
            ).json()
            for r in rooms
        }
        aliases = {m["alias"] for meetings in by_room.values() for m in meetings}
        assert "abc-defg-hij@google.pexip.me" in aliases  # Meet hosted elsewhere
        assert "1234567890@vc.demo.otj.example" in aliases  # Teams through Pexip CVI
        assert "85012345678@zoomcrc.com" in aliases
        assert "25501234567@acme.webex.com" in aliases
        tromso = by_room["tromso-aurora@demo.otj.example"]
        assert "Salary talk" not in {m["subject"] for m in tromso}  # private: subject replaced
        assert "Double-booked workshop" not in {m["subject"] for m in tromso}  # room declined
        standups = [
            m for m in by_room["oslo-fjord@demo.otj.example"] if m["subject"] == "Daily stand-up"
        ]
        assert len(standups) >= 7  # the recurring series
        assert http.get("/openapi.json").status_code == 200
        home = http.get("/").text  # the demo's landing page shows the same aliases
        assert "abc-defg-hij@google.pexip.me" in home
        assert "simulated codec" in home

    assert process.stop(signal.SIGTERM) == 0
    assert any("stopped cleanly" in line for line in process.log)


def test_serve_refuses_a_second_worker_on_the_same_sqlite_file(
    served: tuple[Process, str], tmp_path: Path
) -> None:
    process, _ = served
    second = subprocess.run(
        [sys.executable, "-m", "otj", "worker", "--once"],
        check=False,
        cwd=tmp_path,
        env=otj_env(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "another worker already uses" in second.stderr
    assert process.stop(signal.SIGINT) == 0
