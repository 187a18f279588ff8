#!/usr/bin/python3
"""An HTTP/2 (h2c) server whose replies are odd for gRPC (python3-h2), for fg_grpc_conn's reply
mapping: error pages, foreign content-types, missing grpc-status, ORCA load reports. The reply is chosen by the
last :path segment (see REPLIES); "/t/resets" answers, as a gRPC message, how many streams the
client reset so far.

    odd_reply_server.py      # prints "odd_reply_server listening on 127.0.0.1:PORT" on stderr

Binds 127.0.0.1 only; one thread per connection; stops on SIGTERM/SIGKILL.
"""

import base64
import signal
import socket
import struct
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions

BIG_PAGE = b"<html>" + b"x" * (200 << 10) + b"</html>"


def grpc_frame(payload):
    return struct.pack(">BI", 0, len(payload)) + payload


def orca(cpu, app, rps):
    """An endpoint-load-metrics-bin value: an xds.data.orca.v3.OrcaLoadReport with fields 1
    (cpu_utilization), 9 (application_utilization), 6 (rps_fractional), base64 unpadded."""
    report = b"".join(bytes([num << 3 | 1]) + struct.pack("<d", v)
                      for num, v in ((1, cpu), (9, app), (6, rps)) if v)
    return base64.b64encode(report).decode().rstrip("=")


GRPC_200 = [(":status", "200"), ("content-type", "application/grpc")]

# name -> (headers, body, trailers or None)
REPLIES = {
    "ok_proto": ([(":status", "200"), ("content-type", "application/grpc+proto")],
                 grpc_frame(b"abc"), [("grpc-status", "0")]),
    "html_200": ([(":status", "200"), ("content-type", "text/html")],
                 b"<html>not grpc</html>", [("grpc-status", "0")]),
    "no_content_type": ([(":status", "200")], grpc_frame(b"abc"), [("grpc-status", "0")]),
    "no_status": ([(":status", "200"), ("content-type", "application/grpc")],
                  grpc_frame(b"abc"), [("x-no-status", "1")]),
    "http_404": ([(":status", "404"), ("content-type", "text/plain")], b"not found\n", None),
    "http_503_big": ([(":status", "503"), ("content-type", "text/html")], BIG_PAGE, None),
    "trailers_only_params": ([(":status", "200"),
                              ("content-type", "application/grpc; charset=utf-8"),
                              ("grpc-status", "5"), ("grpc-message", "no%20such%20thing")],
                             None, None),
    "orca_ok": (GRPC_200, grpc_frame(b"abc"),
                [("grpc-status", "0"), ("endpoint-load-metrics-bin", orca(0.5, 1.25, 58.5))]),
    "orca_only_app": (GRPC_200, grpc_frame(b"abc"),
                      [("grpc-status", "0"), ("endpoint-load-metrics-bin", orca(0, 0.75, 0))]),
    "orca_busy": (GRPC_200 + [("grpc-status", "8"), ("endpoint-load-metrics-bin", orca(0, 3.0, 7))],
                  None, None),
    "orca_garbage": (GRPC_200, grpc_frame(b"abc"),
                     [("grpc-status", "0"), ("endpoint-load-metrics-bin", "not base64!")]),
}

resets = 0
lock = threading.Lock()


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        self.paths = {}
        self.pending = {}  # stream id -> [body left, trailers]

    def reply(self, sid):
        name = self.paths.pop(sid, "").rsplit("/", 1)[-1]
        if name == "resets":
            with lock:
                n = resets
            hdrs, body, trailers = ([(":status", "200"), ("content-type", "application/grpc")],
                                    grpc_frame(str(n).encode()), [("grpc-status", "0")])
        else:
            hdrs, body, trailers = REPLIES[name]
        self.h2.send_headers(sid, hdrs, end_stream=body is None)
        if body is not None:
            self.pending[sid] = [body, trailers]

    def pump(self):
        for sid in list(self.pending):
            body, trailers = self.pending[sid]
            try:
                while body:
                    n = min(len(body), self.h2.local_flow_control_window(sid),
                            self.h2.max_outbound_frame_size)
                    if n <= 0:
                        break
                    self.h2.send_data(sid, body[:n])
                    body = body[n:]
                if body:
                    self.pending[sid][0] = body
                    continue
                if trailers:
                    self.h2.send_headers(sid, trailers, end_stream=True)
                else:
                    self.h2.end_stream(sid)
            except h2.exceptions.StreamClosedError:
                pass
            del self.pending[sid]

    def run(self):
        global resets
        self.h2.initiate_connection()
        self.sock.sendall(self.h2.data_to_send())
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            for ev in self.h2.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    self.paths[ev.stream_id] = dict(ev.headers).get(":path", "")
                elif isinstance(ev, h2.events.DataReceived):
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    self.reply(ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    self.pending.pop(ev.stream_id, None)
                    with lock:
                        resets += 1
            self.pump()
            self.sock.sendall(self.h2.data_to_send())


def serve(sock):
    try:
        Conn(sock).run()
    except (OSError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print(f"odd_reply_server listening on 127.0.0.1:{lsock.getsockname()[1]}", file=sys.stderr,
          flush=True)
    while True:
        sock, _ = lsock.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
