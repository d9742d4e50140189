"""Locations of the shared golden-case files (``tests.shared``: ../shared or $OTJ_SHARED_DIR)."""

from __future__ import annotations

from tests.shared import REPO, TESTDATA

__all__ = ["CASE_FILES", "REPO", "TESTDATA"]
CASE_FILES = {
    "otj-cases": TESTDATA / "otj-cases.yaml",
    "real": TESTDATA / "real" / "cases.yaml",
}
