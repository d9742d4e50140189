"""``python -m otj``."""

import sys

from otj.cli import main

sys.exit(main())
