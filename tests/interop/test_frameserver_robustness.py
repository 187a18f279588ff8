"""frameserver must never crash on bad input (issue 2 section 2): each case is its own test,
and after each one the server must still be alive and answer a good call."""

import asyncio
import os
import signal
import socket
import struct
import time

import grpc
import pytest

import fgtest
from h2grpc import H2Grpc, goaway_codes, raw_frame, read_until_closed

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = raw_frame(4, 0, 0)


def render_bytes(pb, frame=1, model="sanders", **kw):
    return pb.frames_pb2.RenderRequest(model=model, frame=frame, **kw).SerializeToString()


def assert_still_serving(proc, addr, pb):
    assert proc.alive(), f"frameserver died; log:\n{proc.log()[-3000:]}"
    with grpc.insecure_channel(addr) as ch:
        r = pb.frames_pb2_grpc.FrameServiceStub(ch).Render(pb.frames_pb2.RenderRequest(model="sanders", frame=777), timeout=5)
    assert (r.frame, len(r.image)) == (777, 24576)


@pytest.fixture
def server(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1", "--max-recv-bytes", "4096")
    yield p, addr
    assert_still_serving(p, addr, pb)


@pytest.mark.parametrize(
    "name, payload",
    [
        ("garbage after preface", PREFACE + os.urandom(64) + b"\x00" * 32),
        ("not http2 at all", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("bad preface", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + EMPTY_SETTINGS),
        ("DATA on stream 0", PREFACE + EMPTY_SETTINGS + raw_frame(0, 0, 0, b"hello")),
        ("HEADERS with broken HPACK", PREFACE + EMPTY_SETTINGS + raw_frame(1, 0x5, 1, b"\xff\xff\xff\xff\xff\xff")),
        ("SETTINGS of bad length", PREFACE + raw_frame(4, 0, 0, b"\x00\x01\x00")),
        ("WINDOW_UPDATE of zero", PREFACE + EMPTY_SETTINGS + raw_frame(8, 0, 0, b"\x00\x00\x00\x00")),
        ("frame over max size", PREFACE + EMPTY_SETTINGS + raw_frame(0, 0, 1, b"x" * 20000)),
        ("even client stream id", PREFACE + EMPTY_SETTINGS + raw_frame(1, 0x5, 2, b"\x83\x86")),
    ],
)
def test_malformed_http2(server, name, payload):
    _, addr = server
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(payload)
        raw, closed = read_until_closed(s, 5)
    assert closed, f"{name}: the server kept the broken connection open"
    codes = goaway_codes(raw)
    if codes:  # nghttp2 sends GOAWAY with an error before closing, except for a bad preface
        assert codes[-1] != 0, f"{name}: GOAWAY without an error code"


def test_length_prefix_over_limit(server, pb):
    """A prefix declaring more than --max-recv-bytes is refused at once, without the body."""
    _, addr = server
    with H2Grpc(addr) as c:
        st = c.call(fgtest.grpc_frame(b"\x0a\x07sanders", length=5_000_000), end_stream=False)
        assert st.grpc_status == 8, (st.headers, st.trailers, st.reset)


def test_message_over_limit_grpcio(server, pb):
    _, addr = server
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            stub.Render(pb.frames_pb2.RenderRequest(model="sanders", input=b"\x01" * 8000), timeout=5)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_compressed_flag_unimplemented(server, pb):
    _, addr = server
    with H2Grpc(addr) as c:
        st = c.call(fgtest.grpc_frame(render_bytes(pb), compressed=True))
        assert st.grpc_status == 12, (st.headers, st.trailers)


def test_gzip_from_grpcio_unimplemented(server, pb):
    _, addr = server
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            stub.Render(
                pb.frames_pb2.RenderRequest(model="sanders", input=b"\x00" * 1000),
                timeout=5,
                compression=grpc.Compression.Gzip,
            )
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize(
    "body",
    [b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x50abc", b"\x12\x00\x07", b"\xff"],
    ids=["huge-len", "truncated", "bad-wiretype", "bad-tag"],
)
def test_unparsable_message_invalid_argument(server, pb, body):
    _, addr = server
    with grpc.insecure_channel(addr) as ch:
        call = ch.unary_unary(
            "/framegate.v1.FrameService/Render", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.RpcError) as e:
            call(body, timeout=5)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_truncated_grpc_frame_invalid(server, pb):
    """END_STREAM in the middle of a length-prefixed message."""
    _, addr = server
    with H2Grpc(addr) as c:
        st = c.call(fgtest.grpc_frame(b"\x0a\x07sanders", length=100))
        assert st.grpc_status is not None and st.grpc_status != 0, (st.headers, st.trailers)


def test_unknown_method_unimplemented(server, pb):
    _, addr = server
    with H2Grpc(addr) as c:
        st = c.call(fgtest.grpc_frame(b""), path="/framegate.v1.FrameService/Nope")
        assert st.grpc_status == 12


def test_server_side_deadline(procs, pb):
    """A frame still queued past its grpc-timeout is dropped and answered DEADLINE_EXCEEDED
    by the server itself (raw HTTP/2, so no client-side timer is involved)."""
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "200")
    with H2Grpc(addr) as c:
        ahead = [c.start_call(fgtest.grpc_frame(render_bytes(pb, frame=i))) for i in range(3)]
        t0 = time.monotonic()
        late = c.start_call(
            fgtest.grpc_frame(render_bytes(pb, frame=99)), extra_headers=[("grpc-timeout", "100m")]
        )
        (st,) = c.wait([late], timeout=5)
        assert st.grpc_status == 4, (st.headers, st.trailers)
        # before it could have been rendered (3 frames ahead + its own: 800 ms)
        assert st.ended_at - t0 < 0.75
        assert [s.grpc_status for s in c.wait(ahead, timeout=5)] == [0, 0, 0]
    assert_still_serving(p, addr, pb)


def test_reset_streams_leave_the_queue(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "100")
    with H2Grpc(addr) as c:
        sids = [c.start_call(fgtest.grpc_frame(render_bytes(pb, frame=i))) for i in range(10)]
        time.sleep(0.05)
        for sid in sids:
            c.reset_stream(sid)
        time.sleep(0.05)
        t0 = time.monotonic()
        st = c.call(fgtest.grpc_frame(render_bytes(pb, frame=50)))
        took = time.monotonic() - t0
    assert st.grpc_status == 0
    # 10 x 100 ms were queued; at most the frame already on the GPU may finish first
    assert took < 0.5, took
    assert_still_serving(p, addr, pb)


def test_client_vanishes_mid_call(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "100")
    c = H2Grpc(addr)
    for i in range(10):
        c.start_call(fgtest.grpc_frame(render_bytes(pb, frame=i)))
    # half a request, then an abortive close (RST) in the middle of everything
    c.start_call(fgtest.grpc_frame(render_bytes(pb), length=500), end_stream=False)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.05)
    c.close()
    time.sleep(0.05)
    t0 = time.monotonic()
    assert_still_serving(p, addr, pb)
    assert time.monotonic() - t0 < 0.6, "frames of a closed connection should leave the queue"


def test_1000_concurrent_streams(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--queue-max", "1000")

    async def run():
        fp = pb.frames_pb2
        async with grpc.aio.insecure_channel(addr) as ch:
            stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
            calls = [stub.Render(fp.RenderRequest(model="sanders", frame=i), timeout=30) for i in range(1000)]
            return await asyncio.gather(*calls, return_exceptions=True)

    replies = asyncio.run(run())
    errors = [r for r in replies if isinstance(r, Exception)]
    assert not errors, f"{len(errors)} failed, first: {errors[0]!r}"
    assert [r.frame for r in replies] == list(range(1000))
    assert all(len(r.image) == 24576 for r in replies)
    assert_still_serving(p, addr, pb)


def test_1000_raw_streams_at_once(procs, pb):
    """1000 streams opened in one burst on one connection, without waiting for any answer."""
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--queue-max", "1000")
    with H2Grpc(addr) as c:
        c.pump(0.2)  # the server's SETTINGS
        limit = c.conn.remote_settings.max_concurrent_streams
        assert limit >= 1000, f"server allows only {limit} concurrent streams"
        body = fgtest.grpc_frame(render_bytes(pb, frame=5))
        sids = [c.start_call(body) for _ in range(1000)]
        done = c.wait(sids, timeout=30)
    assert [s.grpc_status for s in done] == [0] * 1000
    assert all(len(s.data) > 24576 for s in done)
    assert_still_serving(p, addr, pb)


def test_sigterm_finishes_queued_frames(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "100")
    idle = H2Grpc(addr)
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        futs = [stub.Render.future(pb.frames_pb2.RenderRequest(model="sanders", frame=i), timeout=10) for i in range(8)]
        time.sleep(0.15)
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        assert [f.result().frame for f in futs] == list(range(8))
        assert p.wait(6) == 0
        took = time.monotonic() - t0
    # 8 x 100 ms were queued; it must not exit before they are done, nor hang
    assert 0.5 < took < 5.5, took
    raw, closed = read_until_closed(idle.sock, 2)
    idle.close()
    assert closed
    assert 0 in goaway_codes(raw), "idle clients get a GOAWAY (NO_ERROR)"
    host, port = addr.rsplit(":", 1)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()
