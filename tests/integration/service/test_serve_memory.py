"""``otj serve`` as a process: an unauthenticated 256 MiB body to the panel's dial endpoint
leaves its peak memory where it was (the issue: ~1 GB) and is answered 401."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.service.test_http_limits import HUGE, MIB, flood, post_head

pytestmark = pytest.mark.slow


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match[1]) * 1024


def test_a_huge_unauthenticated_dial_does_not_grow_the_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    env["OTJ_DATA_DIR"] = str(tmp_path / "var")
    proc = subprocess.Popen(
        [sys.executable, "-m", "otj", "serve", "--no-demo", "--listen", "127.0.0.1:0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        base = ""
        while not base and time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = re.search(r"otj listening on (http://127\.0\.0\.1:\d+)", line)
            base = found[1] if found else ""
        assert base, "otj serve did not start"
        while time.monotonic() < deadline:  # the line comes just before uvicorn listens
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        before = peak_rss(proc.pid)
        head = post_head("/panel/room@example.com/dial", length=HUGE, headers="X-OTJ-Panel: 1\r\n")
        out = flood(base, head, body=HUGE)
        grown = peak_rss(proc.pid) - before
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert out.status == 401, out.response[:200]
    assert grown < 32 * MIB, f"peak memory grew by {grown / MIB:.0f} MiB"
