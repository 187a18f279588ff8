#!/usr/bin/python3
"""Wait until gRPC backends answer grpc.health.v1.Health/Check with SERVING.

    health-check.py [--timeout SECONDS] [--service NAME] HOST:PORT...

Exit 0 once every address answers SERVING; exit 1 after the timeout, naming each address
that is not serving and what it answered; exit 2 when python3-grpcio is not installed. Uses grpcio's generic calls, so it needs no
generated code: the request {service} and the reply {status} are one-field messages.
"""

import argparse
import sys
import time

try:
    import grpc
except ImportError:
    print("health-check: python3-grpcio is missing (apt-get install python3-grpcio)", file=sys.stderr)
    sys.exit(2)

STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def encode_request(service):
    """HealthCheckRequest: field 1 (string) = service; empty message when service is ""."""
    raw = service.encode()
    if not raw:
        return b""
    assert len(raw) < 128, "service name too long for this one-byte length"
    return b"\x0a" + bytes([len(raw)]) + raw


def decode_status(reply):
    """HealthCheckResponse: field 1 (enum, varint) = status; absent means UNKNOWN (0)."""
    if len(reply) >= 2 and reply[0] == 0x08:
        return reply[1] & 0x7F
    return 0


def channel(addr, tls):
    """Plaintext, or TLS with tls = "CA[,CERT,KEY]" (PEM files; CERT,KEY for mTLS)."""
    if not tls:
        return grpc.insecure_channel(addr)
    files = tls.split(",")
    pems = [open(f, "rb").read() for f in files]
    key, chain = (pems[2], pems[1]) if len(pems) == 3 else (None, None)
    return grpc.secure_channel(addr, grpc.ssl_channel_credentials(pems[0], key, chain))


def check(addr, service, timeout, tls=""):
    with channel(addr, tls) as ch:
        call = ch.unary_unary("/grpc.health.v1.Health/Check")
        try:
            reply = call(encode_request(service), timeout=timeout)
        except grpc.RpcError as e:
            return f"{e.code().name}: {e.details()}"
    return STATUS_NAMES.get(decode_status(reply), "UNKNOWN")


def main():
    ap = argparse.ArgumentParser(description="wait until gRPC backends are SERVING")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--service", default="")
    ap.add_argument("--tls", default="", metavar="CA[,CERT,KEY]", help="check over TLS (PEM files)")
    ap.add_argument("addrs", nargs="+", metavar="HOST:PORT")
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout
    pending = {a: "no answer yet" for a in args.addrs}
    while pending:
        for addr in list(pending):
            pending[addr] = check(addr, args.service, 1.0, args.tls)
            if pending[addr] == "SERVING":
                del pending[addr]
        if not pending:
            break
        if time.monotonic() > deadline:
            for addr, last in pending.items():
                print(f"health-check: {addr} not SERVING after {args.timeout:g}s (last answer: {last})", file=sys.stderr)
            return 1
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
