"""Raw HTTP/2 gRPC calls with the `h2` library (python3-h2), for the tests that must send
what a real gRPC client never would: lying length prefixes, a compressed flag without
grpc-encoding, streams reset mid-call, garbage frames."""

import socket
import struct
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions

import fgtest

RENDER_PATH = "/framegate.v1.FrameService/Render"


def raw_frame(ftype, flags, stream_id, payload=b""):
    """One HTTP/2 frame, bytes as on the wire (RFC 9113 section 4.1)."""
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, stream_id) + payload


class Stream:
    def __init__(self):
        self.headers = {}
        self.trailers = {}
        self.data = b""
        self.ended = False
        self.reset = None  # RST_STREAM error code
        self.ended_at = None

    @property
    def grpc_status(self):
        v = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if v is None else int(v)

    @property
    def grpc_message(self):
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


class H2Grpc(fgtest.ClosedOnExit):
    """One HTTP/2 connection (h2c, prior knowledge) to a gRPC server."""

    def __init__(self, addr, timeout=5.0):
        host, port = addr.rsplit(":", 1)
        self.addr = addr
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.streams = {}
        self.goaway = None  # ConnectionTerminated event
        self.closed = False
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def start_call(self, body=None, path=RENDER_PATH, extra_headers=(), end_stream=True):
        """Send HEADERS (+ DATA `body` when given); return the stream id."""
        sid = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", self.addr),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            *extra_headers,
        ]
        self.conn.send_headers(sid, headers, end_stream=body is None and end_stream)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end_stream)
        self.streams[sid] = Stream()
        self.flush()
        return sid

    def reset_stream(self, sid):
        self.conn.reset_stream(sid, error_code=8)  # CANCEL
        self.flush()

    def pump(self, timeout):
        """Read once (up to `timeout` s) and dispatch events; False when the socket closed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self._on_event(ev)
        self.flush()
        return True

    def _on_event(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = dict(ev.headers)
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended, st.ended_at = True, time.monotonic()
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset, st.ended_at = ev.error_code, time.monotonic()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev

    def wait(self, sids, timeout=5.0):
        """Wait until every stream in `sids` ended or was reset; returns their Streams."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self.streams[s].ended or self.streams[s].reset is not None for s in sids):
                return [self.streams[s] for s in sids]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"streams {sids} not finished after {timeout}s")
            if not self.pump(min(left, 0.2)):
                raise AssertionError(f"connection closed before streams {sids} finished (goaway={self.goaway})")

    def call(self, body, timeout=5.0, **kw):
        return self.wait([self.start_call(body, **kw)], timeout)[0]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def read_until_closed(sock, timeout):
    """Read everything until the peer closes; returns (bytes, closed_in_time)."""
    sock.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return got, True
        if not chunk:
            return got, True
        got += chunk
    return got, False


def goaway_codes(raw):
    """Error codes of every GOAWAY frame in a raw server byte stream."""
    codes = []
    i = 0
    while i + 9 <= len(raw):
        length = int.from_bytes(raw[i : i + 3], "big")
        ftype = raw[i + 3]
        payload = raw[i + 9 : i + 9 + length]
        if ftype == 7 and len(payload) >= 8:
            codes.append(int.from_bytes(payload[4:8], "big"))
        i += 9 + length
    return codes
