"""Locations of the golden-case files: the shared ones (``tests.shared``: ../shared or
$OTJ_SHARED_DIR) and the repository's own (tests/golden/data)."""

from __future__ import annotations

from tests.shared import REPO, TESTDATA

__all__ = ["CASE_FILES", "REPO", "TESTDATA"]
CASE_FILES = {
    "otj-cases": TESTDATA / "otj-cases.yaml",
    "real": TESTDATA / "real" / "cases.yaml",
    "meeting-blocks": REPO / "tests" / "golden" / "data" / "meeting-blocks.yaml",
}
