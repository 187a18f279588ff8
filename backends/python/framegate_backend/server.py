"""The gRPC server around a Model: framegate.v1.FrameService and grpc.health.v1.Health.

Life of a backend (grpc.aio: one event loop thread for every RPC; the model runs on the
FrameQueue's worker threads, never on the loop):

    LOADING   bound and answering; Health NOT_SERVING; Render/RenderBatch UNAVAILABLE
              "model loading". load() runs on its own thread.
    SERVING   Health SERVING; frames go through the FrameQueue (batcher.py).
    DRAINING  after SIGTERM/SIGINT: Health NOT_SERVING, new frames UNAVAILABLE "shutting down"
              (the proxy retries them elsewhere), every queued frame is still rendered and
              answered, then the server stops and the process exits 0.

If load() raises, the process exits 1 with the error. Every FrameService reply, OK or not,
carries the ORCA load report in the trailer (orca.py, batcher.LoadMeter).
"""

import asyncio
import enum
import logging
import signal
import sys
import threading
import time

import grpc

from . import orca, stubs
from .batcher import FrameQueue, LoadMeter, Rejected
from .model import InvalidInput, OutOfRange

log = logging.getLogger("framegate_backend")

FRAME_SERVICE = "framegate.v1.FrameService"
HEALTH_SERVICES = ("", FRAME_SERVICE)
# Time the gRPC server gives calls still open after the queue drained (none should be).
STOP_GRACE_S = 1.0


class State(enum.Enum):
    LOADING = "loading"
    SERVING = "serving"
    DRAINING = "draining"


class Options:
    """What serve() needs; cli.py fills it from the command line."""

    def __init__(self, host="127.0.0.1", port=0, workers=1, max_batch=8, queue_max=64, drain_s=30.0):
        self.host, self.port = host, port
        self.workers, self.max_batch, self.queue_max = workers, max_batch, queue_max
        self.drain_s = drain_s


class Backend:
    """Both services' handlers and the state they share. All methods run on the event loop."""

    def __init__(self, model, opts, pb):
        self.model = model
        self.pb = pb
        self.fr = pb.frames_pb2
        self.hl = pb.health_pb2
        self.queue = FrameQueue(
            model.infer, model.image_size(), opts.workers, opts.max_batch, opts.queue_max
        )
        self.meter = LoadMeter(self.queue)
        self.state = State.LOADING
        self.state_changed = asyncio.Event()  # set and replaced on every change (Watch)
        self.loop = asyncio.get_running_loop()
        self.stop_requested = asyncio.Event()

    def request_stop(self):
        """Begin the drain, as SIGTERM does; callable from any thread."""
        self.loop.call_soon_threadsafe(self.stop_requested.set)

    def set_state(self, state):
        if state != self.state:
            self.state = state
            self.state_changed.set()
            self.state_changed = asyncio.Event()

    def _trailer(self):
        return ((orca.TRAILER, orca.encode(**self.meter.report())),)

    async def _fail(self, context, code, message):
        await context.abort(code, message, trailing_metadata=self._trailer())

    # -------------------------------------------------------------- FrameService

    async def _render(self, requests, context):
        """Images for `requests` (in order) and the model time, or abort the call."""
        if self.state == State.LOADING:
            await self._fail(context, grpc.StatusCode.UNAVAILABLE, "model loading")
        if self.state == State.DRAINING:
            await self._fail(context, grpc.StatusCode.UNAVAILABLE, "shutting down")
        if len(requests) > self.queue.queue_max:  # could never be queued: bounds a call's work
            await self._fail(
                context, grpc.StatusCode.OUT_OF_RANGE,
                f"batch of {len(requests)} frames, this backend takes at most {self.queue.queue_max} (--queue-max)",
            )
        names = self.model.names
        for req in requests:
            if req.model not in names:
                await self._fail(context, grpc.StatusCode.NOT_FOUND, f"unknown model {req.model!r}")
            try:
                self.model.validate(req)
            except InvalidInput as e:
                await self._fail(context, grpc.StatusCode.INVALID_ARGUMENT, str(e) or "invalid input")
            except OutOfRange as e:
                await self._fail(context, grpc.StatusCode.OUT_OF_RANGE, str(e) or "input out of range")
            except Exception as e:  # a bug in validate() is the backend's fault, as in infer()
                log.exception("validate() failed")
                await self._fail(context, grpc.StatusCode.INTERNAL, f"validate() failed: {type(e).__name__}: {e}")
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            await self._fail(context, grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed on arrival")
        deadline = None if remaining is None else time.monotonic() + remaining

        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def done(code, message, images, infer_us):  # on a worker thread
            loop.call_soon_threadsafe(_resolve, fut, (code, message, images, infer_us))

        try:
            job = self.queue.submit(list(requests), deadline, done)
        except Rejected as e:
            await self._fail(context, e.code, e.message)
        try:
            code, message, images, infer_us = await fut
        finally:
            if not fut.done():  # the call was cancelled (client gone, deadline): do not run it
                self.queue.cancel(job)
        if code != grpc.StatusCode.OK:
            await self._fail(context, code, message)
        context.set_trailing_metadata(self._trailer())
        return images, infer_us

    def _reply(self, req, image, infer_us):
        m = self.model
        return self.fr.RenderReply(
            frame=req.frame, image=bytes(image), format=m.format, width=m.width, height=m.height,
            inference_us=infer_us,
        )

    async def Render(self, request, context):
        images, us = await self._render([request], context)
        return self._reply(request, images[0], us)

    async def RenderBatch(self, request, context):
        reqs = list(request.requests)
        if not reqs:
            context.set_trailing_metadata(self._trailer())
            return self.fr.RenderBatchReply()
        images, us = await self._render(reqs, context)
        return self.fr.RenderBatchReply(replies=[self._reply(r, i, us) for r, i in zip(reqs, images)])

    async def ListModels(self, request, context):
        m = self.model
        ready = self.state == State.SERVING
        context.set_trailing_metadata(self._trailer())
        return self.fr.ListModelsReply(
            models=[
                self.fr.ModelInfo(name=n, ready=ready, width=m.width, height=m.height, cacheable=m.cacheable)
                for n in m.names
            ]
        )

    # -------------------------------------------------------------- Health

    def _health(self, service):
        S = self.hl.HealthCheckResponse
        if service not in HEALTH_SERVICES:
            return S.SERVICE_UNKNOWN
        return S.SERVING if self.state == State.SERVING else S.NOT_SERVING

    async def Check(self, request, context):
        status = self._health(request.service)
        if status == self.hl.HealthCheckResponse.SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return self.hl.HealthCheckResponse(status=status)

    async def Watch(self, request, context):
        last = None
        while True:
            changed = self.state_changed
            status = self._health(request.service)
            if status != last:
                yield self.hl.HealthCheckResponse(status=status)
                last = status
            await changed.wait()


def _resolve(fut, value):
    if not fut.done():
        fut.set_result(value)


async def _serve(model, opts, pb, ready_cb, signals):
    # No SO_REUSEPORT (gRPC's default is on): a second backend on a busy port must fail, not
    # silently share the port with the first.
    server = grpc.aio.server(options=(("grpc.so_reuseport", 0),))
    backend = Backend(model, opts, pb)
    pb.frames_pb2_grpc.add_FrameServiceServicer_to_server(backend, server)
    pb.health_pb2_grpc.add_HealthServicer_to_server(backend, server)
    try:
        port = server.add_insecure_port(f"{opts.host}:{opts.port}")
    except RuntimeError:  # grpcio raises where older releases returned 0
        port = 0
    if port == 0:
        print(f"framegate-backend: cannot bind {opts.host}:{opts.port}", file=sys.stderr, flush=True)
        return 1
    await server.start()
    host = opts.host if ":" not in opts.host else f"[{opts.host}]"
    print(f"framegate-backend listening on {host}:{port}", file=sys.stderr, flush=True)
    if ready_cb:
        ready_cb(backend, port)

    loop = asyncio.get_running_loop()
    stop = backend.stop_requested
    if signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    loaded = loop.create_future()

    def load():  # its own thread: load() may take minutes and must not block the loop
        try:
            t0 = time.monotonic()
            model.load()
            result = (None, time.monotonic() - t0)
        except BaseException as e:  # noqa: B036 -- reported, then the process exits 1
            log.exception("load() failed")
            result = (e, 0.0)
        loop.call_soon_threadsafe(_resolve, loaded, result)

    threading.Thread(target=load, name="model-load", daemon=True).start()
    stop_wait = asyncio.ensure_future(stop.wait())
    await asyncio.wait({loaded, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not loaded.done():  # stopped while loading: nothing queued, nothing to drain
        print("framegate-backend: stopped while loading", file=sys.stderr, flush=True)
        await server.stop(STOP_GRACE_S)
        return 0
    err, took = loaded.result()
    if err is not None:
        print(f"framegate-backend: load() failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        await server.stop(0)
        return 1
    backend.queue.start()
    backend.set_state(State.SERVING)
    print(
        f"framegate-backend SERVING {','.join(model.names)} ({type(model).__name__}, loaded in {took:.2f}s)",
        file=sys.stderr, flush=True,
    )
    await stop_wait

    backend.set_state(State.DRAINING)
    queued = backend.queue.stats().queued + backend.queue.stats().running
    print(f"framegate-backend draining: {queued} frame(s) queued or running", file=sys.stderr, flush=True)
    finished = await loop.run_in_executor(None, backend.queue.drain, opts.drain_s)
    await server.stop(STOP_GRACE_S)
    if not finished:
        print(f"framegate-backend: frames still running after {opts.drain_s}s, exiting", file=sys.stderr, flush=True)
        return 1
    print("framegate-backend stopped", file=sys.stderr, flush=True)
    return 0


def serve(model, opts, ready_cb=None, signals=True):
    """Run the backend until SIGTERM/SIGINT (signals=True, main thread only) or
    backend.request_stop(); returns the process exit status (0 after a clean drain, 1 when
    binding or load() failed). ready_cb(backend, port) is called on the loop once bound."""
    pb = stubs.load()
    return asyncio.run(_serve(model, opts, pb, ready_cb, signals))
