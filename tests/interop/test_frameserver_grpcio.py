"""frameserver against the official python3-grpcio client: the calls, the image formats,
and every status code of the contract (docs/protocol.md, issue 2 section 2)."""

import re
import time
import grpc
import pytest

import fgtest

RGB24_BYTES = 128 * 64 * 3  # 24576, the frame size of the original system


def stub_for(pb, ch):
    return pb.frames_pb2_grpc.FrameServiceStub(ch)


def render_req(pb, frame=1, model="sanders", **kw):
    return pb.frames_pb2.RenderRequest(model=model, frame=frame, **kw)


def code_of(fn):
    """The gRPC status code a call ends with (OK when it returns)."""
    try:
        fn()
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_render_default_rgb24(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "5")
    fp = pb.frames_pb2
    with grpc.insecure_channel(addr) as ch:
        r = stub_for(pb, ch).Render(render_req(pb, frame=4242, input=fgtest.pcm_tone(), session="s1"), timeout=5)
    assert r.frame == 4242
    assert (r.format, r.width, r.height) == (fp.IMAGE_FORMAT_RGB24, 128, 64)
    assert len(r.image) == RGB24_BYTES
    # Model time is simulated with a timer of --infer-ms.
    assert 4000 <= r.inference_us < 200000, r.inference_us
    assert len(set(r.image)) > 2, "the picture is really drawn, not a blank buffer"


@pytest.mark.parametrize(
    "flags, fmt, size",
    [
        (("--format", "rgba32"), "IMAGE_FORMAT_RGBA32", 128 * 64 * 4),
        (("--format", "rgb24", "--width", "64", "--height", "32"), "IMAGE_FORMAT_RGB24", 64 * 32 * 3),
        (("--format", "jpeg"), "IMAGE_FORMAT_JPEG", None),
    ],
)
def test_render_formats(procs, pb, flags, fmt, size):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1", *flags)
    fp = pb.frames_pb2
    with grpc.insecure_channel(addr) as ch:
        r = stub_for(pb, ch).Render(render_req(pb, frame=9), timeout=5)
    assert r.format == fp.ImageFormat.Value(fmt)
    assert r.frame == 9
    if size is not None:
        assert len(r.image) == size
        assert (r.width * r.height * (4 if fmt.endswith("RGBA32") else 3)) == size
    else:
        assert (r.width, r.height) == (128, 64)
        assert r.image[:2] == b"\xff\xd8", "JPEG SOI marker"
        assert r.image[-2:] == b"\xff\xd9", "JPEG EOI marker"
        assert 100 < len(r.image) < RGB24_BYTES


def test_renderer_follows_input_and_port(procs, pb):
    """Same request, same picture; louder input, different mouth; other port, other tint."""
    _, a = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    _, b = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    loud, silent = fgtest.pcm_tone(amplitude=30000), fgtest.pcm_tone(amplitude=0)
    with grpc.insecure_channel(a) as ca, grpc.insecure_channel(b) as cb:
        sa, sb = stub_for(pb, ca), stub_for(pb, cb)
        a_loud1 = sa.Render(render_req(pb, frame=1, input=loud), timeout=5).image
        a_loud2 = sa.Render(render_req(pb, frame=1, input=loud), timeout=5).image
        a_silent = sa.Render(render_req(pb, frame=1, input=silent), timeout=5).image
        b_loud = sb.Render(render_req(pb, frame=1, input=loud), timeout=5).image
    assert a_loud1 == a_loud2
    assert a_loud1 != a_silent
    assert a_loud1 != b_loud


def test_render_batch_order_and_time(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "20", "--batch-item-ms", "10")
    frames = [11, 3, 7, 42]
    req = pb.frames_pb2.RenderBatchRequest(requests=[render_req(pb, frame=f) for f in frames])
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        stub.ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5)  # connection warm
        t0 = time.monotonic()
        rep = stub.RenderBatch(req, timeout=5)
        took = time.monotonic() - t0
    assert [r.frame for r in rep.replies] == frames
    assert all(len(r.image) == RGB24_BYTES for r in rep.replies)
    # one --infer-ms plus --batch-item-ms per additional frame
    assert 0.048 <= took < 1.0, took


def test_list_models(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--models", "sanders,obama,lincoln", "--width", "96", "--height", "48")
    with grpc.insecure_channel(addr) as ch:
        models = stub_for(pb, ch).ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5).models
    assert sorted((m.name, m.ready, m.width, m.height) for m in models) == [
        ("lincoln", True, 96, 48),
        ("obama", True, 96, 48),
        ("sanders", True, 96, 48),
    ]


def test_cacheable_declared_and_frames_depend_on_input_only(procs, pb):
    """--cacheable: ListModels says so, and two backends (two ports, two tints otherwise) draw
    the same bytes for the same (model, input) whatever the frame number."""
    _, a = fgtest.serving_frameserver(procs, "--cacheable", "--infer-ms", "1")
    _, b = fgtest.serving_frameserver(procs, "--cacheable", "--infer-ms", "1")
    _, plain = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    pcm = fgtest.pcm_tone(800, amplitude=9000)
    images = []
    for addr, frame in ((a, 1), (b, 500), (plain, 1)):
        with grpc.insecure_channel(addr) as ch:
            stub = stub_for(pb, ch)
            models = stub.ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5).models
            assert [m.cacheable for m in models] == [addr != plain]
            images.append(stub.Render(render_req(pb, frame=frame, input=pcm), timeout=5).image)
    assert images[0] == images[1]
    assert images[0] != images[2]


def test_unknown_model_not_found(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--models", "sanders,obama", "--infer-ms", "1")
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        assert code_of(lambda: stub.Render(render_req(pb, model="nobody"), timeout=5)) == grpc.StatusCode.NOT_FOUND
        assert stub.Render(render_req(pb, model="obama", frame=2), timeout=5).frame == 2


def test_health_service_names(procs, pb):
    _, addr = fgtest.serving_frameserver(procs)
    assert fgtest.health_status(addr, "") == "SERVING"
    assert fgtest.health_status(addr, "framegate.v1.FrameService") == "SERVING"
    assert fgtest.health_status(addr, "no.such.Service") == "NOT_FOUND"


def test_unavailable_while_loading_then_serving(procs, pb):
    t_start = time.monotonic()
    p, addr = fgtest.start_frameserver(procs, "--load-ms", "1200", "--models", "sanders,obama", "--infer-ms", "1")
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        assert fgtest.health_status(addr) == "NOT_SERVING"
        assert code_of(lambda: stub.Render(render_req(pb), timeout=5)) == grpc.StatusCode.UNAVAILABLE
        models = stub.ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5).models
        assert sorted((m.name, m.ready) for m in models) == [("obama", False), ("sanders", False)]
        fgtest.wait_health(addr, timeout=10)
        loaded_after = time.monotonic() - t_start
        assert 1.0 <= loaded_after < 5.0, loaded_after
        assert stub.Render(render_req(pb, frame=5), timeout=5).frame == 5
        models = stub.ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5).models
        assert all(m.ready for m in models)
    # one log line per model loaded, with its load time
    log = p.log()
    for name in ("sanders", "obama"):
        assert re.search(rf"{name}.*\d+(\.\d+)? ?(ms|s)\b", log), log


def test_health_watch(procs, pb):
    _, addr = fgtest.start_frameserver(procs, "--load-ms", "600")
    hp = pb.health_pb2
    with grpc.insecure_channel(addr) as ch:
        stream = pb.health_pb2_grpc.HealthStub(ch).Watch(hp.HealthCheckRequest(service=""), timeout=5)
        try:
            first = next(stream)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                pytest.skip("frameserver does not implement Health/Watch")
            raise
        assert first.status == hp.HealthCheckResponse.NOT_SERVING
        t0 = time.monotonic()
        second = next(stream)
        assert second.status == hp.HealthCheckResponse.SERVING
        assert time.monotonic() - t0 < 3
        stream.cancel()


def test_deadline_exceeded(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "300")
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        slow = stub.Render.future(render_req(pb, frame=1), timeout=5)
        time.sleep(0.02)
        assert code_of(lambda: stub.Render(render_req(pb, frame=2), timeout=0.1)) == grpc.StatusCode.DEADLINE_EXCEEDED
        assert slow.result().frame == 1
        assert stub.Render(render_req(pb, frame=3), timeout=5).frame == 3


def test_queue_full_resource_exhausted(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "250", "--queue-max", "2")
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        stub.ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5)
        t0 = time.monotonic()
        futs = [stub.Render.future(render_req(pb, frame=i), timeout=10) for i in range(8)]
        done_at = {}
        for f in futs:
            f.add_done_callback(lambda f, t0=t0: done_at.__setitem__(id(f), time.monotonic() - t0))
        for f in futs:
            f.exception(timeout=10)  # waits until the call ended
        codes = [f.code() for f in futs]
        ok = [f for f in futs if f.code() == grpc.StatusCode.OK]
        busy = [f for f in futs if f.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert len(ok) + len(busy) == 8, codes
        # --queue-max 2 queued frames (the one on the "GPU" may or may not count)
        assert 2 <= len(ok) <= 3, codes
        # a full queue answers at once, it does not wait for the GPU
        assert max(done_at[id(f)] for f in busy) < 0.2
        # and accepts again once drained
        assert stub.Render(render_req(pb, frame=99), timeout=5).frame == 99


def test_fail_rate_internal(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--fail-rate", "1")
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        for i in range(3):
            assert code_of(lambda: stub.Render(render_req(pb, frame=i), timeout=5)) == grpc.StatusCode.INTERNAL
    assert fgtest.health_status(addr) == "SERVING"


def test_fail_rate_half(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--fail-rate", "0.5")
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        codes = [code_of(lambda: stub.Render(render_req(pb, frame=i), timeout=5)) for i in range(80)]
    internal = codes.count(grpc.StatusCode.INTERNAL)
    assert codes.count(grpc.StatusCode.OK) + internal == 80
    assert 20 <= internal <= 60, internal


def test_fail_load(procs, pb):
    _, addr = fgtest.start_frameserver(procs, "--load-ms", "100", "--fail-load")
    time.sleep(0.6)
    assert fgtest.health_status(addr) == "NOT_SERVING"
    with grpc.insecure_channel(addr) as ch:
        stub = stub_for(pb, ch)
        assert code_of(lambda: stub.Render(render_req(pb), timeout=5)) == grpc.StatusCode.UNAVAILABLE
        models = stub.ListModels(pb.frames_pb2.ListModelsRequest(), timeout=5).models
        assert [(m.name, m.ready) for m in models] == [("sanders", False)]
