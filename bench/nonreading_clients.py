#!/usr/bin/python3
"""Clients that ask and never read: N WebSocket connections to framegate, each sends K RENDER
requests right after the upgrade and then holds the connection without reading a byte, until
SIGTERM. Each socket's receive buffer is shrunk first (SO_RCVBUF 4 KiB), so the replies pile up
in the proxy, not in the kernel. For bench/overload.sh (issue 9: memory is bounded).

    nonreading_clients.py PORT [N [K]]     (defaults: 1000 clients, 64 requests each)

Prints "nonreading: N connected, N*K requests sent" once all are sent, then
"nonreading: M of N connections still open" when stopped.
"""

import os
import select
import signal
import socket
import struct
import sys
import time


def ws_binary(payload):
    """A masked client frame (RFC 6455 §5.3); the mask 0 keeps the bytes as they are."""
    n = len(payload)
    head = struct.pack(">BB", 0x82, 0x80 | n) if n < 126 else struct.pack(">BBH", 0x82, 0x80 | 126, n)
    return head + b"\0\0\0\0" + payload


def request(request_id, model=b"sanders"):
    return ws_binary(struct.pack("<BBHII", 1, len(model), 0, request_id, request_id) + model)


def connect(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:  # the 101 only: nothing of the replies is read
        b = s.recv(1)
        if not b:
            raise SystemExit("nonreading: the proxy closed during the upgrade")
        head += b
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"nonreading: upgrade refused: {head.splitlines()[0]!r}")
    return s


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    socks = []
    for i in range(n):
        s = connect(port)
        s.sendall(b"".join(request(i * k + j + 1) for j in range(k)))
        socks.append(s)
    print(f"nonreading: {n} connected, {n * k} requests sent", flush=True)
    while not stop:
        time.sleep(0.2)
    # Open means the proxy has not closed it: no EOF/error pending (poll without reading data).
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    closed = len(p.poll(0))
    print(f"nonreading: {n - closed} of {n} connections still open", flush=True)
    for s in socks:
        s.close()
    os._exit(0)


if __name__ == "__main__":
    main()
