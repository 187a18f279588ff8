"""Black-box tests of framebench (issue 5 section 1) against real frameservers and the real
framegate proxy: every mode's figures and --json, and the clear errors for a bad address, a
refused connection and a target that is not a FrameService."""

import json
import subprocess
import sys
import textwrap

import fgproxy
import fgtest

FRAMEBENCH = "bench/framebench"


def framebench(*args, timeout=30):
    r = subprocess.run([str(fgtest.binary(FRAMEBENCH)), *[str(a) for a in args]],
                       capture_output=True, text=True, timeout=timeout)
    return r


def framebench_json(*args, timeout=30):
    r = framebench(*args, "--json", timeout=timeout)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(r.stdout)


def not_a_frameservice(procs):
    """A real grpcio server with no services at all: every method is UNIMPLEMENTED."""
    code = textwrap.dedent("""
        import sys, time
        from concurrent import futures
        import grpc
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        print(f"listening on 127.0.0.1:{port}", flush=True)
        server.wait_for_termination()
    """)
    p = procs.start(["/usr/bin/python3", "-c", code], name="empty-grpc")
    m = p.wait_log(fgtest.LISTEN_RE, 15)
    return f"{m.group(1)}:{m.group(2)}"


# ----------------------------------------------------------------------------- render


def test_render_prints_reply_and_writes_ppm(procs, tmp_path):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    out = tmp_path / "frame.ppm"
    j = framebench_json("render", "--target", addr, "--frame", 42, "--out", out)
    assert j["status_name"] == "OK" and j["frame"] == 42 and j["frame_sent"] == 42
    assert (j["format"], j["width"], j["height"]) == ("rgb24", 128, 64)
    assert j["image_bytes"] == 128 * 64 * 3
    data = out.read_bytes()
    head = b"P6\n128 64\n255\n"
    assert data.startswith(head) and len(data) == len(head) + 128 * 64 * 3

    text = framebench("render", "--target", addr, "--frame", 7)
    assert text.returncode == 0
    assert "frame        7" in text.stdout and "128x64" in text.stdout


def test_render_jpeg_backend_to_ppm_and_png_refused(procs, tmp_path):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1", "--format", "jpeg")
    out = tmp_path / "frame.ppm"
    j = framebench_json("render", "--target", addr, "--out", out)
    assert j["format"] == "jpeg"
    assert out.read_bytes().startswith(b"P6\n128 64\n255\n")  # decoded by libturbojpeg
    r = framebench("render", "--target", addr, "--out", tmp_path / "frame.png")
    assert r.returncode == 1 and "PNG" in r.stderr


def test_render_errors(procs):
    r = framebench("render", "--target", "nonsense")
    assert r.returncode == 2 and "HOST:PORT" in r.stderr
    r = framebench("render", "--target", fgproxy.dead_address(), "--timeout", 2)
    assert r.returncode == 1 and "connection refused" in r.stderr
    empty = not_a_frameservice(procs)
    r = framebench("render", "--target", empty)
    assert r.returncode == 1 and "is not a FrameService" in r.stderr, r.stderr
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    r = framebench("render", "--target", addr, "--model", "nobody")
    assert r.returncode == 1 and "does not know model 'nobody'" in r.stderr


# ----------------------------------------------------------------------------- grpc


def test_grpc_concurrent_speedup(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "10")[1] for _ in range(2)]
    j = framebench_json("grpc", "--targets", ",".join(addrs), "--concurrency", 2,
                        "--duration", 1.5, "--baseline", 1)
    assert j["load"] == "concurrent"
    assert [s["address"] for s in j["servers"]] == addrs
    for s in j["servers"]:
        # One frame at a time per server, 10 ms each: about 100 frames/s.
        assert 60 < s["frames_per_s"] <= 110, s
        assert s["replies_by_status"] == {"OK": s["replies_by_status"]["OK"]}
        assert s["latency"]["p50_us"] >= 10000
    assert j["baseline"]["address"] == addrs[0]
    assert 60 < j["baseline"]["frames_per_s"] <= 110
    assert 1.6 < j["speedup"] < 2.4, j["speedup"]
    assert j["total"]["frames"] == sum(s["frames"] for s in j["servers"])
    assert j["errors"] == []


def test_grpc_round_robin_text(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "2")[1] for _ in range(3)]
    r = framebench("grpc", "--targets", ",".join(addrs), "--concurrency", 3, "--duration", 1,
                   "--mode", "round-robin", "--baseline", 0)
    assert r.returncode == 0, r.stderr
    assert "round-robin" in r.stdout
    rows = [line.split() for line in r.stdout.splitlines() if line.strip().startswith("127.0.0.1:")]
    assert [row[0] for row in rows] == addrs
    frames = [int(row[1]) for row in rows]
    assert min(frames) > 50 and max(frames) - min(frames) <= 3, frames  # strict turns


def test_grpc_errors(procs):
    r = framebench("grpc", "--targets", "a:1,,b", "--duration", 1)
    assert r.returncode == 2 and "bad address" in r.stderr
    r = framebench("grpc", "--targets", "127.0.0.1:1", "--mode", "sideways")
    assert r.returncode == 2 and "--mode" in r.stderr
    _, good = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    r = framebench("grpc", "--targets", f"{good},{fgproxy.dead_address()}", "--duration", 1)
    assert r.returncode == 1 and "connection refused" in r.stderr
    r = framebench("grpc", "--targets", not_a_frameservice(procs), "--duration", 1)
    assert r.returncode == 1 and "is not a FrameService" in r.stderr


# ----------------------------------------------------------------------------- ws


def test_ws_closed_loop_through_proxy(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "2")[1] for _ in range(2)]
    _, port = fgproxy.start_framegate(procs, addrs, "--log-frames", "off")
    fgproxy.wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy")
    j = framebench_json("ws", "--url", f"ws://127.0.0.1:{port}/ws", "--connections", 3,
                        "--inflight", 4, "--duration", 1.5, "--input-bytes", 100)
    assert j["connections_open"] == 3
    assert j["subprotocol"] == "framegate.v1"
    assert j["lost"] == 0 and j["unmatched"] == 0 and j["bad_replies"] == 0
    assert j["replies"] == j["sent"] == j["replies_by_status"]["OK"]
    # Two backends, one 2 ms frame at a time each: at most ~1000 frames/s.
    assert 200 < j["frames_per_s"] <= 1050
    backends = {b["address"]: b for b in j["backends"]}
    assert sorted(backends) == sorted(addrs)
    for b in backends.values():
        assert 0.45 <= b["share"] <= 0.55  # round-robin
    lat = j["latency"]
    assert lat["proxy_grpc"]["count"] == j["replies"]
    assert lat["round_trip"]["p50_us"] >= lat["proxy_total"]["p50_us"] >= 2000
    assert lat["proxy_total"]["p50_us"] >= lat["proxy_grpc"]["p50_us"]


def test_ws_open_loop_rate_and_statuses(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    _, port = fgproxy.start_framegate(procs, [addr], "--log-frames", "off")
    fgproxy.wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy")
    url = f"ws://127.0.0.1:{port}/ws"
    j = framebench_json("ws", "--url", url, "--connections", 2, "--inflight", 8,
                        "--duration", 1, "--rate", 200)
    assert j["rate"] == 200
    assert 180 <= j["sent"] <= 202, j["sent"]
    assert j["replies"] == j["sent"] and j["lost"] == 0
    # Unknown model: every reply is an ERROR with NOT_FOUND, counted by status.
    j = framebench_json("ws", "--url", url, "--duration", 0.5, "--model", "nobody")
    assert j["frames"] == 0 and j["replies_by_status"].get("NOT_FOUND", 0) == j["replies"] > 0


def test_ws_unique_inputs_against_a_frame_cache(procs):
    """--unique F: that share of requests carry an input of their own, the rest repeat one, as
    a frame cache in front of a --cacheable backend counts them (hits come from "cache")."""
    _, addr = fgtest.serving_frameserver(procs, "--cacheable", "--infer-ms", "1")
    _, port = fgproxy.start_framegate(procs, [addr], "--log-frames", "off", "--cache-mem", "64MiB")
    fgproxy.wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy")
    url = f"ws://127.0.0.1:{port}/ws"
    framebench_json("ws", "--url", url, "--duration", 0.3, "--input-bytes", 64)  # ListModels known
    j = framebench_json("ws", "--url", url, "--duration", 1.5, "--input-bytes", 64, "--unique", 0.3)
    assert j["unique"] == 0.3 and j["lost"] == 0 and j["replies"] == j["frames"] > 100
    shares = {b["address"]: b["share"] for b in j["backends"]}
    assert 0.6 <= shares["cache"] <= 0.8, shares  # every repeat after the first is a hit
    r = framebench("ws", "--url", url, "--unique", 0.5, "--input-bytes", 2)
    assert r.returncode == 2 and "--unique needs --input-bytes" in r.stderr


def test_ws_errors(procs):
    r = framebench("ws", "--url", "http://127.0.0.1:1/ws")
    assert r.returncode == 2 and "ws://" in r.stderr
    r = framebench("ws", "--url", f"ws://{fgproxy.dead_address()}/ws", "--duration", 0.5)
    assert r.returncode == 1 and "connection refused" in r.stderr
    # A gRPC backend is not a WebSocket proxy.
    _, addr = fgtest.serving_frameserver(procs)
    r = framebench("ws", "--url", f"ws://{addr}/ws", "--duration", 0.5)
    assert r.returncode == 1 and "not HTTP/1.1" in r.stderr, r.stderr
    # The proxy answers 404 for a path that is not /ws.
    _, port = fgproxy.start_framegate(procs, [addr], "--log-frames", "off")
    r = framebench("ws", "--url", f"ws://127.0.0.1:{port}/nope", "--duration", 0.5)
    assert r.returncode == 1 and "HTTP 404" in r.stderr, r.stderr


def test_usage_and_help():
    r = framebench()
    assert r.returncode == 2 and "usage: framebench MODE" in r.stderr
    r = framebench("sideways")
    assert r.returncode == 2 and "unknown mode" in r.stderr
    for mode, flag in (("ws", "--url"), ("grpc", "--targets"), ("render", "--target")):
        r = framebench(mode, "--help")
        assert r.returncode == 0 and flag in r.stdout and "--json" in r.stdout, r.stdout
        r = framebench(mode)
        assert r.returncode == 2 and f"{flag} is required" in r.stderr
        r = framebench(mode, "--no-such-flag", "1")
        assert r.returncode == 2 and "unknown flag" in r.stderr


def test_ws_text_report(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    _, port = fgproxy.start_framegate(procs, [addr], "--log-frames", "off")
    fgproxy.wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy")
    r = framebench("ws", "--url", f"ws://127.0.0.1:{port}/ws", "--duration", 0.5)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for want in ("closed loop", "frames/s", "replies", "OK", "round trip", "proxy grpc",
                 "proxy total", "p50", "p99", "backend", addr):
        assert want in out, f"{want!r} missing from:\n{out}"
