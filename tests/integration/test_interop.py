"""Backends written with the official gRPC servers (python grpcio, @grpc/grpc-js) behind framegate."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fgtest
from fgproxy import NOT_FOUND, Client, assert_error, assert_frame, start_framegate, wait_proxy_health

PEERS = Path(__file__).resolve().parent.parent / "peers"
NPM_SETUP = Path(__file__).resolve().parent.parent / "interop" / "npm-setup.sh"


@pytest.fixture(scope="module")
def node_env():
    """Environment with NODE_PATH holding @grpc/grpc-js (installed once into the build folder)."""
    r = subprocess.run([str(NPM_SETUP), str(fgtest.build_dir())], capture_output=True, text=True, timeout=200)
    assert r.returncode == 0, f"npm-setup.sh failed:\n{r.stderr}"
    env = dict(os.environ)
    env["NODE_PATH"] = r.stdout.strip().splitlines()[-1]
    return env


def start_peer(kind, group, env, *flags):
    if kind == "python":
        args = [sys.executable, PEERS / "py_frame_server.py"]
    else:
        args = ["node", PEERS / "node_frame_server.js"]
    p = group.start(args + ["--host", fgtest.HOST, "--port", "0", *flags], name=f"{kind}_peer", env=env)
    m = p.wait_log(fgtest.LISTEN_RE, 20)
    return p, f"{m.group(1)}:{m.group(2)}"


@pytest.mark.parametrize("kind", ["python", "node"])
def test_peer_behind_framegate(kind, procs, node_env):
    _, addr = start_peer(kind, procs, node_env, "--load-ms", "500")
    _, port = start_framegate(procs, [addr], "--health-interval-ms", "200", "--log-frames", "off")
    # NOT_SERVING while it loads, then SERVING: the proxy follows the peer's health service.
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, timeout=10, what="the peer healthy")
    with Client(port) as c:
        replies = c.run(20, inflight=4)
        for r in replies:
            assert_frame(r)
            assert r.backend == addr
        # A request fault from the peer is passed through with its grpc-message, not retried.
        r = c.call(100, 7, model="nobody")
        assert_error(r, NOT_FOUND, request_id=100, frame=7)
        assert "nobody" in r.payload.decode(), f"grpc-message not passed through: {r.payload!r}"
        assert r.attempts == 1
        assert_frame(c.call(101, 8))


def test_mixed_fleet_round_robin(procs, node_env):
    _, py = start_peer("python", procs, node_env)
    _, node = start_peer("node", procs, node_env)
    _, c_srv = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    addrs = [py, node, c_srv]
    _, port = start_framegate(procs, addrs, "--balance", "round-robin", "--health-interval-ms", "200",
                              "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 3, timeout=10, what="3 healthy backends")
    with Client(port) as c:
        replies = c.run(60, inflight=1)
    for r in replies:
        assert_frame(r)
    seq = [r.backend for r in replies]
    assert {a: seq.count(a) for a in addrs} == {a: 20 for a in addrs}, seq
