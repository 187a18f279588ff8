"""scripts/run-multi.sh N [START_PORT]: the proxy in range mode (issue 3 §5)."""

import os
import subprocess

import pytest

import fgtest
from fgproxy import FRAMEGATE, Client, assert_frame, frameserver_on, http_get, wait_proxy_health

N = 3


def script():
    return fgtest.source_dir() / "scripts" / "run-multi.sh"


def test_run_multi_starts_the_proxy_for_n_backends(procs):
    # Below the kernel's ephemeral range (32768..): client sockets in TIME_WAIT crowd that one.
    base = fgtest.free_port_range(N + 1)
    for i in range(N):
        frameserver_on(procs, base + i, "--infer-ms", "0")
        fgtest.wait_health(f"{fgtest.HOST}:{base + i}")
    ws_port = base + N  # free a moment ago, like the backends' ports
    env = dict(os.environ)
    env["FRAMEGATE"] = str(fgtest.binary(FRAMEGATE))
    env["FRAMEGATE_ARGS"] = f"--ws-port {ws_port} --host 127.0.0.1 --health-interval-ms 200 --log-frames off --balance round-robin"
    # The script execs framegate: its exit status is framegate's, checked (0) at stop.
    proxy = procs.start([script(), str(N), str(base)], name="run-multi", env=env, expect_exit=0)
    proxy.wait_log(r"listening on", timeout=15)
    fgtest.wait_tcp(fgtest.HOST, ws_port)
    want = [f"localhost:{base + i}" for i in range(N)]
    _, h = wait_proxy_health(ws_port, lambda h: h["healthy_count"] == N, what=f"{N} healthy backends")
    assert [b["address"] for b in h["backends"]] == want
    with Client(ws_port) as c:
        replies = c.run(3 * N)
    for r in replies:
        assert_frame(r)
    assert {a: sum(r.backend == a for r in replies) for a in want} == {a: 3 for a in want}
    assert http_get(ws_port, "/")[0] == 200
    # exec: the script's pid is the proxy's, so SIGTERM to it drains the proxy: exit 0.
    with open(f"/proc/{proxy.pid}/comm") as f:
        assert f.read().strip() == "framegate", "run-multi.sh did not exec framegate"
    assert proxy.stop() == 0, proxy.log()[-2000:]
    with pytest.raises(OSError):
        http_get(ws_port, "/health", timeout=1)


@pytest.mark.parametrize("args", [[], ["x"], ["0"], ["3", "abc"], ["3", "65534"], ["1", "2", "3"]])
def test_run_multi_usage_errors(args):
    r = subprocess.run([script(), *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "usage" in r.stderr


def test_run_multi_missing_binary(tmp_path):
    env = dict(os.environ, FRAMEGATE=str(tmp_path / "nothing"))
    r = subprocess.run([script(), "2", "50051"], capture_output=True, text=True, timeout=10, env=env)
    assert r.returncode == 1 and "not built" in r.stderr, (r.returncode, r.stderr)
