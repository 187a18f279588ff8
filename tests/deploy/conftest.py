"""pytest setup for the deploy suite (issue 13): the shipped deploy/ files checked offline, and
run where this machine allows. Shared helpers from tests/fgtest.py."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent, HERE.parent / "integration"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fgtest import procs, pytest_runtest_makereport  # noqa: E402,F401
