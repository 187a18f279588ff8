"""HTTP on the proxy port (contract §3), the subprotocol, and the per-frame log line."""

import json
import re
import time

import pytest

import fgtest
from fgproxy import module_group
from fgproxy import (
    FRAME_BYTES,
    Client,
    RawWS,
    assert_error,
    assert_frame,
    dead_address,
    get_health,
    http_get,
    parse_prometheus,
    raw_http,
    read_http_head,
    start_framegate,
    wait_proxy_health,
)
import socket

HEALTH_KEYS = {"healthy", "total_backends", "healthy_count", "backends"}
BACKEND_KEYS = {"address", "healthy", "total_requests", "error_count"}


@pytest.fixture(scope="module")
def gate(request):
    """Two serving frameservers and one dead address behind one proxy."""
    with module_group(request) as group:
        addrs = [fgtest.serving_frameserver(group, "--infer-ms", "0")[1] for _ in range(2)]
        addrs.insert(1, dead_address())
        _, port = start_framegate(group, addrs, "--balance", "round-robin", "--health-interval-ms", "200",
                                  "--log-frames", "off")
        wait_proxy_health(
            port, lambda h: h["healthy_count"] == 2 and not h["backends"][1]["healthy"], what="2 of 3 healthy"
        )
        yield port, addrs


def check_health_shape(h):
    assert set(h) == HEALTH_KEYS, f"/health top-level fields {sorted(h)} != {sorted(HEALTH_KEYS)}"
    assert isinstance(h["healthy"], bool)
    assert type(h["total_backends"]) is int and type(h["healthy_count"]) is int
    assert isinstance(h["backends"], list) and len(h["backends"]) == h["total_backends"]
    for b in h["backends"]:
        assert BACKEND_KEYS <= set(b), f"backend entry lacks {BACKEND_KEYS - set(b)}: {b}"
        assert isinstance(b["address"], str) and isinstance(b["healthy"], bool)
        assert type(b["total_requests"]) is int and type(b["error_count"]) is int
    assert h["healthy_count"] == sum(b["healthy"] for b in h["backends"])
    assert h["healthy"] == (h["healthy_count"] > 0)


def test_health_shape_and_counts(gate):
    port, addrs = gate
    status, headers, body = http_get(port, "/health")
    assert status == 200
    assert headers.get("content-type", "").startswith("application/json"), headers
    before = json.loads(body)
    check_health_shape(before)
    assert before["total_backends"] == 3 and before["healthy_count"] == 2 and before["healthy"] is True
    assert [b["address"] for b in before["backends"]] == addrs
    assert [b["healthy"] for b in before["backends"]] == [True, False, True]

    with Client(port) as c:
        for r in c.run(10, first_id=1000):
            assert_frame(r)
        assert_error(c.call(2000, 1, model="nobody"), 5)
    _, after = get_health(port)
    check_health_shape(after)
    delta = {
        a["address"]: (a["total_requests"] - b["total_requests"], a["error_count"] - b["error_count"])
        for a, b in zip(after["backends"], before["backends"])
    }
    calls = [delta[addrs[0]][0], delta[addrs[2]][0]]
    assert sorted(calls) == [5, 6], f"10 frames + 1 unknown model over 2 backends: {delta}"
    assert delta[addrs[0]][1] == 0 and delta[addrs[2]][1] == 0, f"request faults counted as errors: {delta}"
    assert delta[addrs[1]][0] == 0, f"frames sent to the dead backend: {delta}"


def test_health_503_when_no_backend_is_healthy(procs):
    dead = dead_address()
    _, port = start_framegate(procs, [dead], "--health-interval-ms", "200")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 0, what="no healthy backend")
    status, headers, body = http_get(port, "/health")
    assert status == 503
    h = json.loads(body)
    check_health_shape(h)
    assert h["healthy"] is False and h["total_backends"] == 1 and h["healthy_count"] == 0
    assert h["backends"][0]["address"] == dead and h["backends"][0]["healthy"] is False


def test_metrics_is_strict_prometheus_text(gate):
    port, addrs = gate
    status, headers, body = http_get(port, "/metrics")
    assert status == 200
    ctype = headers.get("content-type", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    fams = parse_prometheus(body.decode())
    req = fams.get("framegate_frame_requests_total")
    assert req and req["type"] == "counter", f"framegate_frame_requests_total missing: {sorted(fams)}"
    n0 = req["samples"][0][2]

    with Client(port) as c:
        for r in c.run(8, first_id=3000):
            assert_frame(r)
    fams = parse_prometheus(http_get(port, "/metrics")[2].decode())
    assert fams["framegate_frame_requests_total"]["samples"][0][2] == n0 + 8
    assert all(name.startswith("framegate_") for name in fams), sorted(fams)
    labelled = {l["backend"] for f in fams.values() for _, l, _ in f["samples"] if "backend" in l}
    assert set(addrs) <= labelled, f"backend labels {labelled} lack some of {addrs}"
    hists = [n for n, f in fams.items() if f["type"] == "histogram"]
    assert any(
        "backend" in l for n in hists for _, l, _ in fams[n]["samples"]
    ), f"no histogram with a backend label: {hists}"


def test_prometheus_checker_rejects_bad_text():
    bad = [
        "x 1",  # no final newline
        "# TYPE x counter\n# TYPE x counter\nx 1\n",
        "x{a=\"1\"} one\n",
        "x{a=1} 1\n",
        "x 1\ny 1\nx 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "x 1\nx 2\n",
    ]
    for text in bad:
        with pytest.raises(AssertionError):
            parse_prometheus(text)
    parse_prometheus('# HELP x a "thing"\n# TYPE x counter\nx{a="q\\"\\n"} 1e3\n')


def test_index_is_html(gate):
    port, _ = gate
    status, headers, body = http_get(port, "/")
    assert status == 200
    assert headers.get("content-type", "").startswith("text/html"), headers
    assert re.search(rb"<html|<!doctype html", body, re.I), body[:200]


@pytest.mark.parametrize("path", ["/nope", "/health/x", "/index.htm", "/metricsx"])
def test_unknown_path_is_404(gate, path):
    port, _ = gate
    status, _, _ = http_get(port, path)
    assert status == 404


def read_response(sock, buf=b""):
    status, headers, rest = read_http_head(sock, buf)
    n = int(headers.get("content-length", "-1"))
    assert n >= 0, f"no Content-Length on a keep-alive response: {headers}"
    while len(rest) < n:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def test_keep_alive_serves_several_requests_on_one_connection(gate):
    port, _ = gate
    with socket.create_connection((fgtest.HOST, port), timeout=5) as s:
        buf = b""
        for path, want in (("/health", 200), ("/nope", 404), ("/metrics", 200), ("/", 200)):
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, headers, body, buf = read_response(s, buf)
            assert status == want, (path, status)
            assert headers.get("connection", "").lower() != "close", headers


@pytest.mark.parametrize(
    "request_bytes",
    [b"NOT A REQUEST\r\n\r\n", b"GET / HTTP/1.1\r\nHost x\r\n\r\n", b"GET / HTTP/9.Z\r\n\r\n"],
    ids=["garbage", "header-without-colon", "bad-version"],
)
def test_malformed_request_is_400_and_closed(gate, request_bytes):
    port, _ = gate
    out, closed = raw_http(port, request_bytes)
    assert out.startswith(b"HTTP/1.1 400"), out[:100]
    assert closed, "the proxy kept the connection open after a malformed request"


@pytest.mark.parametrize("offer", ["framegate.v1", "chat, framegate.v1"])
def test_subprotocol_selected_when_offered(gate, offer):
    port, _ = gate
    with RawWS(port, protocols=offer) as w:
        assert w.headers.get("sec-websocket-protocol") == "framegate.v1", w.headers
    with Client(port, subprotocols=["framegate.v1"]) as c:  # websocket-client checks it too
        assert c.ws.getsubprotocol() == "framegate.v1"
        assert_frame(c.call(1, 1))


def test_no_subprotocol_when_not_offered(gate):
    port, _ = gate
    with RawWS(port) as w:
        assert "sec-websocket-protocol" not in w.headers, w.headers


LOG_RE = r"^✅ sanders frame (\d+) \[(\S+)\]: gRPC=(\d+)ms total=(\d+)ms size=(\d+) bytes$"


def test_per_frame_log_line(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "20")
    proxy, port = start_framegate(procs, [addr])
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
    with Client(port) as c:
        assert_frame(c.call(7, 42))
        assert_frame(c.call(8, 43))
        assert_error(c.call(9, 44, model="nobody"), 5)
    proxy.wait_log(r"frame 44", timeout=3)  # per-frame lines must not sit in a buffer
    log = proxy.log()
    lines = re.findall(LOG_RE, log, re.M)
    assert len(lines) == 2, f"expected 2 frame lines, log:\n{log[-2000:]}"
    frame, backend, grpc_ms, total_ms, size = lines[0]
    assert (frame, backend, size) == ("42", addr, str(FRAME_BYTES)), lines[0]
    assert 15 <= int(grpc_ms) <= int(total_ms) < 1000, lines[0]
    err = [l for l in log.splitlines() if "frame 44" in l]
    assert err and not err[0].startswith("✅"), err
    assert "NOT_FOUND" in err[0] or " 5" in err[0], f"error line lacks the status: {err}"


def test_log_frames_off(procs):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    proxy, port = start_framegate(procs, [addr], "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
    with Client(port) as c:
        for r in c.run(5):
            assert_frame(r)
    time.sleep(0.3)
    assert "✅" not in proxy.log(), proxy.log()[-2000:]
