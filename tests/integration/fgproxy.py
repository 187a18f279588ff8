"""Helpers for the black-box tests of the framegate proxy (tests/integration).

- start_framegate(): the proxy on a free port in front of given backends.
- The WebSocket wire format of the contract (docs/protocol.md section 2): encode_request(),
  parse_reply(), and Client (websocket-client) with a pipelined run() for many frames.
- RawWS: a hand-made RFC 6455 client that can send what websocket-client refuses to
  (unmasked frames, reserved bits, bad opcodes, broken control frames) and read the close code.
- http_get()/raw_http(): plain HTTP/1.1 to the proxy port; get_health()/wait_proxy_health().
- parse_prometheus(): a strict checker of the Prometheus text format 0.0.4.
"""

import base64
import contextlib
import hashlib
import http.client
import json
import math
import os
import re
import shlex
import socket
import struct
import time
from collections import namedtuple

import websocket

import fgtest

HOST = fgtest.HOST
FRAMEGATE = "src/proxy/framegate"
PROXY_LISTEN_RE = re.compile(r"listening on (\S+?):(\d+)\b")

REQ_HDR = struct.Struct("<BBHII")
REPLY_HDR = struct.Struct("<BBHIIIIHHBBH")
assert REQ_HDR.size == 12 and REPLY_HDR.size == 28

RENDER, FRAME, ERROR, HINT = 1, 2, 3, 4
LATEST = 0x0001  # request flag (v1.1)
HINT_MSG = struct.Struct("<BBHIII")
Hint = namedtuple("Hint", "type reserved healthy fps_milli queue_wait_us reserved2")
OK, CANCELLED, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 3, 4, 5
RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE = 8, 13, 14
RGB24 = 1
FRAME_BYTES = 128 * 64 * 3  # frameserver's default image: 24576 bytes
# Exactly-once: after the last expected reply, read on this long for a duplicate.
LINGER_S = 0.2
FRAMESERVER_SUMMARY_RE = re.compile(r"frameserver stopped: (\d+) frames served, (\d+) calls ok, (\d+) errors")


# ----------------------------------------------------------------------------- processes


def framegate_wrapper():
    """The command framegate runs under (env FRAMEGATE_WRAPPER, split as a shell would), e.g.
    "valgrind --error-exitcode=99" for scripts/valgrind-integration.sh; [] when unset."""
    return shlex.split(os.environ.get("FRAMEGATE_WRAPPER", ""))


def start_framegate(group, backends, *flags, name="framegate", timeout=15.0):
    """Start framegate on 127.0.0.1 and a free port for the given backend addresses, under
    framegate_wrapper() if set (then with 4 times the start timeout: valgrind is slow).

    Returns (proc, port). `flags` are extra command-line flags."""
    wrapper = framegate_wrapper()
    if wrapper:
        timeout *= 4
    args = wrapper + [fgtest.binary(FRAMEGATE), "--host", HOST, "--ws-port", "0"]
    if backends:
        args += ["--grpc-addrs", ",".join(backends)]
    args += [str(f) for f in flags]
    p = group.start(args, name=name)
    m = p.wait_log(PROXY_LISTEN_RE, timeout)
    port = int(m.group(2))
    fgtest.wait_tcp(HOST, port, timeout)
    return p, port


def frameserver_on(group, port, *flags, name="frameserver"):
    """A frameserver on a given port (for restarts on the same port); waits for SERVING."""
    if "--load-ms" not in flags:
        flags = ("--load-ms", "0") + flags
    args = [fgtest.binary(fgtest.FRAMESERVER), "--host", HOST, "--port", str(port)]
    p = group.start(args + [str(f) for f in flags], name=name)
    p.wait_log(fgtest.LISTEN_RE, 10.0)
    addr = f"{HOST}:{port}"
    return p, addr


def frames_served(proc):
    """Stop a frameserver (SIGTERM, exit 0 checked) and return the frames it rendered, from its
    exit summary: the backend-side count that exposes a frame executed twice."""
    rc = proc.stop()
    assert rc == 0, f"frameserver exited {rc}:\n{proc.log()[-2000:]}"
    m = FRAMESERVER_SUMMARY_RE.search(proc.log())
    assert m, f"no exit summary in the frameserver log:\n{proc.log()[-2000:]}"
    return int(m.group(1))


def dead_address():
    """A 127.0.0.1 address nobody listens on (a port that was free a moment ago)."""
    return f"{HOST}:{fgtest.free_port()}"


# ----------------------------------------------------------------------------- wire format

Reply = namedtuple(
    "Reply",
    "type backend_len status request_id frame grpc_us total_us width height format attempts "
    "reserved backend payload",
)


def encode_request(request_id, frame, model="sanders", data=b"", flags=0, type_=RENDER, model_len=None):
    m = model.encode() if isinstance(model, str) else model
    ml = len(m) if model_len is None else model_len
    return REQ_HDR.pack(type_, ml, flags, request_id, frame) + m + data


def parse_reply(msg):
    assert isinstance(msg, (bytes, bytearray)), f"reply is not binary: {msg!r}"
    assert len(msg) >= 28, f"reply shorter than 28 bytes: {bytes(msg)!r}"
    h = REPLY_HDR.unpack_from(msg)
    blen = h[1]
    assert len(msg) >= 28 + blen, f"reply backend_len {blen} past the end"
    backend = bytes(msg[28 : 28 + blen]).decode()
    r = Reply(*h, backend, bytes(msg[28 + blen :]))
    # Contract section 2: grpc_us is the last backend call, inside the request's total_us.
    assert r.grpc_us <= r.total_us, f"grpc_us {r.grpc_us} > total_us {r.total_us} (request {r.request_id})"
    return r


def describe(r):
    return (
        f"type={r.type} status={r.status} id={r.request_id} frame={r.frame} backend={r.backend!r} "
        f"attempts={r.attempts} grpc_us={r.grpc_us} total_us={r.total_us} "
        f"payload={r.payload[:80]!r}{'...' if len(r.payload) > 80 else ''}"
    )


def assert_frame(r, request_id=None, frame=None, size=FRAME_BYTES):
    assert r.type == FRAME and r.status == 0, f"expected a FRAME: {describe(r)}"
    if request_id is not None:
        assert r.request_id == request_id, describe(r)
    if frame is not None:
        assert r.frame == frame, describe(r)
    assert r.backend_len > 0 and r.backend, describe(r)
    assert r.attempts >= 1 and r.reserved == 0, describe(r)
    if size is not None:
        assert len(r.payload) == size, f"image of {len(r.payload)} bytes, not {size}: {describe(r)}"
        assert (r.width, r.height, r.format) == (128, 64, RGB24), describe(r)


def assert_error(r, status, request_id=None, frame=None, message=None):
    assert r.type == ERROR, f"expected an ERROR {status}: {describe(r)}"
    assert r.status == status, f"expected status {status}: {describe(r)}"
    assert (r.width, r.height, r.format, r.reserved) == (0, 0, 0, 0), describe(r)
    if request_id is not None:
        assert r.request_id == request_id, describe(r)
    if frame is not None:
        assert r.frame == frame, describe(r)
    if message is not None:
        assert r.payload.decode(errors="replace") == message, describe(r)


class Client(fgtest.ClosedOnExit):
    """A WebSocket client of the proxy (websocket-client), binary frames only."""

    def __init__(self, port, subprotocols=None, timeout=10.0, query=""):
        self.ws = websocket.create_connection(
            f"ws://{HOST}:{port}/ws{'?' + query if query else ''}", timeout=timeout,
            subprotocols=subprotocols
        )
        self.hints = []  # HINT messages seen by recv(), in order

    def recv_message(self):
        """The next message: a Reply, or a Hint (16 bytes, type 4)."""
        opcode, data = self.ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else None
            raise AssertionError(f"proxy closed the WebSocket (code {code}, {data[2:]!r})")
        assert opcode == websocket.ABNF.OPCODE_BINARY, f"non-binary reply opcode {opcode}"
        if data and data[0] == HINT:
            assert len(data) == HINT_MSG.size, f"HINT of {len(data)} bytes: {bytes(data)!r}"
            h = Hint(*HINT_MSG.unpack(data))
            assert h.reserved == 0 and h.reserved2 == 0, h
            return h
        return parse_reply(data)

    def send(self, request_id, frame, model="sanders", data=b"", **kw):
        self.send_raw(encode_request(request_id, frame, model, data, **kw))

    def send_raw(self, msg):
        self.ws.send_binary(bytes(msg))

    def recv(self):
        """The next reply; HINTs on the way are kept in self.hints."""
        while True:
            m = self.recv_message()
            if isinstance(m, Hint):
                self.hints.append((time.monotonic(), m))
                continue
            return m

    def quiet_for(self, seconds):
        """Reads on for `seconds` after the last expected reply: any reply then is a duplicate
        (or an answer to nothing). Returns those replies."""
        extra = []
        old = self.ws.gettimeout()
        end = time.monotonic() + seconds
        try:
            while (left := end - time.monotonic()) > 0:
                self.ws.settimeout(left)
                try:
                    extra.append(self.recv())
                except websocket.WebSocketTimeoutException:
                    break
        finally:
            self.ws.settimeout(old)
        return extra

    def call(self, request_id, frame, model="sanders", data=b"", **kw):
        self.send(request_id, frame, model, data, **kw)
        return self.recv()

    def run(self, n, inflight=1, model="sanders", first_id=1, on_reply=None, data=b"", linger=LINGER_S):
        """Send n requests (ids first_id.., frame = id) keeping `inflight` outstanding.

        Returns the replies in arrival order. Fails if a reply is missing, duplicated or
        does not match a request; on_reply(reply, index) is called for each. After the last
        reply it reads on for `linger` seconds: a duplicate arriving late fails too."""
        replies, pending = [], set()
        next_id, last_id = first_id, first_id + n - 1
        while len(replies) < n:
            while next_id <= last_id and len(pending) < inflight:
                self.send(next_id, next_id, model, data)
                pending.add(next_id)
                next_id += 1
            try:
                r = self.recv()
            except websocket.WebSocketTimeoutException:
                raise AssertionError(
                    f"no reply for {len(pending)} requests after {len(replies)} replies "
                    f"(lost: {sorted(pending)[:10]})"
                ) from None
            assert r.request_id in pending, f"unexpected or duplicate reply: {describe(r)}"
            assert r.frame == r.request_id, describe(r)
            pending.discard(r.request_id)
            replies.append(r)
            if on_reply:
                on_reply(r, len(replies) - 1)
        self.expect_silence(linger)
        return replies

    def expect_silence(self, seconds=LINGER_S):
        """Read for `seconds`: any message now is one nobody asked for (a duplicate reply)."""
        if seconds <= 0:
            return
        old = self.ws.gettimeout()
        self.ws.settimeout(seconds)
        try:
            r = self.recv()
        except websocket.WebSocketTimeoutException:
            return
        finally:
            self.ws.settimeout(old)
        raise AssertionError(f"a reply after every request was answered (a duplicate): {describe(r)}")

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass


# ----------------------------------------------------------------------------- raw WebSocket

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_http_head(sock, buf=b"", limit=65536):
    """(status, headers dict lowercased, leftover bytes) of one HTTP response head."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed inside the response head: {buf!r}")
        buf += chunk
        assert len(buf) < limit, "response head too long"
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert parts[0] in ("HTTP/1.1", "HTTP/1.0"), f"bad status line {lines[0]!r}"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, rest


class RawWS(fgtest.ClosedOnExit):
    """RFC 6455 by hand: upgrade, then arbitrary (even invalid) frames."""

    def __init__(self, port, protocols=None, timeout=5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        )
        if protocols:
            req += f"Sec-WebSocket-Protocol: {protocols}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        self.status, self.headers, self.buf = read_http_head(self.sock)
        assert self.status == 101, f"upgrade answered {self.status} {self.headers}"
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert self.headers.get("sec-websocket-accept") == want, self.headers
        assert self.headers.get("upgrade", "").lower() == "websocket", self.headers

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        mbit = 0x80 if mask else 0
        if n < 126:
            hdr = struct.pack(">BB", b0, mbit | n)
        elif n < 65536:
            hdr = struct.pack(">BBH", b0, mbit | 126, n)
        else:
            hdr = struct.pack(">BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            hdr += key
        self.sock.sendall(hdr + payload)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def read_frame(self):
        """(fin, rsv, opcode, payload) of one server frame; the server must not mask."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "the server masked a frame"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload = self.buf[off : off + n]
        self.buf = self.buf[off + n :]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload

    def recv_reply(self):
        """One binary message (reassembled if the proxy fragmented it), parsed as a reply."""
        fin, rsv, op, msg = self.read_frame()
        assert rsv == 0 and op == 2, f"expected a binary reply, got opcode {op} rsv {rsv}"
        while not fin:
            fin, rsv, op, payload = self.read_frame()
            if op >= 8:  # control frames may sit between fragments
                continue
            assert rsv == 0 and op == 0, f"expected a continuation frame, got opcode {op}"
            msg += payload
        return parse_reply(msg)

    def close_code(self, timeout=5.0):
        """Read until the server's close frame; its status code (None if empty payload).

        Raises AssertionError if the connection ends without a close frame or times out."""
        self.sock.settimeout(timeout)
        seen = []
        try:
            while True:
                fin, rsv, op, payload = self.read_frame()
                if op == 8:
                    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                seen.append(op)
        except EOFError:
            raise AssertionError(f"connection closed without a close frame (frames seen: {seen})") from None
        except socket.timeout:
            raise AssertionError(f"no close frame within {timeout}s (frames seen: {seen})") from None

    def eof_within(self, timeout=5.0):
        """True once the server closed the TCP connection (after its close frame)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(4096):
                    return True
        except ConnectionResetError:  # closed with our unread bytes still queued: RST
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


# ----------------------------------------------------------------------------- HTTP


def http_get(port, path, timeout=5.0, headers=None):
    """(status, headers dict lowercased, body bytes) of GET path."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def raw_http(port, data, timeout=5.0):
    """Send raw bytes; return everything the proxy sends until it closes (or times out).

    Returns (bytes, closed) where closed says whether the proxy closed the connection."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        return read_until_closed(s)


def read_until_closed(sock):
    """Everything sock receives until the peer closes it (FIN or RST): (bytes, closed), where
    closed is False when the socket's timeout passed first."""
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


def get_health(port):
    """(http status, parsed JSON) of GET /health."""
    status, headers, body = http_get(port, "/health")
    return status, json.loads(body)


class HealthPoller:
    """GET /health over one keep-alive connection (reopened after an error), so polling
    does not leave thousands of sockets in TIME_WAIT."""

    def __init__(self, port, timeout=5.0):
        self.port, self.timeout, self.conn = port, timeout, None

    def get(self):
        """(http status, parsed JSON)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            self.conn.request("GET", "/health")
            r = self.conn.getresponse()
            body = r.read()
            if r.getheader("connection", "").lower() == "close":
                self.close()
            return r.status, json.loads(body)
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def wait_proxy_health(port, pred, timeout=10.0, what="condition"):
    """Poll /health until pred(json) holds; return (seconds waited, json)."""
    t0 = time.monotonic()
    last = None
    poller = HealthPoller(port)
    while True:
        try:
            _, last = poller.get()
            if pred(last):
                poller.close()
                return time.monotonic() - t0, last
        except (OSError, ValueError, http.client.HTTPException) as e:
            last = repr(e)
        if time.monotonic() - t0 > timeout:
            poller.close()
            raise AssertionError(f"/health: no {what} after {timeout}s; last: {last}")
        time.sleep(0.02)


def backend_entry(health, addr):
    for b in health["backends"]:
        if b["address"] == addr:
            return b
    raise AssertionError(f"{addr} not in /health backends: {health}")


def healthy_set(health):
    return {b["address"] for b in health["backends"] if b["healthy"]}


# ----------------------------------------------------------------------------- Prometheus

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE_RE = re.compile(rf"^({_NAME})(\{{.*\}})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL_RE = re.compile(rf'\s*({_LABEL})\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _parse_value(s, where):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    assert re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s), f"{where}: bad value {s!r}"
    return float(s)


def _parse_labels(s, where):
    labels, body = {}, s[1:-1]
    pos = 0
    while pos < len(body):
        m = _LABEL_RE.match(body, pos)
        assert m and m.end() > pos, f"{where}: bad labels {s!r}"
        name, value = m.group(1), m.group(2)
        assert name not in labels, f"{where}: label {name} twice"
        labels[name] = value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pos = m.end()
    return labels


def _family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_prometheus(text):
    """Check `text` strictly against the text format 0.0.4; return
    {family: {"type": t, "samples": [(name, labels, value)]}}. Fails with the line on error."""
    assert text.endswith("\n"), "exposition does not end with a newline"
    types, helps, families, order, seen = {}, {}, {}, [], set()
    for no, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {no} {line!r}"
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert re.fullmatch(_NAME, name), f"{where}: bad metric name"
                if parts[1] == "TYPE":
                    assert len(parts) == 4 and parts[3] in _TYPES, f"{where}: bad type"
                    assert name not in types, f"{where}: second TYPE for {name}"
                    assert name not in families, f"{where}: TYPE after samples of {name}"
                    types[name] = parts[3]
                else:
                    assert name not in helps, f"{where}: second HELP for {name}"
                    helps[name] = parts[3] if len(parts) == 4 else ""
            continue
        m = _SAMPLE_RE.match(line)
        assert m, f"{where}: not a sample line"
        name, labels_s, value_s = m.group(1), m.group(2), m.group(3)
        labels = _parse_labels(labels_s, where) if labels_s else {}
        value = _parse_value(value_s, where)
        fam = _family_of(name, types)
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, f"{where}: duplicate sample"
        seen.add(key)
        if fam not in families:
            families[fam] = {"type": types.get(fam, "untyped"), "samples": []}
            order.append(fam)
        else:
            assert order[-1] == fam, f"{where}: samples of {fam} are not one group"
        if types.get(fam) == "histogram":
            assert name != fam, f"{where}: histogram sample without _bucket/_sum/_count"
            if name.endswith("_bucket"):
                assert "le" in labels, f"{where}: bucket without le"
        if types.get(fam) == "counter":
            assert value >= 0, f"{where}: negative counter"
        families[fam]["samples"].append((name, labels, value))
    for fam, f in families.items():
        if f["type"] == "histogram":
            _check_histogram(fam, f["samples"])
    return families


def _check_histogram(fam, samples):
    series = {}
    for name, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name == fam + "_bucket":
            s["buckets"].append((_parse_value(labels["le"], f"{fam} le"), value))
        elif name == fam + "_sum":
            s["sum"] = value
        elif name == fam + "_count":
            s["count"] = value
    for rest, s in series.items():
        b = s["buckets"]
        where = f"histogram {fam}{dict(rest)}"
        assert b, f"{where}: no buckets"
        les = [le for le, _ in b]
        assert les == sorted(les), f"{where}: buckets not in increasing le order"
        assert les[-1] == math.inf, f"{where}: no le=\"+Inf\" bucket"
        counts = [c for _, c in b]
        assert counts == sorted(counts), f"{where}: bucket counts not cumulative"
        assert s["count"] is not None and s["sum"] is not None, f"{where}: _count or _sum missing"
        assert s["count"] == counts[-1], f"{where}: _count != +Inf bucket"


class HealthMonitor:
    """Polls /health every `period` seconds in a thread, keeping (monotonic time, healthy set)."""

    def __init__(self, port, period=0.025):
        import threading

        self.port, self.period = port, period
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        poller = HealthPoller(self.port)
        while not self._stop.is_set():
            try:
                _, h = poller.get()
                self.samples.append((time.monotonic(), healthy_set(h)))
            except (OSError, ValueError, http.client.HTTPException):
                self.samples.append((time.monotonic(), None))
            self._stop.wait(self.period)
        poller.close()

    def first(self, since, pred):
        """Time of the first sample at or after `since` whose healthy set satisfies pred."""
        for t, s in list(self.samples):
            if t >= since and s is not None and pred(s):
                return t
        return None

    def stop(self):
        self._stop.set()
        self._thread.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class module_group(fgtest.ProcessGroup):
    """A ProcessGroup for a module-scoped fixture: logs are printed if any test of the
    module failed (the per-test `procs` fixture does that for single tests)."""

    def __init__(self, request):
        super().__init__()
        self._session = request.session
        self._failed_before = request.session.testsfailed

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            problems = self.stop_all()
            if self._session.testsfailed > self._failed_before or problems:
                self.dump_logs()
            # As the procs fixture: an exit status other than the expected one, or a sanitizer
            # report in any log (the ASan build), fails.
            reports = self.sanitizer_reports()
            if reports:
                problems.append("sanitizer report(s):\n" + "\n".join(reports))
            if problems:
                import pytest

                pytest.fail("\n".join(problems), pytrace=False)
        return super().__exit__(exc_type, exc, tb)


@contextlib.contextmanager
def one_backend_proxy(request, *flags):
    """For a module-scoped fixture: one frameserver (--infer-ms 0) behind one framegate started
    with `flags` and --log-frames off. Yields (proxy port, backend address) once the backend is
    healthy; stops both when the module is done."""
    with module_group(request) as group:
        _, addr = fgtest.serving_frameserver(group, "--infer-ms", "0")
        _, port = start_framegate(group, [addr], *flags, "--log-frames", "off")
        wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
        yield port, addr
