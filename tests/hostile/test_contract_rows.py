"""Contract rows (protocol.md sections 1-3) end to end: the real framegate binary in front of
programmable backends (hostile_backend.py) whose answer is chosen per call. Each test checks
what the client gets, what the backends saw and what /health and /metrics count."""

import os
import socket
import time

import pytest

from fgproxy import (
    ERROR,
    FRAME,
    RESOURCE_EXHAUSTED,
    Client,
    assert_error,
    backend_entry,
    describe,
    get_health,
    http_get,
    parse_prometheus,
    start_framegate,
    wait_proxy_health,
)
from hostile_backend import HostileBackend

UNKNOWN, INVALID_ARGUMENT, OUT_OF_RANGE = 2, 3, 11
MAX_REPLY = 4 << 20  # the proxy's limit on one gRPC reply message (fg_grpc_conn)


def hostile(what, data=b""):
    return b"hostile:" + what.encode() + (b"\0" + data if data else b"")


def proxy_for(procs, backends, *flags):
    # Every frame straight to its backend (the original design's rotation): these rows are about
    # what backends answer, not about the scheduler holding frames back (test_overload.py).
    p, port = start_framegate(procs, [b.addr for b in backends], "--health-interval-ms", "200",
                              "--timeout-ms", "3000", "--log-frames", "off",
                              "--balance", "round-robin", *flags)
    wait_proxy_health(port, lambda h: h["healthy_count"] == len(backends), timeout=10,
                      what=f"{len(backends)} healthy backends")
    return p, port


def health_of(port, b):
    return backend_entry(get_health(port)[1], b.addr)


def metric(port, name, **labels):
    fams = parse_prometheus(http_get(port, "/metrics")[2].decode())
    return sum(v for _, lab, v in fams[name]["samples"] if all(lab.get(k) == x for k, x in labels.items()))


def test_status_outside_0_16_reaches_the_client_as_unknown(procs):
    with HostileBackend() as h:
        _, port = proxy_for(procs, [h], "--retries", "0", "--unhealthy-after", "1000")
        with Client(port) as c:
            for i, code in enumerate(("99", "17", "1000")):
                r = c.call(i + 1, i + 1, data=hostile(f"status_{code}"))
                assert_error(r, UNKNOWN, request_id=i + 1)
                assert r.attempts == 1 and r.backend == h.addr, describe(r)


@pytest.mark.parametrize("code", [INVALID_ARGUMENT, OUT_OF_RANGE])
def test_request_fault_is_passed_through_unretried_and_uncounted(procs, code):
    with HostileBackend() as a, HostileBackend() as b:
        _, port = proxy_for(procs, [a, b], "--retries", "3", "--unhealthy-after", "1")
        with Client(port) as c:
            for i in range(1, 5):
                r = c.call(i, i, data=hostile(f"status_{code}"))
                assert_error(r, code, request_id=i, message=f"hostile {code}")
                assert r.attempts == 1, f"a request fault was retried: {describe(r)}"
        assert len(a.renders) + len(b.renders) == 4, "a request fault was sent again"
        _, h = get_health(port)
        for be in (a, b):
            e = backend_entry(h, be.addr)
            assert e["healthy"] and e["error_count"] == 0, e
            assert e["total_requests"] == len(be.renders), e


@pytest.mark.parametrize("code", [2, 12, 13, 15, 14])
def test_backend_fault_marks_the_backend_unhealthy(procs, code):
    # --unhealthy-after 1: one backend fault takes it out; the health checks bring it back only
    # after --health-interval-ms, so /health shows it out right after the reply.
    with HostileBackend() as h:
        _, port = proxy_for(procs, [h], "--retries", "0", "--unhealthy-after", "1",
                            "--health-interval-ms", "5000")
        with Client(port) as c:
            r = c.call(1, 1, data=hostile(f"status_{code}"))
            assert_error(r, code, request_id=1)
            assert r.attempts == 1 and r.backend == h.addr, describe(r)
        e = health_of(port, h)
        assert not e["healthy"] and e["error_count"] == 1 and e["total_requests"] == 1, e


@pytest.mark.parametrize("code", [RESOURCE_EXHAUSTED, 1])  # 1: CANCELLED, the backend gave up
def test_resource_exhausted_is_retried_elsewhere_and_not_a_fault(procs, code):
    with HostileBackend(default=f"status_{code}", obey_input=False) as busy, HostileBackend() as ok:
        _, port = proxy_for(procs, [busy, ok], "--retries", "1", "--unhealthy-after", "1")
        with Client(port) as c:
            replies = c.run(12)
        for r in replies:
            assert r.type == FRAME and r.backend == ok.addr, describe(r)
        rejected = len(busy.renders)
        assert rejected >= 1, "the busy backend was never tried"
        assert sum(r.attempts == 2 for r in replies) == rejected
        assert all(r.attempts in (1, 2) for r in replies)
        time.sleep(0.5)  # past two health intervals: still healthy, no fault counted
        e = health_of(port, busy)
        assert e["healthy"] and e["error_count"] == 0, e
        # total_requests counts every call sent, the retries included.
        assert e["total_requests"] == rejected, e
        assert health_of(port, ok)["total_requests"] == len(ok.renders) == 12


def test_retries_metric_counts_each_retry_once(procs):
    with HostileBackend(default="status_8", obey_input=False) as busy, HostileBackend() as ok:
        _, port = proxy_for(procs, [busy, ok], "--retries", "1", "--unhealthy-after", "1")
        with Client(port) as c:
            replies = c.run(6)
        assert metric(port, "framegate_frame_retries_total") == sum(r.attempts - 1 for r in replies) == len(busy.renders)


def test_retries_beyond_the_backends_never_hit_one_backend_twice(procs):
    with HostileBackend(default="status_13", obey_input=False) as a, \
            HostileBackend(default="status_13", obey_input=False) as b:
        _, port = proxy_for(procs, [a, b], "--retries", "5", "--unhealthy-after", "1000")
        with Client(port) as c:
            r = c.call(1, 1)
        assert_error(r, 13, request_id=1)
        assert r.attempts == 2, f"--retries 5 over 2 backends: one attempt each, {describe(r)}"
        assert (len(a.renders), len(b.renders)) == (1, 1)


def test_input_bytes_are_forwarded_unchanged(procs):
    data = os.urandom(60000) + bytes(range(256))
    with HostileBackend() as h:
        _, port = proxy_for(procs, [h], "--retries", "0")
        with Client(port) as c:
            r = c.call(1, 1, data=hostile("echo", data))
        assert r.type == FRAME, describe(r)
        assert r.payload == hostile("echo", data), "the backend did not get the input as sent"


@pytest.mark.parametrize("extra,ok", [(0, True), (1, False)])
def test_reply_at_and_just_over_the_4_mib_limit(procs, extra, ok):
    with HostileBackend() as h:
        _, port = proxy_for(procs, [h], "--retries", "0", "--unhealthy-after", "1000")
        with Client(port, timeout=20) as c:
            r = c.call(1, 1, data=hostile(f"msg_{MAX_REPLY + extra}"))
            if ok:
                assert r.type == FRAME and len(r.payload) > MAX_REPLY - 64, describe(r)
                assert set(r.payload) == {7}, "image bytes changed on the way"
            else:
                assert_error(r, RESOURCE_EXHAUSTED, request_id=1)
            r = c.call(2, 2)  # the connection to the backend serves on
            assert r.type == FRAME, describe(r)


def test_client_disconnect_cancels_its_calls_in_flight(procs):
    with HostileBackend(default="hang", obey_input=False) as h:
        _, port = proxy_for(procs, [h], "--retries", "0")
        c = Client(port)
        for i in range(1, 6):
            c.send(i, i)
        deadline = time.monotonic() + 5
        while len(h.renders) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(h.renders) == 5, h.renders
        assert health_of(port, h)["total_requests"] == 5
        assert metric(port, "framegate_backend_in_flight") == 5
        c.ws.sock.shutdown(socket.SHUT_RDWR)  # gone, without a close handshake
        c.ws.sock.close()
        deadline = time.monotonic() + 5
        while (len(h.resets) < 5 or metric(port, "framegate_backend_in_flight") != 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(h.resets) == 5 and all(code == 8 for _, code in h.resets), f"streams not cancelled: {h.resets}"
        assert metric(port, "framegate_backend_in_flight") == 0
