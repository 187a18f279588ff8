"""serve.py's command line: clear refusals (bad --model, busy port, --device, load() failing)
with their exit statuses, and a loading backend stopped by SIGTERM."""

import os
import signal
import socket
import subprocess

import fgtest
from conftest import SERVE, TEST_MODELS, start_kit

SCRIPTED = f"{TEST_MODELS}:ScriptedFace"


def serve(*args, env=None):
    return subprocess.run(["/usr/bin/python3", str(SERVE), "--port", "0", *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env)


def test_bad_model_specs_exit_2_with_the_reason():
    for spec, why in (
        ("nothing", "expected torch-face, numpy-face, FILE.py:CLASS or MODULE:CLASS"),
        ("/nonexistent/x.py:X", "no file /nonexistent/x.py"),
        ("no_such_module_xyz:X", "cannot import it"),
        (f"{TEST_MODELS}:os", "is not a framegate_backend.Model subclass"),
    ):
        r = serve("--model", spec)
        assert r.returncode == 2 and why in r.stderr, (spec, r.stderr)
    r = serve("--model", "numpy-face", "--device", "cuda")
    assert r.returncode == 2 and "CPU only" in r.stderr
    r = serve("--max-batch", "0")
    assert r.returncode == 2 and "--max-batch" in r.stderr


def test_busy_port_exits_1():
    with socket.socket() as s:
        s.bind((fgtest.HOST, 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(["/usr/bin/python3", str(SERVE), "--host", fgtest.HOST, "--port", str(port),
                            "--model", "numpy-face"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and f"cannot bind {fgtest.HOST}:{port}" in r.stderr, r.stderr


def test_second_backend_on_the_same_port_exits_1(procs):
    """gRPC servers set SO_REUSEPORT by default; the kit does not, so two backends never share
    a port (start-backends.sh reports the second one's failure)."""
    _, addr = start_kit(procs, "--model", "numpy-face")
    port = addr.rsplit(":", 1)[1]
    r = subprocess.run(["/usr/bin/python3", str(SERVE), "--host", fgtest.HOST, "--port", port,
                        "--model", "numpy-face"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "cannot bind" in r.stderr, r.stderr


def test_load_failure_exits_1(procs):
    env = dict(os.environ, FGK_LOAD_FAIL="weights.pt is missing")
    p, addr = start_kit(procs, "--model", SCRIPTED, env=env)
    assert p.wait(20) == 1
    assert "load() failed: RuntimeError: weights.pt is missing" in p.log()


def test_sigterm_while_loading_exits_0(procs, tmp_path):
    env = dict(os.environ, FGK_LOAD_GATE=str(tmp_path / "never"))
    p, addr = start_kit(procs, "--model", SCRIPTED, env=env)
    assert fgtest.health_status(addr) == "NOT_SERVING"
    p.signal(signal.SIGTERM)
    assert p.wait(10) == 0
    assert "stopped while loading" in p.log()
