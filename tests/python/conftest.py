"""pytest setup for the Python backend kit's tests (suite python-kit): tests/fgtest.py's
helpers, the kit (backends/python) importable, and start_kit() for serve.py processes."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent, HERE.parent / "integration", HERE.parent / "interop", HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import fgtest  # noqa: E402
from fgtest import pb, procs, pytest_runtest_makereport  # noqa: E402,F401  (fixtures, hook)

KIT = fgtest.source_dir() / "backends" / "python"
for p in (KIT, KIT / "examples"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

SERVE = KIT / "serve.py"
TEST_MODELS = HERE / "kit_models.py"


def start_kit(group, *flags, name="kit", env=None, timeout=20.0):
    """serve.py on a free port (--port 0); returns (proc, "127.0.0.1:PORT") once bound."""
    args = ["/usr/bin/python3", SERVE, "--host", fgtest.HOST, "--port", "0", *[str(f) for f in flags]]
    p = group.start(args, name=name, env=env)
    m = p.wait_log(fgtest.LISTEN_RE, timeout)
    return p, f"{m.group(1)}:{m.group(2)}"


def serving_kit(group, *flags, **kw):
    p, addr = start_kit(group, *flags, **kw)
    fgtest.wait_health(addr, timeout=30)
    return p, addr
