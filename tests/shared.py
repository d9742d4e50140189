"""Where the shared folder is: ``$OTJ_SHARED_DIR``, else ``../shared`` beside the repository.

It holds DESIGN.md, the golden cases (testdata/) and the example configuration (examples/).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OTJ_SHARED_DIR") or REPO.parent / "shared")
TESTDATA = SHARED / "testdata"
EXAMPLE_CONFIG = SHARED / "examples" / "config.yaml"
