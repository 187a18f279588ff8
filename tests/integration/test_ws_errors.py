"""Every row of the contract's "Errors on the WebSocket" table, with the exact status or close code."""

import struct
import time

import grpc
import pytest

import fgtest
from fgproxy import (
    DEADLINE_EXCEEDED,
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    REQ_HDR,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    Client,
    RawWS,
    assert_error,
    assert_frame,
    backend_entry,
    dead_address,
    encode_request,
    get_health,
    one_backend_proxy,
    start_framegate,
    wait_proxy_health,
)

MAX_MESSAGE = 65536


@pytest.fixture(scope="module")
def gate(request):
    """One frameserver behind one proxy (--max-message 64 KiB), shared by the stateless rows."""
    with one_backend_proxy(request, "--max-message", str(MAX_MESSAGE)) as gate_and_backend:
        yield gate_and_backend


# ----------------------------------------------------------------------------- INVALID_ARGUMENT

full = encode_request(0x01020304, 0x0A0B0C0D)


@pytest.mark.parametrize(
    "msg, rid, frame",
    [
        (b"", 0, 0),  # empty message
        (b"\x01\x07\x00", 0, 0),  # 3 bytes: nothing to echo
        (full[:8], 0x01020304, 0),  # request_id present, frame not
        (full[:11], 0x01020304, 0),
        (encode_request(11, 12, type_=7), 11, 12),  # unknown type
        (encode_request(13, 14, type_=2), 13, 14),  # a reply type sent as a request
        (encode_request(15, 16, model=b"", data=b"sanders"), 15, 16),  # model_len 0
        (encode_request(17, 18, model_len=10, model=b"san"), 17, 18),  # model name past the end
        (encode_request(19, 20, model_len=255, model=b"sanders"), 19, 20),
        (encode_request(21, 22, flags=2), 21, 22),  # bit 0 (LATEST) is the only flag defined
        (encode_request(23, 24, flags=0x8000), 23, 24),
    ],
    ids=["empty", "3-bytes", "8-bytes", "11-bytes", "type-7", "type-2", "model_len-0",
         "model_len-past-end", "model_len-255", "flags-2", "flags-0x8000"],
)
def test_invalid_request_gets_invalid_argument_and_connection_stays(gate, msg, rid, frame):
    port, addr = gate
    with Client(port) as c:
        c.send_raw(msg)
        r = c.recv()
        assert_error(r, INVALID_ARGUMENT, request_id=rid, frame=frame)
        assert r.backend_len == 0 and r.attempts == 0 and r.grpc_us == 0, r
        # The connection stays open and usable.
        assert_frame(c.call(99, 42), request_id=99, frame=42)


def test_model_exactly_to_the_end_is_valid(gate):
    port, _ = gate
    with Client(port) as c:
        assert_frame(c.call(5, 6, model="sanders", data=b""), request_id=5, frame=6)
        assert_frame(c.call(7, 8, model="sanders", data=fgtest.pcm_tone(800)), request_id=7, frame=8)


# ----------------------------------------------------------------------------- request faults


def test_not_found_passed_through_with_grpc_message(gate, pb):
    port, addr = gate
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            stub.Render(pb.frames_pb2.RenderRequest(model="nobody", frame=3), timeout=5)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    want = e.value.details()
    with Client(port) as c:
        r = c.call(31, 3, model="nobody")
    assert_error(r, NOT_FOUND, request_id=31, frame=3, message=want)
    assert r.attempts == 1, "a request fault must not be retried"
    assert r.backend == addr


# ----------------------------------------------------------------------------- no backend, limits


def test_no_healthy_backend_is_unavailable(procs):
    _, port = start_framegate(procs, [dead_address(), dead_address()], "--health-interval-ms", "200")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 0, what="no healthy backend")
    with Client(port) as c:
        for i in range(3):
            r = c.call(40 + i, 50 + i)
            assert_error(r, UNAVAILABLE, request_id=40 + i, frame=50 + i, message="no backends available")
            assert r.backend_len == 0 and r.attempts == 0 and r.grpc_us == 0, r


def test_over_max_inflight_is_resource_exhausted(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "400")
    _, port = start_framegate(procs, [addr], "--max-inflight", "2", "--timeout-ms", "5000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
    with Client(port) as c:
        for i in range(1, 6):
            c.send(i, 100 + i)
        replies = [c.recv() for _ in range(5)]
        by_id = {r.request_id: r for r in replies}
        assert sorted(by_id) == [1, 2, 3, 4, 5]
        for i in (3, 4, 5):
            assert_error(by_id[i], RESOURCE_EXHAUSTED, request_id=i, frame=100 + i)
            assert by_id[i].attempts == 0
        for i in (1, 2):
            assert_frame(by_id[i], request_id=i, frame=100 + i)
        # The rejections did not wait for the frames in flight.
        assert [r.request_id for r in replies[:3]] == [3, 4, 5], [r.request_id for r in replies]
        # Once the frames are done the connection takes requests again.
        assert_frame(c.call(6, 106))


def test_every_attempt_timed_out_is_deadline_exceeded(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "1500")[1] for _ in range(2)]
    _, port = start_framegate(procs, addrs, "--timeout-ms", "200", "--retries", "1", "--health-interval-ms", "5000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy backends")
    with Client(port) as c:
        t0 = time.monotonic()
        r = c.call(61, 62)
        took = time.monotonic() - t0
    assert_error(r, DEADLINE_EXCEEDED, request_id=61, frame=62)
    # --timeout-ms is per attempt and --retries 1 gives a second attempt on the other backend:
    # 2 attempts of 200 ms each, answered right after the second one ends (the grpc_us of
    # the last attempt is its 200 ms; 150 ms of slack for a loaded machine, not a second).
    print(f"DEADLINE: answered after {took * 1000:.0f} ms, attempts {r.attempts}, grpc_us {r.grpc_us}")
    assert r.attempts == 2, r
    assert 0.195 <= r.grpc_us / 1e6 < 0.3, r
    assert 0.39 <= took < 0.55, f"answered after {took:.2f}s with --timeout-ms 200 --retries 1"


def test_every_attempt_failed_gives_last_status(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "0", "--fail-rate", "1")[1] for _ in range(2)]
    _, port = start_framegate(procs, addrs, "--retries", "1", "--health-interval-ms", "5000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy backends")
    with Client(port) as c:
        r = c.call(71, 72)
    assert_error(r, INTERNAL, request_id=71, frame=72)
    assert r.attempts == 2, f"--retries 1 with 2 healthy backends must make 2 attempts: {r}"
    _, h = get_health(port)
    assert [backend_entry(h, a)["error_count"] for a in addrs] == [1, 1], h


# ----------------------------------------------------------------------------- close codes


def test_message_at_the_limit_is_served(gate):
    port, _ = gate
    msg = encode_request(81, 82, data=b"\0" * (MAX_MESSAGE - REQ_HDR.size - len("sanders")))
    assert len(msg) == MAX_MESSAGE
    with Client(port) as c:
        c.send_raw(msg)
        assert_frame(c.recv(), request_id=81, frame=82)


def test_message_over_the_limit_closes_1009(gate):
    port, _ = gate
    msg = encode_request(83, 84, data=b"\0" * (MAX_MESSAGE - REQ_HDR.size - len("sanders") + 1))
    with RawWS(port) as w:
        w.send_frame(2, msg)
        assert w.close_code() == 1009
        assert w.eof_within(5), "proxy did not close the TCP connection after its close frame"


def test_fragmented_message_over_the_limit_closes_1009(gate):
    port, _ = gate
    half = MAX_MESSAGE // 2 + 16
    msg = encode_request(85, 86, data=b"\0" * (2 * half))
    with RawWS(port) as w:
        w.send_frame(2, msg[:half], fin=False)
        w.send_frame(0, msg[half:], fin=True)
        assert w.close_code() == 1009


def test_fragmented_request_is_served(gate):
    port, _ = gate
    msg = encode_request(87, 88, data=b"\1" * 100)
    with RawWS(port) as w:
        w.send_frame(2, msg[:5], fin=False)
        w.send_frame(9, b"ping")  # a control frame may sit between fragments
        w.send_frame(0, msg[5:], fin=True)
        fin, rsv, op, payload = w.read_frame()
        assert op == 0xA and payload == b"ping", f"expected the pong first, got opcode {op}"
        assert_frame(w.recv_reply(), request_id=87, frame=88)


def test_text_message_closes_1003(gate):
    port, _ = gate
    with RawWS(port) as w:
        w.send_frame(1, b"hello")
        assert w.close_code() == 1003


@pytest.mark.parametrize(
    "frame_args",
    [
        dict(opcode=2, payload=encode_request(1, 1), mask=False),  # unmasked client frame
        dict(opcode=3, payload=b""),  # reserved data opcode
        dict(opcode=0xB, payload=b""),  # reserved control opcode
        dict(opcode=2, payload=encode_request(1, 1), rsv=4),  # RSV1 without an extension
        dict(opcode=2, payload=encode_request(1, 1), rsv=1),  # RSV3
        dict(opcode=9, payload=b"x" * 126),  # control frame longer than 125
        dict(opcode=9, payload=b"ping", fin=False),  # fragmented control frame
        dict(opcode=8, payload=b"\x03"),  # close with a 1-byte body
        dict(opcode=0, payload=b"orphan"),  # continuation with nothing to continue
    ],
    ids=["unmasked", "opcode-3", "opcode-0xB", "rsv1", "rsv3", "ping-126", "fragmented-ping",
         "close-1-byte", "orphan-continuation"],
)
def test_protocol_violation_closes_1002(gate, frame_args):
    port, _ = gate
    with RawWS(port) as w:
        w.send_frame(**frame_args)
        assert w.close_code() == 1002
        assert w.eof_within(5), "proxy did not close the TCP connection after its close frame"


def test_ping_pong_and_clean_close(gate):
    port, _ = gate
    with RawWS(port) as w:
        w.send_frame(9, b"abc")
        fin, rsv, op, payload = w.read_frame()
        assert (op, payload) == (0xA, b"abc")
        w.send_frame(8, struct.pack(">H", 1000))
        assert w.close_code() == 1000
