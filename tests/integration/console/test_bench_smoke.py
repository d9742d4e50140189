"""``bench/console.py`` runs end to end with a few rooms (not a timing test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_console_bench_smoke() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "console.py"), "--rooms", "20", "--runs", "2"],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "live preview, 104 KiB invitation: median" in result.stdout
    assert "rooms page, 20 rooms" in result.stdout
