"""Unit tests of the backend kit, in process: the frame queue (batching, deadlines, admission,
drain, model errors), the ORCA encoder read back by protobuf, the load meter, and the gRPC
server's states (health while loading, serving, draining) through grpcio calls."""

import base64
import struct
import threading
import time

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import fgtest
from framegate_backend import InvalidInput, Model, OutOfRange, orca
from framegate_backend.batcher import FrameQueue, LoadMeter, Rejected
from framegate_backend.server import Options, serve
from h2grpc import H2Grpc

SC = grpc.StatusCode
IMG = 12  # bytes per image of the queue tests' model


def req(pb, frame, data=b"", model="sanders"):
    return pb.frames_pb2.RenderRequest(model=model, frame=frame, input=data)


class Recorder:
    """infer() for the queue tests: records each pass's frame numbers; can hold the worker in
    a pass until release() so that jobs pile up behind it."""

    def __init__(self, error=None):
        self.passes = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.error = error

    def hold(self):
        self.gate.clear()

    def release(self):
        self.gate.set()

    def __call__(self, batch):
        self.passes.append([r.frame for r in batch])
        self.entered.set()
        assert self.gate.wait(10)
        if self.error:
            raise self.error
        return [struct.pack("<I", r.frame) * 3 for r in batch]


class Results:
    """done() callbacks of a queue test, by job label."""

    def __init__(self):
        self.got = {}
        self.cond = threading.Condition()

    def cb(self, label):
        def done(code, message, images, infer_us):
            with self.cond:
                assert label not in self.got, f"job {label} answered twice"
                self.got[label] = (code, message, images, infer_us)
                self.cond.notify_all()

        return done

    def wait(self, n, timeout=5):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, timeout), f"only {self.got.keys()}"
        return self.got


@pytest.fixture
def queue_factory():
    made = []

    def make(infer, **kw):
        q = FrameQueue(infer, image_size=IMG, **kw)
        q.start()
        made.append(q)
        return q

    yield make
    for q in made:
        assert q.drain(5), "queue workers did not stop"


def busy_worker(q, rec, res, pb, frame=0):
    """Put the (single) worker in a pass that lasts until rec.release()."""
    rec.hold()
    q.submit([req(pb, frame)], None, res.cb("first"))
    assert rec.entered.wait(5)


def test_singles_that_arrive_together_share_a_pass(queue_factory, pb):
    rec, res = Recorder(), Results()
    q = queue_factory(rec, max_batch=4, queue_max=64)
    busy_worker(q, rec, res, pb)
    for i in range(1, 7):
        q.submit([req(pb, i)], None, res.cb(i))
    rec.release()
    got = res.wait(7)
    assert rec.passes == [[0], [1, 2, 3, 4], [5, 6]]
    for i in range(1, 7):
        code, _, images, infer_us = got[i]
        assert code == SC.OK and images == [struct.pack("<I", i) * 3]
        assert infer_us >= 0


def test_workers_run_passes_at_the_same_time(queue_factory, pb):
    rec, res = Recorder(), Results()
    q = queue_factory(rec, workers=2, max_batch=1)
    rec.hold()
    q.submit([req(pb, 1)], None, res.cb(1))
    q.submit([req(pb, 2)], None, res.cb(2))
    deadline = time.monotonic() + 5
    while len(rec.passes) < 2:  # both passes entered while neither may finish
        assert time.monotonic() < deadline, f"only {rec.passes} running: the workers are serialised"
        time.sleep(0.005)
    assert q.stats().running == 2
    rec.release()
    got = res.wait(2)
    assert got[1][0] == got[2][0] == SC.OK


def test_batch_job_keeps_its_order_and_splits_past_max_batch(queue_factory, pb):
    rec, res = Recorder(), Results()
    q = queue_factory(rec, max_batch=4)
    busy_worker(q, rec, res, pb)
    q.submit([req(pb, 100 + i) for i in range(10)], None, res.cb("big"))
    q.submit([req(pb, 7)], None, res.cb("single"))
    rec.release()
    got = res.wait(3)
    # the 10-frame job runs alone in passes of at most 4, the single after it
    assert rec.passes[1:] == [[100, 101, 102, 103], [104, 105, 106, 107], [108, 109], [7]]
    code, _, images, _ = got["big"]
    assert code == SC.OK and images == [struct.pack("<I", 100 + i) * 3 for i in range(10)]


def test_job_past_its_deadline_is_not_run(queue_factory, pb):
    rec, res = Recorder(), Results()
    q = queue_factory(rec, max_batch=8)
    busy_worker(q, rec, res, pb)
    q.submit([req(pb, 1)], time.monotonic() + 0.05, res.cb("late"))
    q.submit([req(pb, 2)], time.monotonic() + 30, res.cb("in-time"))
    time.sleep(0.15)
    rec.release()
    got = res.wait(3)
    assert got["late"][0] == SC.DEADLINE_EXCEEDED and got["late"][2] is None
    assert got["in-time"][0] == SC.OK
    assert rec.passes == [[0], [2]], "the expired frame reached the model"


def test_cancelled_job_is_not_run(queue_factory, pb):
    rec, res = Recorder(), Results()
    q = queue_factory(rec)
    busy_worker(q, rec, res, pb)
    job = q.submit([req(pb, 1)], None, res.cb("gone"))
    q.cancel(job)
    rec.release()
    got = res.wait(2)
    assert got["gone"][0] == SC.CANCELLED
    assert rec.passes == [[0]]


def test_queue_full_is_resource_exhausted(queue_factory, pb):
    rec, res = Recorder(), Results()
    q = queue_factory(rec, max_batch=8, queue_max=3)
    busy_worker(q, rec, res, pb)
    for i in range(1, 4):
        q.submit([req(pb, i)], None, res.cb(i))
    with pytest.raises(Rejected) as e:
        q.submit([req(pb, 4)], None, res.cb(4))
    assert e.value.code == SC.RESOURCE_EXHAUSTED and "queue full" in e.value.message
    assert q.stats().queued == 3
    rec.release()
    res.wait(4)
    assert 4 not in res.got
    # room again once the model took them; a batch bigger than queue_max fits an empty queue
    q.submit([req(pb, 10 + i) for i in range(5)], None, res.cb("batch"))
    assert res.wait(5)["batch"][0] == SC.OK


def test_drain_runs_what_is_queued_and_refuses_new_work(pb):
    rec, res = Recorder(), Results()
    q = FrameQueue(rec, image_size=IMG, max_batch=2)
    q.start()
    busy_worker(q, rec, res, pb)
    for i in range(1, 4):
        q.submit([req(pb, i)], None, res.cb(i))
    drained = []
    t = threading.Thread(target=lambda: drained.append(q.drain(10)))
    t.start()
    deadline = time.monotonic() + 5
    while True:
        try:
            q.submit([req(pb, 9)], None, res.cb(9))
        except Rejected as e:
            assert e.code == SC.UNAVAILABLE and e.message == "shutting down"
            break
        assert time.monotonic() < deadline, "drain never closed the queue"
    rec.release()
    t.join(10)
    assert drained == [True]
    got = res.wait(4)
    assert all(got[i][0] == SC.OK for i in ("first", 1, 2, 3)) and 9 not in got
    assert rec.passes == [[0], [1, 2], [3]]


@pytest.mark.parametrize(
    "error, code",
    [
        (InvalidInput("bad pcm"), SC.INVALID_ARGUMENT),
        (OutOfRange("too long"), SC.OUT_OF_RANGE),
        (RuntimeError("cuda fell over"), SC.INTERNAL),
    ],
)
def test_model_exceptions_become_statuses(queue_factory, pb, error, code):
    rec, res = Recorder(error=error), Results()
    q = queue_factory(rec)
    q.submit([req(pb, 1), req(pb, 2)], None, res.cb("b"))
    got = res.wait(1)["b"]
    assert got[0] == code and str(error) in got[1] and got[2] is None
    assert q.stats().errors == (2 if code == SC.INTERNAL else 0)


@pytest.mark.parametrize(
    "bad, why",
    [
        (lambda b: [b"x" * IMG], "1 images for 2 requests"),
        (lambda b: [b"x" * IMG, b"y" * 5], "5 bytes"),
        (lambda b: [b"x" * IMG, "text"], "not bytes"),
        (lambda b: b"x" * IMG, "returned bytes"),
    ],
)
def test_wrong_infer_results_are_internal(queue_factory, pb, bad, why):
    res = Results()
    q = queue_factory(bad)
    q.submit([req(pb, 1), req(pb, 2)], None, res.cb("b"))
    code, message, images, _ = res.wait(1)["b"]
    assert code == SC.INTERNAL and why in message and images is None


# ----------------------------------------------------------------------------- ORCA


def orca_message_class():
    """xds.data.orca.v3.OrcaLoadReport's scalar fields, declared with protobuf's own descriptor
    API from the upstream numbers (cncf/xds orca_load_report.proto), to read our bytes back."""
    f = descriptor_pb2.FileDescriptorProto(name="fgtest_orca.proto", package="xds.data.orca.v3", syntax="proto3")
    m = f.message_type.add(name="OrcaLoadReport")
    T = descriptor_pb2.FieldDescriptorProto
    for name, number, typ in (
        ("cpu_utilization", 1, T.TYPE_DOUBLE),
        ("mem_utilization", 2, T.TYPE_DOUBLE),
        ("rps", 3, T.TYPE_UINT64),
        ("rps_fractional", 6, T.TYPE_DOUBLE),
        ("eps", 7, T.TYPE_DOUBLE),
        ("application_utilization", 9, T.TYPE_DOUBLE),
    ):
        m.field.add(name=name, number=number, type=typ, label=T.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    desc = pool.FindMessageTypeByName("xds.data.orca.v3.OrcaLoadReport")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def test_orca_report_parses_back_as_orca_load_report():
    Report = orca_message_class()
    raw = orca.encode(cpu_utilization=0.375, application_utilization=1.25, rps_fractional=61.5, eps=0.5,
                      mem_utilization=0.125)
    r = Report.FromString(raw)
    assert (r.cpu_utilization, r.application_utilization, r.rps_fractional, r.eps, r.mem_utilization) == (
        0.375, 1.25, 61.5, 0.5, 0.125)
    assert r.rps == 0
    # byte-identical to protobuf's own serialization (field order, zero fields left out)
    assert raw == r.SerializeToString()
    only = orca.encode(application_utilization=0.5)
    assert only == Report(application_utilization=0.5).SerializeToString() and len(only) == 9
    assert orca.encode() == b""
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError):
            orca.encode(cpu_utilization=bad)


def test_load_meter_figures(pb):
    now = [100.0]
    cpu = [5.0]
    clock = lambda: now[0]  # noqa: E731

    def infer(batch):
        now[0] += 0.25  # each pass takes 0.25 s of (test) time
        cpu[0] += 0.125
        return [b"z" * IMG for _ in batch]

    q = FrameQueue(infer, image_size=IMG, max_batch=1, queue_max=10, clock=clock)
    meter = LoadMeter(q, clock=clock, cpu_time=lambda: cpu[0], ncpu=2)
    res = Results()
    for i in range(4):
        q.submit([req(pb, i)], None, res.cb(i))
    q.start()
    res.wait(4)
    assert now[0] == 101.0
    r = meter.report()
    assert r["rps_fractional"] == pytest.approx(4.0)
    assert r["application_utilization"] == pytest.approx(1.0)  # the worker busy all second, queue empty
    assert r["cpu_utilization"] == pytest.approx(0.25)  # 0.5 CPU-s over 1 s on 2 CPUs
    assert r["eps"] == 0.0
    assert q.drain(5)


# ----------------------------------------------------------------------------- the server in process


class GatedModel(Model):
    """load() waits for a test's Event; images are the frame number repeated."""

    names = ("sanders", "obama")
    width, height = 4, 2
    cacheable = True

    def __init__(self, device="cpu"):
        super().__init__(device)
        self.gate = threading.Event()
        self.hold = threading.Event()
        self.hold.set()

    def load(self):
        assert self.gate.wait(20)

    def validate(self, request):
        if request.input == b"bug!":
            raise KeyError("a bug in validate")
        if len(request.input) % 2:
            raise InvalidInput("odd")
        if len(request.input) > 8:
            raise OutOfRange("long")

    def infer(self, batch):
        assert self.hold.wait(20)
        return [bytes([r.frame % 256]) * 24 for r in batch]


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


@pytest.fixture
def inproc(pb):
    """A kit server on a thread of this process (no signals): (model, addr, channel, stop)."""
    model = GatedModel()
    started = threading.Event()
    box = {}

    def ready(backend, port):
        box["backend"], box["port"] = backend, port
        started.set()

    rc = []
    t = threading.Thread(
        target=lambda: rc.append(serve(model, Options(port=0, max_batch=4, queue_max=3), ready, signals=False))
    )
    t.start()
    assert started.wait(10)
    addr = f"127.0.0.1:{box['port']}"
    ch = grpc.insecure_channel(addr)

    def stop():
        box["backend"].request_stop()
        t.join(15)
        assert not t.is_alive() and rc == [0]

    yield model, addr, ch, stop, box["backend"]
    ch.close()
    model.gate.set()
    model.hold.set()
    if t.is_alive():
        stop()


def test_server_states_loading_serving_draining(inproc, pb):
    model, addr, ch, stop, backend = inproc
    fr, hl = pb.frames_pb2, pb.health_pb2
    fs = pb.frames_pb2_grpc.FrameServiceStub(ch)
    health = pb.health_pb2_grpc.HealthStub(ch)
    S = hl.HealthCheckResponse
    watch = health.Watch(hl.HealthCheckRequest(service="framegate.v1.FrameService"), timeout=20)
    assert next(watch).status == S.NOT_SERVING

    # loading: NOT_SERVING on both names, frames UNAVAILABLE, models listed as not ready
    for service in ("", "framegate.v1.FrameService"):
        assert health.Check(hl.HealthCheckRequest(service=service), timeout=2).status == S.NOT_SERVING
    with pytest.raises(grpc.RpcError) as e:
        fs.Render(req(pb, 1), timeout=2)
    assert e.value.code() == SC.UNAVAILABLE and e.value.details() == "model loading"
    lm = fs.ListModels(fr.ListModelsRequest(), timeout=2)
    assert [(m.name, m.ready, m.width, m.height, m.cacheable) for m in lm.models] == [
        ("sanders", False, 4, 2, True), ("obama", False, 4, 2, True)]

    model.gate.set()
    assert next(watch).status == S.SERVING
    assert fgtest.health_status(addr) == "SERVING"
    r, call = fs.Render.with_call(req(pb, 7, b"\x01\x00"), timeout=2)
    assert (r.frame, r.image, r.format, r.width, r.height) == (7, bytes([7]) * 24, fr.IMAGE_FORMAT_RGB24, 4, 2)
    # The ORCA trailer, read off the wire: grpcio's client consumes endpoint-load-metrics-bin
    # itself (gRPC core parses it for its own load balancing) and never shows it to Python.
    Report = orca_message_class()
    with H2Grpc(addr) as h2c:
        ok = h2c.call(fgtest.grpc_frame(req(pb, 8).SerializeToString()))
        bad = h2c.call(fgtest.grpc_frame(req(pb, 8, model="nobody").SerializeToString()))
    assert ok.grpc_status == 0 and bad.grpc_status == SC.NOT_FOUND.value[0]
    for st in (ok, bad):
        raw = {**st.headers, **st.trailers}["endpoint-load-metrics-bin"]
        load = Report.FromString(base64.b64decode(raw + "=" * (-len(raw) % 4)))
        assert load.application_utilization >= 0 and load.cpu_utilization > 0, load
    assert all(m.ready for m in fs.ListModels(fr.ListModelsRequest(), timeout=2).models)

    b = fs.RenderBatch(fr.RenderBatchRequest(requests=[req(pb, 3), req(pb, 4, model="obama"), req(pb, 5)]), timeout=2)
    assert [(x.frame, x.image) for x in b.replies] == [(f, bytes([f]) * 24) for f in (3, 4, 5)]
    assert len(fs.RenderBatch(fr.RenderBatchRequest(), timeout=2).replies) == 0
    with pytest.raises(grpc.RpcError) as e:  # more frames than --queue-max could ever hold
        fs.RenderBatch(fr.RenderBatchRequest(requests=[req(pb, i) for i in range(4)]), timeout=2)
    assert e.value.code() == SC.OUT_OF_RANGE and "--queue-max" in e.value.details()

    # the contract's request-fault statuses; one bad frame fails its whole batch
    for bad, code in (
        (req(pb, 1, model="nobody"), SC.NOT_FOUND),
        (req(pb, 1, b"\x01"), SC.INVALID_ARGUMENT),
        (req(pb, 1, b"\x00" * 10), SC.OUT_OF_RANGE),
        (req(pb, 1, b"bug!"), SC.INTERNAL),
    ):
        with pytest.raises(grpc.RpcError) as e:
            fs.Render(bad, timeout=2)
        assert e.value.code() == code, bad
        with pytest.raises(grpc.RpcError) as e:
            fs.RenderBatch(fr.RenderBatchRequest(requests=[req(pb, 2), bad]), timeout=2)
        assert e.value.code() == code
    with pytest.raises(grpc.RpcError) as e:
        health.Check(hl.HealthCheckRequest(service="other"), timeout=2)
    assert e.value.code() == SC.NOT_FOUND

    # queue full over gRPC: hold the model, 1 running + 3 queued (--queue-max 3), then refused
    model.hold.clear()
    futs = [fs.Render.future(req(pb, 20), timeout=10)]
    wait_until(lambda: backend.queue.stats().running == 1)
    futs += [fs.Render.future(req(pb, 21 + i), timeout=10) for i in range(3)]
    wait_until(lambda: backend.queue.stats().queued == 3)
    with pytest.raises(grpc.RpcError) as e:
        fs.Render(req(pb, 30), timeout=2)
    assert e.value.code() == SC.RESOURCE_EXHAUSTED

    # drain while frames are queued: health flips, new work refused, queued work answered
    stop_thread = threading.Thread(target=stop)
    stop_thread.start()
    assert next(watch).status == S.NOT_SERVING
    with pytest.raises(grpc.RpcError) as e:
        fs.Render(req(pb, 40), timeout=2)
    assert e.value.code() == SC.UNAVAILABLE and e.value.details() == "shutting down"
    model.hold.set()
    assert sorted(f.result().frame for f in futs) == [20, 21, 22, 23]
    stop_thread.join(15)
    assert not stop_thread.is_alive()
