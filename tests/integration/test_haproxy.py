"""Issue 13, many framegates: two framegate instances behind Debian's haproxy running the shipped
deploy/haproxy.cfg (only its addresses replaced by loopback ports). Load through haproxy; one
framegate gets SIGTERM (--drain-ms): every request is answered exactly once (a FRAME, or
UNAVAILABLE "proxy shutting down" for one sent during the drain), its clients are closed with
1001 only after the replies to every request sent before the signal (one sent after it may race
the close: the client sends it again on its new connection), and when they reconnect through
haproxy they land on the other framegate, with no failed handshake. Then it comes back on its
port and takes new connections.

Each framegate has its own frameserver, so a reply's backend address tells which framegate
served it."""

import re
import socket
import struct
import threading
import time

import fgtest
import websocket
from fgproxy import HOST, describe, encode_request, parse_reply, start_framegate

HAPROXY = "/usr/sbin/haproxy"
CLIENTS, WINDOW = 6, 4
DRAIN_MS = 2000


def haproxy_config(front_port, ports):
    """The shipped file, its listen address and its two server addresses replaced."""
    text = (fgtest.source_dir() / "deploy" / "haproxy.cfg").read_text()
    text, n = re.subn(r"(?m)^(\s*bind )\S+", rf"\g<1>{HOST}:{front_port}", text)
    assert n == 1, "deploy/haproxy.cfg: expected one bind line"
    servers = re.findall(r"(?m)^\s*server \S+ (\S+)", text)
    assert len(servers) == 2, f"deploy/haproxy.cfg: expected two server lines, found {servers}"
    for old, port in zip(servers, ports):
        text = text.replace(f" {old} ", f" {HOST}:{port} ", 1)
    assert "check" in text and "/health" in text
    return text


class ReconnectingClient(threading.Thread):
    """Keeps WINDOW requests in flight through haproxy; when its WebSocket is closed it checks
    every request sent before `t_term` had its reply, connects again and resends the others.
    Records, per connection, the backends that answered, and every reply by request id (a
    second reply for an id is a problem)."""

    def __init__(self, port, first_id):
        super().__init__(daemon=True)
        self.port = port
        self.next_id = first_id
        self.replies = {}
        self.conns = []  # [set of backend addresses] per connection, in order
        self.closes = []  # close codes received
        self.failed_connects = 0
        self.problems = []
        self.halt = threading.Event()
        self.t_term = None  # set by the test when it sends SIGTERM
        self.resend = []
        self.resent = 0

    def _connect(self):
        for _ in range(50):
            try:
                return websocket.create_connection(f"ws://{HOST}:{self.port}/ws", timeout=10)
            except (OSError, websocket.WebSocketException):
                self.failed_connects += 1
                time.sleep(0.05)
        raise AssertionError("cannot connect through haproxy")

    def _one_connection(self):
        ws = self._connect()
        seen = set()
        self.conns.append(seen)
        pending = {}  # request id -> send time
        try:
            while True:
                while self.resend:
                    rid = self.resend.pop()
                    ws.send_binary(encode_request(rid, rid))
                    pending[rid] = time.monotonic()
                    self.resent += 1
                while not self.halt.is_set() and len(pending) < WINDOW:
                    ws.send_binary(encode_request(self.next_id, self.next_id))
                    pending[self.next_id] = time.monotonic()
                    self.next_id += 1
                if self.halt.is_set() and not pending:
                    # Exactly once: nothing more may come after the last reply.
                    ws.settimeout(0.3)
                    try:
                        opcode, data = ws.recv_data(control_frame=False)
                        if opcode == websocket.ABNF.OPCODE_BINARY:
                            self.problems.append(f"extra reply {describe(parse_reply(data))}")
                    except (socket.timeout, websocket.WebSocketTimeoutException):
                        pass
                    return False
                opcode, data = ws.recv_data(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else None
                    self.closes.append(code)
                    early = [rid for rid, t in pending.items() if self.t_term is None or t < self.t_term]
                    if early:
                        self.problems.append(f"closed ({code}) before replying to {early}")
                    self.resend = list(pending)
                    return True
                r = parse_reply(data)
                if r.request_id not in pending:
                    self.problems.append(f"unexpected or duplicate reply {describe(r)}")
                    continue
                del pending[r.request_id]
                self.replies[r.request_id] = r
                if r.backend:
                    seen.add(r.backend)
        finally:
            ws.close(timeout=1)

    def run(self):
        try:
            while self._one_connection():
                pass
        except Exception as e:
            self.problems.append(f"{type(e).__name__}: {e}")

    def finish(self):
        self.halt.set()
        self.join(20)
        assert not self.is_alive(), "client stuck"
        assert not self.problems, self.problems[:5]


def wait_tcp_closed(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) != 0:
                return
        assert time.monotonic() < deadline, f"port {port} still accepts"
        time.sleep(0.02)


def test_rolling_restart_behind_haproxy(procs, tmp_path):
    _, x = fgtest.serving_frameserver(procs, "--infer-ms", "3")
    _, y = fgtest.serving_frameserver(procs, "--infer-ms", "3")
    flags = ("--log-frames", "off", "--health-interval-ms", "100", "--drain-ms", DRAIN_MS)
    fg_a, pa = start_framegate(procs, [x], *flags, name="framegate-a")
    fg_b, pb = start_framegate(procs, [y], *flags, name="framegate-b")
    hport = fgtest.free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(hport, [pa, pb]))
    hap = procs.start([HAPROXY, "-db", "-f", cfg], name="haproxy")
    fgtest.wait_tcp(HOST, hport, 10)
    # Servers start UP in haproxy; a first frame through it shows the path works.
    ws = websocket.create_connection(f"ws://{HOST}:{hport}/ws", timeout=5)
    ws.send_binary(encode_request(1, 1))
    assert parse_reply(ws.recv()).type == 2
    ws.close()

    clients = [ReconnectingClient(hport, 1 + i * 1_000_000) for i in range(CLIENTS)]
    for c in clients:
        c.start()
        time.sleep(0.05)
    time.sleep(1.0)
    on_a = [c for c in clients if c.conns and x in c.conns[0]]
    on_b = [c for c in clients if c.conns and y in c.conns[0]]
    assert len(on_a) + len(on_b) == CLIENTS and on_a and on_b, [c.conns for c in clients]

    # Rolling restart of A: SIGTERM, it drains and exits 0 within --drain-ms.
    t0 = time.monotonic()
    for c in clients:
        c.t_term = t0
    fg_a.signal(15)
    assert fg_a.wait(DRAIN_MS / 1000 + 3) == 0, fg_a.log()[-2000:]
    drained_in = time.monotonic() - t0
    time.sleep(1.0)
    for c in on_a:
        assert len(c.conns) >= 2, f"a client of A did not reconnect: {c.conns}"
        assert c.closes and c.closes[0] == 1001, c.closes
        assert c.conns[-1] == {y}, f"reconnected client served by {c.conns[-1]}"
    for c in on_b:
        assert c.conns == [{y}], f"a client of B was disturbed: {c.conns}"

    # A comes back on its port; haproxy's check brings it in; a new connection lands on it
    # (leastconn: A has none).
    fg_a2, _ = start_framegate(procs, [x], *flags, "--ws-port", pa, name="framegate-a2")
    t_back = time.monotonic()
    landed = None
    while landed is None:
        assert time.monotonic() - t_back < 6, "restarted framegate never got a new connection"
        ws = websocket.create_connection(f"ws://{HOST}:{hport}/ws", timeout=5)
        try:
            ws.send_binary(encode_request(1, 1))
            r = parse_reply(ws.recv())
            assert r.type == 2, describe(r)
            if r.backend == x:
                landed = time.monotonic() - t_back
        finally:
            ws.close()
        time.sleep(0.1)

    for c in clients:
        c.finish()
    total = sum(c.next_id - (1 + i * 1_000_000) for i, c in enumerate(clients))
    answered = sum(len(c.replies) for c in clients)
    assert answered == total, f"{total - answered} requests without a reply"
    errors = [r for c in clients for r in c.replies.values() if r.type != 2]
    resent = sum(c.resent for c in clients)
    for r in errors:
        assert r.status == 14 and r.payload == b"proxy shutting down", describe(r)
    failed = sum(c.failed_connects for c in clients)
    assert failed == 0, f"{failed} WebSocket handshakes through haproxy failed"
    for p, name in ((fg_a2, "framegate-a2"), (fg_b, "framegate-b")):
        assert p.stop() == 0, f"{name} did not exit 0"
    hap.signal(10)  # SIGUSR1: haproxy's graceful stop, exit 0 once its connections ended
    assert hap.wait(5) == 0, hap.log()[-2000:]
    print(
        f"HAPROXY: {answered} requests over {CLIENTS} clients, all answered once "
        f"({len(errors)} UNAVAILABLE 'proxy shutting down' during the drain, {resent} sent after "
        f"SIGTERM and raced by the close resent on the new connection); A drained and "
        f"exited in {drained_in * 1000:.0f} ms; {len(on_a)} clients moved to B with 0 failed "
        f"handshakes; restarted A took a new connection {landed * 1000:.0f} ms after it listened"
    )
