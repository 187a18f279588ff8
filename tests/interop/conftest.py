"""pytest setup for the interop suite: shared helpers from tests/fgtest.py."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fgtest import pb, procs, pytest_runtest_makereport  # noqa: E402,F401  (fixtures, hook)
import fgtest  # noqa: E402


@pytest.fixture(scope="session")
def node_path():
    """NODE_PATH with @grpc/grpc-js and @grpc/proto-loader (installed once into the build folder)."""
    script = Path(__file__).resolve().parent / "npm-setup.sh"
    r = subprocess.run([str(script), str(fgtest.build_dir())], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"npm-setup.sh failed:\n{r.stderr}"
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture
def node_env(node_path):
    env = dict(os.environ)
    env["NODE_PATH"] = node_path
    return env
