"""``bench/delivery.py`` runs end to end with a handful of codecs (not a timing test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_delivery_bench_smoke() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "delivery.py"),
            "--codecs",
            "3",
            "--clients",
            "4",
            "--duration",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "OTJ_BENCH_STRICT": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "after a change to every room:" in out
    assert "pushed=3 failed=0" in out
    assert "cycle without change:" in out
    assert "pushed=0 considered=0 device requests=0" in out
    assert "every codec holds its 4 bookings: True" in out
    assert "== Webex cloud xAPI to 3 devices" in out
    assert "requests=6 pushed=3 failed=0" in out  # after a change: Put + List per device
    assert "cloud cycle without change:" in out
    assert "every cloud device holds its 4 bookings: True" in out
    assert "ours: GET /api/v1/rooms/{room}/meetings" in out
    assert "static: python -m http.server" in out
    assert "in memory: uvicorn + a bare ASGI function" in out
