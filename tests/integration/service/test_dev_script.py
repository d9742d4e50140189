"""``./dev serve`` on a fresh checkout says what it does while it creates .venv and installs.

The real ``dev`` script runs in a scratch copy of a tiny project (same layout: pyproject.toml
with a ``dev`` extra and an ``otj`` console script), with the real ``python3 -m venv`` and pip
against this machine's package index; then ``./dev serve`` runs that project's ``otj serve``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEV = Path(__file__).resolve().parents[3] / "dev"
PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "devtest"
version = "1"

[project.optional-dependencies]
dev = []

[project.scripts]
otj = "devtest:main"

[tool.setuptools]
packages = ["devtest"]
"""
MAIN = """\
import sys


def main() -> None:
    print("otj", *sys.argv[1:])
"""


def test_first_run_prints_progress_then_runs_serve(tmp_path: Path) -> None:
    shutil.copy(DEV, tmp_path / "dev")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "devtest").mkdir()
    (tmp_path / "devtest" / "__init__.py").write_text(MAIN)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}

    first = subprocess.run(
        ["./dev", "serve", "--listen", "127.0.0.1:8081"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    progress = first.stderr.splitlines()
    assert progress[0].startswith("dev: creating .venv")
    assert progress[1].startswith("dev: installing otj and its dependencies")
    assert "dev:   Successfully installed devtest-1" in progress
    assert progress[-1] == "dev: installed; .venv is ready"
    assert first.stdout == "otj serve --listen 127.0.0.1:8081\n"

    again = subprocess.run(
        ["./dev", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0
    assert again.stderr == ""  # nothing to install: straight to serve
    assert again.stdout == "otj serve\n"


def test_a_failed_install_shows_the_log_and_says_so(tmp_path: Path) -> None:
    shutil.copy(DEV, tmp_path / "dev")
    (tmp_path / "pyproject.toml").write_text("this is not toml [")
    result = subprocess.run(
        ["./dev", "serve"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 1
    assert "dev: installation failed" in result.stderr.splitlines()[-1]
    assert "key/value pair (at line 1, column 6)" in result.stderr  # pip's log, shown
