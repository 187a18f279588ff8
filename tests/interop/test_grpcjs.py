"""frameserver against the official @grpc/grpc-js client (tests/interop/grpcjs_client.js)."""

import json
import subprocess
from pathlib import Path

import fgtest

CLIENT = Path(__file__).resolve().parent / "grpcjs_client.js"


def run_client(env, *args, timeout=60):
    r = subprocess.run(["node", str(CLIENT), *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"grpcjs_client {args} failed ({r.returncode}):\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_grpcjs_calls(procs, node_env):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "50", "--models", "sanders,obama")
    out = run_client(node_env, "calls", addr)
    rgb = {"code": 0, "size": 24576, "format": "IMAGE_FORMAT_RGB24", "width": 128, "height": 64}
    assert {k: out["render"][k] for k in rgb} == rgb
    assert out["render"]["frame"] == 4242
    assert out["render"]["inference_us"] >= 40000
    assert [b["frame"] for b in out["batch"]] == [9, 8, 7]
    assert all(b["size"] == 24576 for b in out["batch"])
    assert sorted((m["name"], m["ready"]) for m in out["models"]) == [("obama", True), ("sanders", True)]
    assert out["health"] == "SERVING"
    assert out["health_service"] == "SERVING"
    assert out["not_found"] == 5
    assert out["deadline"] == 4
    assert (out["slow"]["code"], out["slow"]["frame"]) == (0, 1)
    # Watch is optional in the contract; if implemented it must report SERVING
    assert out["watch"].get("code") == 12 or out["watch"]["statuses"] == ["SERVING"], out["watch"]


def test_grpcjs_100_concurrent_streams(procs, node_env):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    out = run_client(node_env, "load", addr, "100", "2000")
    assert out["errors"] == {} and out["wrong"] == 0, out
    assert out["ok"] == 2000
    print(f"grpc-js, 100 concurrent, --infer-ms 0: {out['rate']:.0f} calls/s")
    assert p.alive()


def test_grpcjs_unavailable_while_loading_then_serving(procs, node_env):
    # node first (its start-up is slow on a busy machine), then the server, then the calls
    node = subprocess.Popen(
        ["node", str(CLIENT), "loading", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=node_env
    )
    try:
        assert node.stdout.readline().strip() == "ready"
        _, addr = fgtest.start_frameserver(procs, "--load-ms", "1500", "--infer-ms", "1")
        stdout, _ = node.communicate(addr + "\n", timeout=30)
    finally:
        node.kill()
        node.wait()
    assert node.returncode == 0
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["health_before"] == "NOT_SERVING"
    assert out["render_before"] == 14  # UNAVAILABLE
    if out["watch"].get("code") != 12:  # Watch implemented: NOT_SERVING, then SERVING
        assert out["watch"]["statuses"] == ["NOT_SERVING", "SERVING"], out["watch"]
    assert 200 < out["serving_after_ms"] < 5000, out
    assert out["health_after"] == "SERVING"
    assert (out["render_after"]["code"], out["render_after"]["frame"], out["render_after"]["size"]) == (0, 2, 24576)


def test_grpcjs_queue_full_resource_exhausted(procs, node_env):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "100", "--queue-max", "3")
    codes = run_client(node_env, "burst", addr, "10")["codes"]
    assert set(codes) == {"0", "8"}, codes
    assert 3 <= codes["0"] <= 4 and codes["0"] + codes["8"] == 10, codes


def test_grpcjs_fail_rate_internal(procs, node_env):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--fail-rate", "1")
    assert run_client(node_env, "burst", addr, "5")["codes"] == {"13": 5}
