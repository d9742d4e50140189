"""The worker benchmark runs end to end with a few rooms (its figures are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_bench_worker_runs_with_few_rooms() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTJ_")}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "worker.py"),
            "--rooms",
            "12",
            "--edits",
            "3",
            "--poll-interval",
            "10",
            "--threads",
            "4",
            "--settle",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "no-change incremental cycle:" in out
    assert "12 = 1.00 per room" in out
    assert "raw client loop" in out
    assert "edit → store latency (3 edits" in out
    assert "peak RSS of the worker process" in out
