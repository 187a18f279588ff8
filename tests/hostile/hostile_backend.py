"""A misbehaving gRPC backend (HTTP/2 h2c, python3-h2) for the hostile suite (issue 6 section 3).

It answers grpc.health.v1.Health/Check with SERVING like a good backend, so the proxy sends it
frames; each Render call then gets the behaviour named by its RenderRequest.input
(b"hostile:NAME", see BEHAVIOURS), or the backend's default when the input names none. A whole
backend can also be `silent`: it accepts TCP connections and never sends a byte.

    with HostileBackend() as h:          # h.addr is "127.0.0.1:PORT"
        ... h.renders, h.resets ...      # what it saw, for the assertions

Threads: one accept thread, one thread per connection; everything binds 127.0.0.1 only and is
closed by stop().
"""

import socket
import struct
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

import fgtest

# What a Render call can be made to do.
BEHAVIOURS = (
    "ok",          # a proper 16-byte RGB24 reply
    "big",         # a RenderReply of 5 MiB (over the proxy's 4 MiB limit)
    "no_status",   # headers, the reply, trailers without grpc-status
    "http_404", "http_503", "http_401",  # that :status, no gRPC at all
    "bad_reply",   # grpc-status 0 with bytes that are no RenderReply
    "refused",     # RST_STREAM REFUSED_STREAM
    "goaway_reject",  # GOAWAY whose last_stream_id excludes this call, connection closed after
    "goaway_finish",  # GOAWAY whose last_stream_id includes this call, then the reply, then close
    "flood",       # 5000 PINGs, 300 SETTINGS, 2000 empty DATA frames, then the reply
    "hang",        # never answers this call (the connection stays up)
    "status_N",    # grpc-status N (any number, e.g. 99) in a trailers-only reply, message "hostile N"
    "echo",        # a proper RGB24 reply whose image is the request's input, byte for byte
    "msg_N",       # a RenderReply whose serialized message is exactly N bytes
)
BIG_REPLY = 5 << 20
IMAGE = bytes(range(16)) * 3  # 4x4 RGB24


def grpc_frame(payload):
    return struct.pack(">BI", 0, len(payload)) + payload


def reply_of_size(n):
    """A serialized RenderReply (frame 1, RGB24) of exactly n bytes (n >= 16)."""
    pb = fgtest.protos().frames_pb2
    img = n
    while True:
        msg = pb.RenderReply(frame=1, image=b"\x07" * img, format=1, width=1, height=1).SerializeToString()
        if len(msg) == n:
            return msg
        img -= len(msg) - n
        assert img >= 0, n


def raw_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, stream) + payload


class _Conn:
    """One accepted connection: an h2 server session and the behaviours."""

    def __init__(self, backend, sock):
        self.b = backend
        self.sock = sock
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                      validate_inbound_headers=False))
        self.paths = {}
        self.bodies = {}
        self.pending = {}  # stream id -> [bytes left to send, trailers or None]
        self.close_after = None

    def send(self, raw=b""):
        out = self.h2.data_to_send() + raw
        if out:
            self.sock.sendall(out)

    def run(self):
        self.h2.initiate_connection()
        self.send()
        while not self.b.stopping:
            if self.close_after is not None and time.monotonic() > self.close_after:
                return
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError:
                return  # our own raw frames (floods, GOAWAY) can confuse h2's bookkeeping
            for ev in events:
                self.on_event(ev)
            self.pump()
            self.send()

    def on_event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            self.paths[ev.stream_id] = dict(ev.headers).get(":path", "")
            self.bodies[ev.stream_id] = b""
        elif isinstance(ev, h2.events.DataReceived):
            self.bodies[ev.stream_id] = self.bodies.get(ev.stream_id, b"") + ev.data
            self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.on_call(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.pending.pop(ev.stream_id, None)
            with self.b.lock:
                self.b.resets.append((ev.stream_id, ev.error_code))

    def on_call(self, sid):
        path = self.paths.get(sid, "")
        body = self.bodies.pop(sid, b"")[5:]
        if path.endswith("/Check"):
            self.reply(sid, b"\x08\x01")  # HealthCheckResponse{status: SERVING}
            return
        if not path.endswith("/Render"):
            self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc"),
                                       ("grpc-status", "12")], end_stream=True)
            return
        pb = fgtest.protos().frames_pb2
        req = pb.RenderRequest.FromString(body)
        self.last_body = body
        what = self.b.default
        if self.b.obey_input and req.input.startswith(b"hostile:"):
            what = req.input[8:].split(b"\0", 1)[0].decode()  # NAME, or NAME\0data
        with self.b.lock:
            self.b.renders.append((what, req.frame))
        reply = pb.RenderReply(frame=req.frame, image=IMAGE, format=1, width=4, height=4,
                               inference_us=1).SerializeToString()
        self.behave(sid, what, reply)

    def reply(self, sid, msg, trailers=(("grpc-status", "0"),), http="200"):
        self.h2.send_headers(sid, [(":status", http), ("content-type", "application/grpc")])
        self.pending[sid] = [grpc_frame(msg), list(trailers)]

    def behave(self, sid, what, reply):
        if what == "ok":
            self.reply(sid, reply)
        elif what == "big":
            pb = fgtest.protos().frames_pb2
            big = pb.RenderReply(frame=1, image=b"\x01" * BIG_REPLY, format=1).SerializeToString()
            self.reply(sid, big)
        elif what == "no_status":
            self.reply(sid, reply, trailers=[("x-no-status", "1")])
        elif what.startswith("http_"):
            self.h2.send_headers(sid, [(":status", what[5:]), ("content-type", "text/plain")])
            self.h2.send_data(sid, b"not grpc\n", end_stream=True)
        elif what == "bad_reply":
            self.reply(sid, b"\xff\xff\xff\xff\x0f")
        elif what == "refused":
            self.h2.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
        elif what == "goaway_reject":
            self.send(raw_frame(7, 0, 0, struct.pack(">II", max(sid - 2, 0), 0)))
            self.close_after = time.monotonic() + 0.5
        elif what == "goaway_finish":
            self.send(raw_frame(7, 0, 0, struct.pack(">II", sid, 0)))
            self.reply(sid, reply)
            self.close_after = time.monotonic() + 0.5
        elif what == "flood":
            flood = (raw_frame(6, 0, 0, b"floodPNG") * 5000 + raw_frame(4, 0, 0) * 300 +
                     raw_frame(0, 0, sid) * 2000)
            self.send(flood)
            self.reply(sid, reply)
        elif what == "hang":
            pass
        elif what.startswith("status_"):
            code = what[7:]
            self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc"),
                                       ("grpc-status", code), ("grpc-message", f"hostile {code}")],
                                 end_stream=True)
        elif what == "echo":
            pb = fgtest.protos().frames_pb2
            req = pb.RenderRequest.FromString(self.last_body)
            self.reply(sid, pb.RenderReply(frame=req.frame, image=req.input, format=1, width=4,
                                           height=4).SerializeToString())
        elif what.startswith("msg_"):
            self.reply(sid, reply_of_size(int(what[4:])))
        else:
            raise ValueError(f"unknown behaviour {what!r}")

    def pump(self):
        """Sends pending replies as far as HTTP/2 flow control allows."""
        for sid in list(self.pending):
            data, trailers = self.pending[sid]
            try:
                while data:
                    n = min(len(data), self.h2.local_flow_control_window(sid),
                            self.h2.max_outbound_frame_size)
                    if n <= 0:
                        break
                    self.h2.send_data(sid, data[:n])
                    data = data[n:]
                    self.send()
                self.pending[sid][0] = data
                if not data:
                    del self.pending[sid]
                    self.h2.send_headers(sid, trailers, end_stream=True)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                self.pending.pop(sid, None)


class HostileBackend:
    def __init__(self, default="ok", obey_input=True, silent=False):
        assert default in BEHAVIOURS or default.split("_")[0] in ("status", "msg")
        self.default = default
        self.obey_input = obey_input
        self.silent = silent
        self.lock = threading.Lock()
        self.renders = []      # (behaviour, frame) per Render call received
        self.resets = []       # (stream id, error code) per RST_STREAM received
        self.connections = 0
        self.stopping = False
        self._socks = []
        self._threads = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((fgtest.HOST, 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.addr = f"{fgtest.HOST}:{self.listener.getsockname()[1]}"

    def start(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(0.1)
            with self.lock:
                self.connections += 1
                self._socks.append(sock)
            if self.silent:
                continue  # accepted, never spoken to
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, sock):
        try:
            _Conn(self, sock).run()
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()

    def renders_of(self, what):
        with self.lock:
            return sum(1 for w, _ in self.renders if w == what)

    def stop(self):
        self.stopping = True
        self.listener.close()
        for t in self._threads:
            t.join(5)
        with self.lock:
            for s in self._socks:
                s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
