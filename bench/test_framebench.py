"""Black-box tests of framebench (issue 5 section 1) against real frameservers and the real
framegate proxy: every mode's figures and --json, and the clear errors for a bad address, a
refused connection and a target that is not a FrameService."""

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


# ----------------------------------------------------------------------------- ws, v1.1


def start_overload_peer(procs, *flags):
    peer = Path(__file__).resolve().parent / "overload_peer.py"
    p = procs.start(["/usr/bin/python3", peer, *flags], name="overload-peer")
    m = p.wait_log(fgtest.LISTEN_RE, 10)
    return p, int(m.group(2))


def peer_events(p, closes, timeout=5.0):
    """The peer's JSON lines once `closes` connections have closed."""
    deadline = time.monotonic() + timeout
    while True:
        events = [json.loads(l) for l in p.log().splitlines() if l.startswith("{")]
        if sum(e["event"] == "close" for e in events) >= closes:
            return events
        assert time.monotonic() < deadline, f"peer saw {events}"
        time.sleep(0.05)


def test_ws_v11_flags_groups_and_overload_figures(procs):
    p, port = start_overload_peer(procs)
    args = ["ws", "--url", f"ws://127.0.0.1:{port}/ws", "--latest", "--deadline-ms", 250,
            "--order", "--hints", "--group", "flood:3:4", "--group=modest:1:1", "--duration", 1]
    j = framebench_json(*args)
    events = peer_events(p, 4)
    opens = [e for e in events if e["event"] == "open"]
    closes = [e for e in events if e["event"] == "close"]
    assert [e["path"] for e in opens] == ["/ws?deadline_ms=250&order=1&hints=1"] * 4
    total = {k: sum(e[k] for e in closes) for k in closes[0] if k not in ("event", "path")}
    # Every request carried LATEST and nothing else; every reply was counted as what it was.
    assert total["requests"] == total["latest_flags"] == j["sent"] == j["replies"]
    assert total["other_flags"] == 0 and j["lost"] == 0 and j["bad_replies"] == 0
    assert j["session"] == {"latest": True, "deadline_ms": 250, "order": True, "hints": True}
    assert j["shed"] == total["shed"] == j["replies_by_status"]["RESOURCE_EXHAUSTED"] > 0
    assert j["superseded"] == total["superseded"] == j["replies_by_status"]["CANCELLED"] > 0
    assert j["frames"] == total["frames"] == j["latency"]["accepted"]["count"]
    assert j["latency"]["shed"]["count"] == j["shed"]
    assert abs(j["shed_ratio"] - j["shed"] / j["replies"]) < 1e-9
    assert abs(j["shed_ratio"] - 0.25) < 0.05  # a quarter of the frame numbers
    assert 0 < j["goodput_fps"] <= j["frames"] / j["duration_s"] + 1e-6
    # Two HINTs per connection; the last one is reported, figures decoded.
    assert j["hint"] == {"count": 8, "healthy_backends": 2, "fps": 7.25, "queue_wait_us": 123456}
    groups = {g["name"]: g for g in j["groups"]}
    assert list(groups) == ["flood", "modest"]
    assert (groups["flood"]["connections"], groups["flood"]["inflight"]) == (3, 4)
    assert (groups["modest"]["connections"], groups["modest"]["inflight"]) == (1, 1)
    for key in ("sent", "replies", "frames", "shed", "superseded"):
        assert groups["flood"][key] + groups["modest"][key] == j[key], key
    assert groups["modest"]["hint"]["count"] == 2 and groups["flood"]["hint"]["count"] == 6
    modest = groups["modest"]["fairness"]
    assert modest["connections"] == 1 and modest["min_share"] == modest["max_share"] == 1.0
    fair = j["fairness"]
    assert fair["connections"] == 4
    assert 0 < fair["min_share"] <= 0.25 <= fair["max_share"] < 1
    assert fair["min_frames"] + fair["max_frames"] <= j["frames"]

    text = framebench(*args)
    assert text.returncode == 0, text.stderr
    for want in ("in 2 groups", "goodput", "shed", "superseded", "accepted", "shed reply",
                 "fairness", "Jain", "longest stall", "7.2 frames/s, 2 healthy backends",
                 "group flood: 3 connections x 4 in flight", "group modest: 1 connections x 1"):
        assert want in text.stdout, f"{want!r} missing from:\n{text.stdout}"


def test_ws_stall_and_v1_defaults(procs):
    """Without the v1.1 flags framebench sends flags 0 and a bare /ws; the longest gap between
    two frames of one connection is its stall (the peer holds frame 5's reply 400 ms)."""
    p, port = start_overload_peer(procs, "--stall-frame", 5, "--stall-ms", 400)
    j = framebench_json("ws", "--url", f"ws://127.0.0.1:{port}/ws", "--duration", 1.2)
    events = peer_events(p, 1)
    assert [e["path"] for e in events if e["event"] == "open"] == ["/ws"]
    close = [e for e in events if e["event"] == "close"][0]
    assert close["latest_flags"] == close["other_flags"] == 0 and close["hints"] == 0
    assert j["hint"] is None and j["groups"][0]["name"] == "all"
    assert j["session"] == {"latest": False, "deadline_ms": 0, "order": False, "hints": False}
    stall = j["fairness"]["longest_stall_us"]
    assert 400000 <= stall < 550000, stall


def test_ws_group_errors():
    for bad in ("flood", "flood:0:1", "a b:1:1", "flood:1:1:1"):
        r = framebench("ws", "--url", "ws://127.0.0.1:1/ws", "--group", bad)
        assert r.returncode == 2 and "group" in r.stderr, (bad, r.stderr)
    r = framebench("ws", "--url", "ws://127.0.0.1:1/ws", "--group")
    assert r.returncode == 2 and "--group needs a value" in r.stderr
    r = framebench("ws", "--help")
    for flag in ("--latest", "--deadline-ms", "--order", "--hints", "--group"):
        assert flag in r.stdout, flag
