#!/usr/bin/python3
"""A scripted WebSocket peer for framebench's test: it speaks the v1.1 client contract (§2) as an
overloaded proxy would, so the test can check what framebench sends and how it counts what
comes back, before and independently of the real proxy's scheduler.

    overload_peer.py [--stall-frame N --stall-ms MS]
    # prints "overload_peer listening on 127.0.0.1:PORT", then one JSON line per connection
    # opened ({"event": "open", "path": ...}) and closed ({"event": "close", counts...})

Replies by frame number: frame % 4 == 1 -> ERROR 8 "overloaded", == 2 -> ERROR 1 "superseded",
else a FRAME (backend "peer", 16 bytes). The reply to --stall-frame waits --stall-ms first. With
hints=1 in the URL: a HINT when the connection opens (3 backends, 12.5 frames/s, 40 ms wait) and
one after its third request (2 backends, 7.25 frames/s, 123456 us). Binds 127.0.0.1 only; one
thread per connection; stops on SIGTERM.
"""

import argparse
import base64
import hashlib
import json
import signal
import socket
import struct
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        print(json.dumps(obj), flush=True)


def recv_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    return buf[:n], buf[n:]


def read_message(sock, buf):
    """One client frame (masked, unfragmented): (opcode, payload, rest of buf)."""
    head, buf = recv_exact(sock, 2, buf)
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    if n == 126:
        ext, buf = recv_exact(sock, 2, buf)
        n = struct.unpack(">H", ext)[0]
    elif n == 127:
        ext, buf = recv_exact(sock, 8, buf)
        n = struct.unpack(">Q", ext)[0]
    mask, buf = recv_exact(sock, 4, buf)
    data, buf = recv_exact(sock, n, buf)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data)), buf


def ws_frame(payload, opcode=2):
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
    return head + payload


def reply(type_, status, request_id, frame, payload, backend=b""):
    head = struct.pack("<BBHIIIIHHBBH", type_, len(backend), status, request_id, frame, 1000, 1200,
                       4 if type_ == 2 else 0, 1 if type_ == 2 else 0, 1 if type_ == 2 else 0,
                       1 if type_ == 2 else 0, 0)
    return ws_frame(head + backend + payload)


def hint(healthy, fps_milli, wait_us):
    return ws_frame(struct.pack("<BBHIII", 4, 0, healthy, fps_milli, wait_us, 0))


def serve(sock, opts):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n")
    if "framegate.v1" in headers.get("sec-websocket-protocol", ""):
        resp += b"Sec-WebSocket-Protocol: framegate.v1\r\n"
    sock.sendall(resp + b"\r\n")
    emit({"event": "open", "path": path})
    hints = "hints=1" in path
    counts = {"requests": 0, "latest_flags": 0, "other_flags": 0, "frames": 0, "shed": 0,
              "superseded": 0, "hints": 0}
    if hints:
        sock.sendall(hint(3, 12500, 40000))
        counts["hints"] += 1
    try:
        while True:
            opcode, msg, buf = read_message(sock, buf)
            if opcode == 8:
                break
            if opcode != 2:
                continue
            _, _, flags, request_id, frame = struct.unpack_from("<BBHII", msg)
            counts["requests"] += 1
            counts["latest_flags"] += flags == 1
            counts["other_flags"] += flags not in (0, 1)
            if frame == opts.stall_frame:
                time.sleep(opts.stall_ms / 1000)
            if frame % 4 == 1:
                out = reply(3, 8, request_id, frame, b"overloaded")
                counts["shed"] += 1
            elif frame % 4 == 2:
                out = reply(3, 1, request_id, frame, b"superseded")
                counts["superseded"] += 1
            else:
                out = reply(2, 0, request_id, frame, b"\x00" * 16, backend=b"peer")
                counts["frames"] += 1
            if hints and counts["requests"] == 3:
                out += hint(2, 7250, 123456)
                counts["hints"] += 1
            sock.sendall(out)
    except (EOFError, OSError):
        pass
    emit({"event": "close", "path": path, **counts})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stall-frame", type=int, default=-1)
    ap.add_argument("--stall-ms", type=int, default=0)
    opts = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    print(f"overload_peer listening on 127.0.0.1:{lsock.getsockname()[1]}", flush=True)
    while True:
        sock, _ = lsock.accept()
        threading.Thread(target=lambda s=sock: (serve(s, opts), s.close()), daemon=True).start()


if __name__ == "__main__":
    main()
