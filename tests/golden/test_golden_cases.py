"""Every golden case of shared/testdata, through the library API and through `otj rules check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from otj.rules.cases import case_id, load_case_file, run_case
from tests.golden.conftest import CASE_FILES, REPO


def _documents() -> dict[str, Any]:
    documents = {}
    for name, path in CASE_FILES.items():
        assert path.is_file(), (
            f"shared golden-case file missing: {path} (the shared folder is ../shared beside "
            "the repository, or $OTJ_SHARED_DIR)"
        )
        documents[name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return documents


DOCUMENTS = _documents()
LOADED = {name: load_case_file(document) for name, document in DOCUMENTS.items()}
CASES = [
    pytest.param(name, index, id=f"{name}:{case_id(case, index)}")
    for name, document in DOCUMENTS.items()
    for index, case in enumerate(document["cases"])
]


@pytest.mark.parametrize(("file", "index"), CASES)
def test_case_through_library(file: str, index: int) -> None:
    case_file = LOADED[file]
    result = run_case(case_file, case_file.cases[index], index)
    trace = ""
    if result.meeting is not None:
        trace = "\n".join(f"  [{s.outcome}] {s.rule}: {s.detail}" for s in result.meeting.trace)
    assert result.passed, f"{result.id}: {result.message}\n{trace}"


def test_every_case_file_has_cases() -> None:
    assert len(DOCUMENTS["otj-cases"]["cases"]) >= 40
    assert len(DOCUMENTS["real"]["cases"]) >= 20


def _otj(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "otj", "rules", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(CASE_FILES))
def test_cli_check_passes_shared_file(name: str) -> None:
    path = CASE_FILES[name]
    count = len(DOCUMENTS[name]["cases"])
    result = _otj("check", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"{count} passed, 0 failed"
    assert "FAIL" not in result.stdout


FAILING = """
rulesets:
  sgj:
    - {name: Google Meet SIP Guest Join, priority: 50, meeting_type: googlemeetsipguestjoin}
cases:
  - id: right
    ruleset: sgj
    event: {subject: ok, body: "https://meet.google.com/abc-defg-hij"}
    expect: {alias: abc-defg-hij@google.pexip.me}
  - id: wrong-alias
    ruleset: sgj
    event: {subject: "no", body: "https://meet.google.com/abc-defg-hij"}
    expect: {alias: zzz-zzzz-zzz@google.pexip.me, rule: Google Meet SIP Guest Join}
  - id: unknown-ruleset
    ruleset: nope
    event: {subject: x}
    expect: {alias: null}
  - id: inline-rules-and-missing-keys
    rules:
      - {name: Zoom, meeting_type: zoom}
    event: {location: "https://acme.zoom.us/j/9876543210"}
    expect: {alias: 9876543210@zoomcrc.com, platform: Zoom}
"""


def test_cli_check_reports_failures(tmp_path: Path) -> None:
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING, encoding="utf-8")
    result = _otj("check", str(path))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "2 passed, 2 failed"
    assert (
        "FAIL wrong-alias: expected alias='zzz-zzzz-zzz@google.pexip.me' "
        "got alias='abc-defg-hij@google.pexip.me'" in result.stdout
    )
    assert "FAIL unknown-ruleset: error: unknown ruleset 'nope'" in result.stdout


def test_cli_check_verbose_prints_trace(tmp_path: Path) -> None:
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING, encoding="utf-8")
    result = _otj("check", "-v", str(path))
    assert "[matched] Google Meet SIP Guest Join: Meet code abc-defg-hij in body" in result.stdout


def test_cli_check_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("cases: [\n", encoding="utf-8")
    result = _otj("check", str(path))
    assert result.returncode == 2
    assert "invalid YAML" in result.stderr
