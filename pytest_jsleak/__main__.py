"""`python -m pytest_jsleak`: the same as the `jsleak` console script."""

from __future__ import annotations

import sys

from pytest_jsleak.cli import main

if __name__ == "__main__":
    sys.exit(main())
