"""pytest setup for the proxy's black-box tests: shared helpers from tests/fgtest.py and
this folder's fgproxy.py; the `procs` fixture stops every process a test started."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fgtest import pb, procs, pytest_runtest_makereport  # noqa: E402,F401
