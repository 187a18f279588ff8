#!/usr/bin/python3
"""A framegate.v1.FrameService + grpc.health.v1.Health backend written with python3-grpcio.

A second, independent implementation of the backend contract (docs/protocol.md), used to
check that the proxy works with the official gRPC servers and not only with frameserver.
It renders a simple RGB24 image: a background tinted by the port, and a bar whose height
follows the level of the request's input (16-bit LE PCM) or the frame number when empty.

    py_frame_server.py [--host 127.0.0.1] [--port 0] [--models sanders] [--width 128]
                       [--height 64] [--infer-ms 0] [--load-ms 0] [--fail-rate 0]
                       [--tls CERT,KEY[,CLIENT_CA]]

--tls serves gRPC over TLS (grpcio's ssl_server_credentials; ALPN h2) with that PEM certificate
chain and key; with CLIENT_CA, clients must present a certificate it signed.

--port 0 binds a free port. Once bound it prints "py_frame_server listening on HOST:PORT"
on stderr. Frames are rendered one at a time (like one GPU). SIGTERM/SIGINT: graceful stop.
"""

import argparse
import random
import signal
import struct
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import fgtest  # noqa: E402  (generates the protobuf modules)

pb = fgtest.protos()
frames = pb.frames_pb2
health = pb.health_pb2
FRAME_SERVICE = "framegate.v1.FrameService"


def level_of(data, frame):
    """0..1 loudness of the PCM input (peak), or a sawtooth of the frame number if empty."""
    n = len(data) // 2
    if n == 0:
        return (frame % 30) / 29.0
    peak = max(abs(v) for v in struct.unpack(f"<{n}h", data[: n * 2]))
    return min(1.0, peak / 32767.0)


def render(width, height, tint, level):
    """RGB24 image: tinted background, a white bar of height `level` in the middle third."""
    bg = bytes(tint)
    row_bg = bg * width
    x0, x1 = width // 3, width - width // 3
    row_bar = bg * x0 + b"\xff\xff\xff" * (x1 - x0) + bg * (width - x1)
    bar_rows = int(round(level * height))
    rows = [row_bar if y >= height - bar_rows else row_bg for y in range(height)]
    return b"".join(rows)


class Backend:
    def __init__(self, args, port):
        self.args = args
        self.models = [m for m in args.models.split(",") if m]
        self.tint = ((port * 73) % 200 + 30, (port * 151) % 200 + 30, (port * 29) % 200 + 30)
        self.gpu = threading.Lock()  # one frame at a time
        self.ready = threading.Event()
        self.rng = random.Random(port)
        self.status_changed = threading.Condition()
        self.batches = []  # frames per RenderBatch call, reported at exit

    def load(self):
        time.sleep(self.args.load_ms / 1000.0)
        with self.status_changed:
            self.ready.set()
            self.status_changed.notify_all()
        print(f"py_frame_server models loaded: {','.join(self.models)}", file=sys.stderr, flush=True)

    def _render_one(self, req, context):
        if req.model not in self.models:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown model {req.model!r}")
        if not self.ready.is_set():
            context.abort(grpc.StatusCode.UNAVAILABLE, "model loading")
        with self.gpu:
            t0 = time.monotonic()
            if self.args.infer_ms > 0:
                time.sleep(self.args.infer_ms / 1000.0)
            fail = self.rng.random() < self.args.fail_rate
            img = render(self.args.width, self.args.height, self.tint, level_of(req.input, req.frame))
            us = int((time.monotonic() - t0) * 1e6)
        if fail:
            context.abort(grpc.StatusCode.INTERNAL, "injected failure (--fail-rate)")
        return frames.RenderReply(
            frame=req.frame,
            image=img,
            format=frames.IMAGE_FORMAT_RGB24,
            width=self.args.width,
            height=self.args.height,
            inference_us=us,
        )

    # FrameService
    def Render(self, req, context):
        return self._render_one(req, context)

    def RenderBatch(self, req, context):
        if self.args.no_batch:  # a backend that implements only Render (contract section 1)
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        self.batches.append(len(req.requests))
        return frames.RenderBatchReply(replies=[self._render_one(r, context) for r in req.requests])

    def ListModels(self, req, context):
        ready = self.ready.is_set()
        return frames.ListModelsReply(
            models=[
                frames.ModelInfo(name=m, ready=ready, width=self.args.width, height=self.args.height)
                for m in self.models
            ]
        )

    # Health
    def _status(self, service):
        if service not in ("", FRAME_SERVICE):
            return None
        S = health.HealthCheckResponse
        return S.SERVING if self.ready.is_set() else S.NOT_SERVING

    def Check(self, req, context):
        st = self._status(req.service)
        if st is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return health.HealthCheckResponse(status=st)

    def Watch(self, req, context):
        last = None
        while context.is_active():
            st = self._status(req.service)
            if st is None:
                st = health.HealthCheckResponse.SERVICE_UNKNOWN
            if st != last:
                yield health.HealthCheckResponse(status=st)
                last = st
            with self.status_changed:
                self.status_changed.wait(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--models", default="sanders")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--infer-ms", type=float, default=0.0)
    ap.add_argument("--load-ms", type=float, default=0.0)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--no-batch", action="store_true", help="answer RenderBatch UNIMPLEMENTED")
    ap.add_argument("--tls", default="", help="CERT,KEY[,CLIENT_CA] (PEM files)")
    args = ap.parse_args()
    if not (0 <= args.fail_rate <= 1) or args.width <= 0 or args.height <= 0:
        ap.error("bad --fail-rate/--width/--height")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    if args.tls:
        files = args.tls.split(",")
        if len(files) not in (2, 3):
            ap.error("--tls CERT,KEY[,CLIENT_CA]")
        pems = [Path(f).read_bytes() for f in files]
        creds = grpc.ssl_server_credentials(
            [(pems[1], pems[0])],
            root_certificates=pems[2] if len(pems) == 3 else None,
            require_client_auth=len(pems) == 3,
        )
        port = server.add_secure_port(f"{args.host}:{args.port}", creds)
    else:
        port = server.add_insecure_port(f"{args.host}:{args.port}")
    if port == 0:
        print(f"py_frame_server: cannot bind {args.host}:{args.port}", file=sys.stderr)
        return 1
    backend = Backend(args, port)
    pb.frames_pb2_grpc.add_FrameServiceServicer_to_server(backend, server)
    pb.health_pb2_grpc.add_HealthServicer_to_server(backend, server)
    server.start()
    print(f"py_frame_server listening on {args.host}:{port}", file=sys.stderr, flush=True)
    threading.Thread(target=backend.load, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop(grace=2).wait()
    print(f"py_frame_server stopped; RenderBatch sizes {backend.batches}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
