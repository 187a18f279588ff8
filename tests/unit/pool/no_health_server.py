#!/usr/bin/python3
"""A FrameService backend WITHOUT grpc.health.v1 (python3-grpcio), for the pool's trial-frame path.

    no_health_server.py [--port 0]

Health/Check answers UNIMPLEMENTED (no such service). Render returns a 4x2 RGB24 image echoing
the frame number. Prints "no_health_server listening on 127.0.0.1:PORT" on stderr once bound.
"""

import argparse
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
import fgtest  # noqa: E402  (generates the protobuf modules)

pb = fgtest.protos()


class Frames(pb.frames_pb2_grpc.FrameServiceServicer):
    def Render(self, request, context):
        if request.model != "sanders":
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown model {request.model!r}")
        return pb.frames_pb2.RenderReply(frame=request.frame, image=b"\x10" * 24, format=1,
                                         width=4, height=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    pb.frames_pb2_grpc.add_FrameServiceServicer_to_server(Frames(), server)
    server.start()
    print(f"no_health_server listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=0).wait()


if __name__ == "__main__":
    main()
