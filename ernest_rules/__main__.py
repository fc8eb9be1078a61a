"""Run the command line with `python -m ernest_rules`."""

import sys

from .cli import main

sys.exit(main())
