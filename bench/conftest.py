"""pytest setup for framebench's black-box test: shared helpers from tests/fgtest.py and
tests/integration/fgproxy.py; the `procs` fixture stops every process a test started."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
for p in (TESTS, TESTS / "integration"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fgtest import procs, pytest_runtest_makereport  # noqa: E402,F401
