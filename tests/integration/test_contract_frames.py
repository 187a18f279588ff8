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
    describe,
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
