"""Contract section 2 reply fields and section 3 HTTP rows, end to end with real frameservers:
the FRAME's format byte, width and height for every image format and non-default sizes; the
image bytes exactly as the backend rendered them (compared with a direct gRPC Render of the
same request); grpc_us <= total_us on every reply; 405 with Allow for a known path with another
method; an IPv6 backend ([::1]:PORT)."""

import re

import grpc
import pytest

import fgtest
from fgproxy import (
    FRAME,
    Client,
    backend_entry,
    describe,
    frames_served,
    get_health,
    raw_http,
    start_framegate,
    wait_proxy_health,
)

RGB24, RGBA32, JPEG = 1, 2, 3
BYTES_PER_PIXEL = {RGB24: 3, RGBA32: 4}


def direct_render(pb, addr, frame, data, model="sanders"):
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        return stub.Render(pb.frames_pb2.RenderRequest(model=model, frame=frame, input=data), timeout=5)


@pytest.mark.parametrize("fmt,code,width,height", [
    ("rgb24", RGB24, 128, 64),
    ("rgb24", RGB24, 200, 40),
    ("rgba32", RGBA32, 64, 300),
    ("rgba32", RGBA32, 128, 64),
    ("jpeg", JPEG, 96, 48),
    ("jpeg", JPEG, 320, 240),
])
def test_frame_fields_and_image_bytes_match_a_direct_render(procs, pb, fmt, code, width, height):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--format", fmt,
                                         "--width", width, "--height", height)
    _, port = start_framegate(procs, [addr], "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
    with Client(port) as c:
        for i, data in enumerate((b"", fgtest.pcm_tone(), fgtest.pcm_tone(1600, 3000, 16))):
            r = c.call(i + 1, 1000 + i, data=data)
            assert r.type == FRAME and r.status == 0, describe(r)
            assert (r.format, r.width, r.height) == (code, width, height), describe(r)
            assert r.reserved == 0 and r.attempts == 1 and r.backend == addr, describe(r)
            assert 0 < r.grpc_us <= r.total_us, f"grpc_us {r.grpc_us} > total_us {r.total_us}"
            want = direct_render(pb, addr, 1000 + i, data)
            assert (want.format, want.width, want.height) == (code, width, height)
            assert r.payload == want.image, f"image differs from a direct render ({len(r.payload)} vs {len(want.image)} bytes)"
            if code in BYTES_PER_PIXEL:
                assert len(r.payload) == width * height * BYTES_PER_PIXEL[code]
            else:
                assert r.payload[:2] == b"\xff\xd8" and r.payload[-2:] == b"\xff\xd9", "not a JPEG"


@pytest.mark.parametrize("path", ["/", "/health", "/metrics", "/ws"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_known_path_with_another_method_is_405_with_allow(procs, path, method):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    _, port = start_framegate(procs, [addr], "--log-frames", "off")
    req = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    out, _ = raw_http(port, req.encode())
    head = out.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 405 "), head
    allow = re.search(r"(?im)^allow:\s*(.+?)\s*$", head)
    assert allow and "GET" in [m.strip() for m in allow.group(1).split(",")], head
    # An unknown path stays 404 whatever the method.
    out, _ = raw_http(port, req.replace(path, "/nothing-here", 1).encode())
    assert out.startswith(b"HTTP/1.1 404 "), out[:200]


def test_ipv6_backend(procs):
    p = procs.start([fgtest.binary(fgtest.FRAMESERVER), "--host", "::1", "--port", "0", "--load-ms", "0",
                     "--infer-ms", "0"], name="frameserver6")
    m = p.wait_log(r"listening on (\[::1\]):(\d+)")
    addr = f"[::1]:{m.group(2)}"
    _, port = start_framegate(procs, [addr], "--log-frames", "off", "--health-interval-ms", "200")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the IPv6 backend healthy")
    with Client(port) as c:
        replies = c.run(6, inflight=3)
    for r in replies:
        assert r.type == FRAME and r.backend == addr, describe(r)


def test_frameserver_queue_full_is_retried_elsewhere_and_not_a_fault(procs):
    # A: one frame running and one waiting at most (--queue-max 1), the rest RESOURCE_EXHAUSTED.
    # B: room for everything. 10 frames at once: what A refuses is retried on B.
    busy_proc, busy = fgtest.serving_frameserver(procs, "--infer-ms", "300", "--queue-max", "1")
    roomy_proc, roomy = fgtest.serving_frameserver(procs, "--infer-ms", "50")
    gate, port = start_framegate(procs, [busy, roomy], "--log-frames", "off", "--retries", "1",
                                 "--balance", "round-robin",  # frames straight to the backends
                                 "--unhealthy-after", "1", "--timeout-ms", "5000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy backends")
    with Client(port) as c:
        replies = c.run(10, inflight=10)
    for r in replies:
        assert r.type == FRAME, describe(r)
    retried = [r for r in replies if r.attempts == 2]
    assert all(r.attempts in (1, 2) for r in replies)
    assert all(r.backend == roomy for r in retried), [describe(r) for r in retried]
    _, h = get_health(port)
    e_busy, e_roomy = backend_entry(h, busy), backend_entry(h, roomy)
    assert e_busy["healthy"] and e_busy["error_count"] == 0, e_busy
    assert e_roomy["error_count"] == 0, e_roomy
    # total_requests counts every call: the refused ones too.
    assert e_busy["total_requests"] + e_roomy["total_requests"] == sum(r.attempts for r in replies)
    assert gate.stop() == 0
    served_busy, served_roomy = frames_served(busy_proc), frames_served(roomy_proc)
    refused = re.search(r"RESOURCE_EXHAUSTED=(\d+)", busy_proc.log())
    refused = int(refused.group(1)) if refused else 0
    print(f"QUEUE-MAX: busy served {served_busy}, refused {refused}; roomy served {served_roomy}; "
          f"retried {len(retried)}")
    assert refused >= 1, "the busy frameserver never refused a frame: the row was not exercised"
    assert served_busy == e_busy["total_requests"] - refused
    assert refused == len(retried), "each refused frame is retried exactly once"
    assert served_busy + served_roomy == 10, "a frame was rendered twice or not at all"
