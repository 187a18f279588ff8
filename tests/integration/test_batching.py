"""Dynamic batching (issue 11, contract section 1): frames of one model waiting for the same
backend go as one RenderBatch (--batch-max), each keeping its own reply; a lone frame is never
delayed unless --batch-window-us asks for it; a backend without RenderBatch gets single Render
calls from then on."""

import struct
import sys
import threading
import time
from pathlib import Path

import fgtest
from fgproxy import (
    FRAME,
    Client,
    assert_frame,
    describe,
    get_health,
    http_get,
    parse_prometheus,
    start_framegate,
    wait_proxy_health,
)

PEERS = Path(__file__).resolve().parent.parent / "peers"


def histogram(port, name):
    """{le: cumulative count} and the sum of a histogram in /metrics."""
    _, _, body = http_get(port, "/metrics")
    fam = parse_prometheus(body.decode())["framegate_" + name]
    buckets = {s[1]["le"]: s[2] for s in fam["samples"] if s[0].endswith("_bucket")}
    total = next(s[2] for s in fam["samples"] if s[0].endswith("_sum"))
    return buckets, total


def pcm(level, n=64):
    return struct.pack(f"<{n}h", *([level] * n))


def run_clients(port, conns, inflight, per_conn):
    """Each connection sends per_conn requests (distinct frame and input) keeping `inflight`
    outstanding; returns {(conn, id): reply}, checking exactly one reply each."""
    out, errors = {}, []

    def one(k):
        try:
            with Client(port, timeout=20) as c:
                pending, nxt, got = set(), 1, 0
                while got < per_conn:
                    while nxt <= per_conn and len(pending) < inflight:
                        c.send(nxt, 1000 * k + nxt, data=pcm(100 * nxt))
                        pending.add(nxt)
                        nxt += 1
                    r = c.recv()
                    assert r.request_id in pending, f"duplicate or unknown: {describe(r)}"
                    pending.discard(r.request_id)
                    assert r.frame == 1000 * k + r.request_id, describe(r)
                    out[(k, r.request_id)] = r
                    got += 1
                assert not c.quiet_for(0.3)
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[0]
    return out


def test_waiting_frames_go_as_one_render_batch_each_with_its_own_reply(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "50", "--batch-item-ms", "2")
    _, port = start_framegate(procs, [addr], "--log-frames", "off", "--batch-max", "8",
                              "--deadline-ms", "3000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy backend")
    t0 = time.monotonic()
    got = run_clients(port, 4, 8, 24)
    took = time.monotonic() - t0
    assert len(got) == 96
    for r in got.values():
        assert_frame(r)
    buckets, frames_sent = histogram(port, "batch_size")
    calls = buckets["+Inf"]
    print(f"BATCH: 96 frames in {calls:.0f} backend calls, {took:.2f}s; batch sizes {buckets}")
    assert frames_sent == 96, f"frames in backend calls {frames_sent} != 96"
    assert buckets["1"] < calls, "no RenderBatch of more than one frame"
    assert calls <= 40, f"{calls} calls for 96 frames queued 32 at a time"
    # One 50 ms pass renders up to 8 frames (64 ms): far more than 20 frames/s alone.
    assert 96 / took > 40, f"{96 / took:.1f} frames/s with batches of up to 8"
    h = get_health(port)[1]["backends"][0]
    assert h["total_requests"] == calls and h["error_count"] == 0, h
    assert h["frames_sent"] == 96, h  # what the page shows as frames per call

    # Each frame got its own image: the same requests, unbatched, render the same bytes.
    _, plain = start_framegate(procs, [addr], "--log-frames", "off", name="unbatched")
    wait_proxy_health(plain, lambda h: h["healthy_count"] == 1, what="1 healthy backend")
    with Client(plain) as c:
        for (k, rid) in [(0, 1), (1, 5), (2, 13), (3, 24)]:
            r = c.call(rid, 1000 * k + rid, data=pcm(100 * rid))
            assert_frame(r)
            assert r.payload == got[(k, rid)].payload, f"frame {k}/{rid}: batched image differs"


def test_a_lone_frame_is_never_delayed_by_batching(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "5")
    _, port = start_framegate(procs, [addr], "--log-frames", "off", "--batch-max", "8")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy backend")
    with Client(port) as c:
        replies = c.run(40, inflight=1)
    for r in replies:
        assert_frame(r)
        # proxy time beyond the backend call: the frame went out at once
        assert r.total_us - r.grpc_us < 5000, describe(r)
    buckets, frames_sent = histogram(port, "batch_size")
    assert buckets["1"] == buckets["+Inf"] == 40 and frames_sent == 40, buckets


def test_a_backend_without_render_batch_gets_single_render_calls(procs):
    p = procs.start([sys.executable, PEERS / "py_frame_server.py", "--host", fgtest.HOST,
                     "--port", "0", "--infer-ms", "20", "--no-batch"], name="no_batch_peer")
    m = p.wait_log(fgtest.LISTEN_RE, 20)
    addr = f"{m.group(1)}:{m.group(2)}"
    gate, port = start_framegate(procs, [addr], "--log-frames", "off", "--batch-max", "8",
                                 "--retries", "0", "--deadline-ms", "5000",
                                 "--backend-max-inflight", "1")  # one call at a time
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy backend")
    got = run_clients(port, 3, 6, 12)
    for r in got.values():
        assert_frame(r)
    gate.wait_log(r"no RenderBatch \(UNIMPLEMENTED\): single Render calls from now on", 5)
    h = get_health(port)[1]["backends"][0]
    assert h["healthy"] and h["error_count"] == 0, h
    buckets, _ = histogram(port, "batch_size")
    assert buckets["+Inf"] - buckets["1"] == 1, f"one RenderBatch tried, then none: {buckets}"


def test_batch_window_lets_a_frame_wait_for_company(procs):
    p = procs.start([sys.executable, PEERS / "py_frame_server.py", "--host", fgtest.HOST,
                     "--port", "0"], name="batch_peer")
    m = p.wait_log(fgtest.LISTEN_RE, 20)
    addr = f"{m.group(1)}:{m.group(2)}"
    _, port = start_framegate(procs, [addr], "--log-frames", "off", "--batch-max", "4",
                              "--batch-window-us", "100000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="1 healthy backend")
    with Client(port) as c:
        t0 = time.monotonic()
        for i in range(1, 5):
            c.send(i, i)
            time.sleep(0.01)
        replies = [c.recv() for _ in range(4)]
        took = time.monotonic() - t0
        assert not c.quiet_for(0.2)
        # A lone frame waits out the window, then goes alone.
        lone = c.call(9, 9)
    for r in replies + [lone]:
        assert_frame(r)
    assert took < 0.1, f"4 frames within the window took {took:.3f}s"
    assert lone.total_us >= 100_000 * 0.9, describe(lone)
    assert p.stop() == 0
    sizes = p.log().strip().splitlines()[-1]
    assert sizes.endswith("RenderBatch sizes [4]"), sizes
