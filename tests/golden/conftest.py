"""Locations of the shared golden-case files (../shared/testdata beside the repository)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTDATA = REPO.parent / "shared" / "testdata"
CASE_FILES = {
    "otj-cases": TESTDATA / "otj-cases.yaml",
    "real": TESTDATA / "real" / "cases.yaml",
}
