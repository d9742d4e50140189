"""The calendars benchmark runs with a tiny N and reports one request per room per cycle."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "calendars.py"


def test_bench_runs_with_20_rooms(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("otj_bench_calendars", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--rooms", "20", "--events", "5"]) == 0
    out = capsys.readouterr().out
    assert "incremental       :  1.00 requests/room/cycle" in out
    assert "fake handling" in out
