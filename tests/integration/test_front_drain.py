"""Issue 6 section 5, SIGTERM: the proxy stops accepting, finishes the frames in flight, closes
every client with 1001 and exits 0 within --drain-ms. Under load, zero replies are lost: every
request sent before the signal gets exactly one reply, then the 1001."""

import signal
import socket
import struct
import threading
import time

import websocket

import fgtest
from fgproxy import (
    ERROR,
    FRAME,
    HOST,
    UNAVAILABLE,
    describe,
    encode_request,
    parse_reply,
    start_framegate,
    wait_proxy_health,
)

SHUTTING_DOWN = b"proxy shutting down"


class LoadClient(threading.Thread):
    """One WebSocket client keeping `window` requests outstanding until the proxy closes it.

    Records when each request was sent, every reply, and the close code."""

    def __init__(self, port, index, window):
        super().__init__(daemon=True)
        self.ws = websocket.create_connection(f"ws://{HOST}:{port}/ws", timeout=15)
        self.base = index * 1_000_000
        self.window = window
        self.sent = {}  # request id -> monotonic send time
        self.replies = {}  # request id -> [replies]
        self.close_code = None
        self.error = None

    def run(self):
        next_id = self.base + 1
        pending = 0
        try:
            while True:
                while pending < self.window:
                    self.sent[next_id] = time.monotonic()
                    self.ws.send_binary(encode_request(next_id, next_id & 0xFFFFFFFF))
                    next_id += 1
                    pending += 1
                opcode, data = self.ws.recv_data(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    self.close_code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else None
                    return
                r = parse_reply(data)
                self.replies.setdefault(r.request_id, []).append((time.monotonic(), r))
                pending -= 1
        except (websocket.WebSocketException, OSError) as e:
            # Sending after the proxy's close raced it: fine once the close was seen.
            if self.close_code is None:
                self.error = repr(e)
        finally:
            try:
                self.ws.close(timeout=1)
            except Exception:
                pass


def run_drain(procs, infer_ms, drain_ms, clients, window, load_s):
    backends = [fgtest.serving_frameserver(procs, "--infer-ms", str(infer_ms))[1] for _ in range(4)]
    gate, port = start_framegate(
        procs, backends, "--drain-ms", str(drain_ms), "--timeout-ms", "10000", "--retries", "0",
        "--log-frames", "off",
    )
    wait_proxy_health(port, lambda h: h["healthy_count"] == 4, what="4 healthy backends")
    load = [LoadClient(port, i + 1, window) for i in range(clients)]
    for c in load:
        c.start()
    time.sleep(load_s)
    t_term = time.monotonic()
    gate.signal(signal.SIGTERM)
    # Stop accepting: new connections are refused at once.
    time.sleep(0.05)
    refused = False
    try:
        with socket.create_connection((HOST, port), timeout=2) as s:
            s.settimeout(2)
            refused = s.recv(1) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        refused = True
    code = gate.wait(drain_ms / 1000 + 5)
    took = time.monotonic() - t_term
    for c in load:
        c.join(10)
        assert not c.is_alive(), "a client was never closed"
    return load, t_term, code, took, refused


def check_exactly_one_reply(load, t_term):
    """Every request sent before SIGTERM: exactly one reply, received before the 1001.
    Requests sent after it: at most one (they may race our close). Returns counters."""
    before = frames_after_term = unavailable = 0
    for c in load:
        assert c.error is None, c.error
        assert c.close_code == 1001, f"client closed with {c.close_code}, not 1001"
        for rid, got in c.replies.items():
            assert rid in c.sent, f"reply for a request never sent: {describe(got[0][1])}"
            assert len(got) == 1, f"{len(got)} replies for request {rid}"
        for rid, t_sent in c.sent.items():
            got = c.replies.get(rid, [])
            if t_sent < t_term:
                before += 1
                assert len(got) == 1, f"request {rid} sent before SIGTERM got no reply"
            for t_reply, r in got:
                assert r.type in (FRAME, ERROR), describe(r)
                if r.type == ERROR:
                    assert r.status == UNAVAILABLE and r.payload == SHUTTING_DOWN, describe(r)
                    unavailable += 1
                elif t_reply > t_term:
                    frames_after_term += 1
    return before, frames_after_term, unavailable


def test_sigterm_under_load_loses_no_reply(procs):
    drain_ms = 4000
    load, t_term, code, took, refused = run_drain(procs, infer_ms=20, drain_ms=drain_ms, clients=16, window=3, load_s=1.5)
    assert code == 0, f"framegate exited {code}"
    assert took < drain_ms / 1000, f"exit {took:.2f}s after SIGTERM, --drain-ms {drain_ms}"
    assert refused, "a new connection was accepted while draining"
    before, frames_after, unavailable = check_exactly_one_reply(load, t_term)
    # The frames in flight at the signal were finished by their backends, not dropped.
    assert frames_after > 0, "no frame finished after SIGTERM: were any in flight?"
    # Frames well in flight (sent 0.5 s before the signal) were all rendered.
    for c in load:
        for rid, t_sent in c.sent.items():
            if t_sent < t_term - 0.5:
                r = c.replies[rid][0][1]
                assert r.type == FRAME, f"a frame in flight was not finished: {describe(r)}"
    print(f"DRAIN: {before} requests before SIGTERM, each answered once; {frames_after} frames "
          f"finished after it, {unavailable} answered UNAVAILABLE; exit 0 after {took:.2f}s")


def test_frames_past_the_drain_time_are_answered_unavailable(procs):
    drain_ms = 1000
    load, t_term, code, took, _ = run_drain(procs, infer_ms=3000, drain_ms=drain_ms, clients=2, window=2, load_s=0.3)
    assert code == 0, f"framegate exited {code}"
    assert took < drain_ms / 1000 + 0.5, f"exit {took:.2f}s after SIGTERM, --drain-ms {drain_ms}"
    before, frames_after, unavailable = check_exactly_one_reply(load, t_term)
    assert before >= 4 and unavailable >= 4 and frames_after == 0, (before, frames_after, unavailable)
