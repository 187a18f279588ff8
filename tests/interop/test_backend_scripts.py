"""scripts/start-backends.sh and scripts/stop-backends.sh on a high free port range."""

import os
import socket
import subprocess
import time

import grpc

import fgtest

SCRIPTS = fgtest.source_dir() / "scripts"


def script_env(tmp_path, **extra):
    env = dict(os.environ)
    env.update(
        FRAMESERVER=str(fgtest.binary(fgtest.FRAMESERVER)),
        FG_RUN_DIR=str(tmp_path / "run"),
        FG_BACKEND_TIMEOUT="15",
    )
    env.update(extra)
    return env


def run(script, env, *args):
    return subprocess.run([str(SCRIPTS / script), *map(str, args)], env=env, capture_output=True, text=True, timeout=60)


def pids_in(pidfile):
    return [int(line.split()[0]) for line in pidfile.read_text().splitlines() if line.strip()]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_start_and_stop_backends(tmp_path, pb):
    env = script_env(tmp_path, FRAMESERVER_ARGS="--load-ms 300 --infer-ms 1 --models sanders,obama")
    base = fgtest.free_port_range(3)
    pidfile = tmp_path / "run" / "backends.pids"
    r = run("start-backends.sh", env, 3, base)
    try:
        assert r.returncode == 0, r.stderr + r.stdout
        pids = pids_in(pidfile)
        assert len(pids) == 3 and all(alive(p) for p in pids)
        for i in range(3):
            addr = f"127.0.0.1:{base + i}"
            assert addr in r.stdout
            # SERVING when the script returns, not merely started (--load-ms 300)
            assert fgtest.health_status(addr) == "SERVING"
            assert (tmp_path / "run" / f"backend-{base + i}.log").exists()
        # a second start while they run is refused
        again = run("start-backends.sh", env, 3, base)
        assert again.returncode != 0 and "stop-backends" in again.stderr
    finally:
        s = run("stop-backends.sh", env)
    assert s.returncode == 0, s.stderr
    assert "3 backend(s) stopped" in s.stdout
    deadline = time.monotonic() + 3
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
    assert not pidfile.exists()
    for log in (tmp_path / "run").glob("backend-*.log"):
        assert not fgtest.SANITIZER_RE.search(log.read_text()), log.read_text()


def test_start_fails_clearly_on_busy_port(tmp_path):
    env = script_env(tmp_path, FRAMESERVER_ARGS="--load-ms 0")
    base = fgtest.free_port_range(2)
    with socket.socket() as blocker:
        blocker.bind((fgtest.HOST, base + 1))
        blocker.listen()
        t0 = time.monotonic()
        r = run("start-backends.sh", env, 2, base)
        took = time.monotonic() - t0
    assert r.returncode == 1
    assert f"port {base + 1}" in r.stderr, r.stderr
    assert took < 10, "a dead backend is reported at once, not after the timeout"
    # the backend that did start was stopped again
    assert not (tmp_path / "run" / "backends.pids").exists()
    time.sleep(0.2)
    with socket.socket() as s:
        assert s.connect_ex((fgtest.HOST, base)) != 0


def test_start_times_out_with_a_clear_message(tmp_path):
    env = script_env(tmp_path, FRAMESERVER_ARGS="--load-ms 60000", FG_BACKEND_TIMEOUT="1")
    base = fgtest.free_port_range(1)
    r = run("start-backends.sh", env, 1, base)
    assert r.returncode == 1
    assert "not SERVING" in r.stderr and "NOT_SERVING" in r.stderr, r.stderr
    assert not (tmp_path / "run" / "backends.pids").exists()


def test_usage_errors(tmp_path):
    env = script_env(tmp_path)
    for args in ([], ["x"], ["0"], ["2", "65535"]):
        r = run("start-backends.sh", env, *args)
        assert r.returncode == 1 and "start-backends:" in r.stderr, (args, r.stderr)
    r = run("stop-backends.sh", env)
    assert r.returncode == 0 and "nothing to stop" in r.stdout


def test_start_and_stop_python_backends(tmp_path, pb):
    """--python: the kit's serve.py (backends/python) instead of frameservers, same PID file."""
    env = script_env(tmp_path, PYTHON_BACKEND_ARGS="--model numpy-face --names sanders,obama")
    base = fgtest.free_port_range(2)
    pidfile = tmp_path / "run" / "backends.pids"
    r = run("start-backends.sh", env, "--python", 2, base)
    try:
        assert r.returncode == 0, r.stderr + r.stdout
        assert "started 2 python backend(s), SERVING" in r.stdout
        pids = pids_in(pidfile)
        assert len(pids) == 2 and all(alive(p) for p in pids)
        for i in range(2):
            addr = f"127.0.0.1:{base + i}"
            assert fgtest.health_status(addr) == "SERVING"
            with grpc.insecure_channel(addr) as ch:
                fs = pb.frames_pb2_grpc.FrameServiceStub(ch)
                rep = fs.Render(pb.frames_pb2.RenderRequest(model="obama", frame=5), timeout=5)
                assert (rep.frame, rep.width, rep.height, len(rep.image)) == (5, 128, 64, 128 * 64 * 3)
    finally:
        s = run("stop-backends.sh", env)
    assert s.returncode == 0, s.stderr
    assert "2 backend(s) stopped" in s.stdout
    # A process whose exit the script saw may still be tearing down for a moment.
    deadline = time.monotonic() + 2
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
    for i in range(2):
        log = (tmp_path / "run" / f"backend-{base + i}.log").read_text()
        assert "framegate-backend stopped" in log, log  # drained and exited, not killed


def test_python_usage_errors(tmp_path):
    env = script_env(tmp_path)
    for args in (["--python"], ["--python", "x"], ["--python", "0"]):
        r = run("start-backends.sh", env, *args)
        assert r.returncode == 1 and "start-backends:" in r.stderr, (args, r.stderr)
    assert "[--python]" in run("start-backends.sh", env, "--python").stderr


def test_demo_ctrl_c_drains_framegate(tmp_path):
    """Ctrl-C on scripts/demo.sh (SIGINT to its whole process group, as a terminal sends it):
    framegate gets one SIGTERM and drains, the backends are stopped (issue 10)."""
    import re
    import signal

    base = fgtest.free_port_range(3)
    env = script_env(tmp_path, START_PORT=str(base), NUM_SERVERS="2", WS_PORT=str(base + 2),
                     FG_BUILD_DIR=str(fgtest.build_dir()), FRAMEGATE_ARGS="--host 127.0.0.1")
    out = tmp_path / "demo.out"
    with open(out, "w") as f:
        p = subprocess.Popen([str(SCRIPTS / "demo.sh")], env=env, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not re.search(r"info listening on 127\.0\.0\.1:", out.read_text()):
            assert p.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGINT)
        p.wait(30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    text = out.read_text()
    assert "second signal" not in text, text
    assert "SIGTERM: shutting down" in text and re.search(r"info stopped\n", text), text
    assert "stop-backends: 2 backend(s) stopped" in text, text
