"""The Python backend kit behind the real framegate (and called directly with grpcio): frames
of the torch model through the proxy, RenderBatch, health while loading, deadlines, queue full
retried on another backend, SIGTERM drain with nothing lost."""

import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest

import fgproxy
import fgtest
from conftest import TEST_MODELS, serving_kit, start_kit
from fgproxy import Client, assert_error, assert_frame, start_framegate, wait_proxy_health

SC = grpc.StatusCode
SCRIPTED = f"{TEST_MODELS}:ScriptedFace"
TONE = fgtest.pcm_tone(800, 20000)
QUIET = fgtest.pcm_tone(800, 3000)


def kit_env(**knobs):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in knobs.items()})
    return env


def passes(proc):
    """Frame numbers of every model pass in a ScriptedFace backend's log, in order."""
    return [[int(f) for f in line.split("=", 1)[1].split(",")] for line in proc.log().splitlines()
            if line.startswith("pass frames=")]


def close_images(a, b):
    """Equal within 1 per channel (the CPU kernels may round differently across batch sizes)."""
    d = np.abs(np.frombuffer(a, np.uint8).astype(np.int16) - np.frombuffer(b, np.uint8))
    return len(a) == len(b) and int(d.max()) <= 1


@pytest.fixture(scope="module")
def torch_pool(request):
    """Two torch-face backends (models sanders, obama) behind one framegate."""
    with fgproxy.module_group(request) as group:
        procs_, addrs = [], []
        for i in range(2):
            p, addr = start_kit(group, "--model", "torch-face", "--names", "sanders,obama", name=f"torch{i}")
            procs_.append(p)
            addrs.append(addr)
        for addr in addrs:
            fgtest.wait_health(addr, timeout=30)
        _, port = start_framegate(group, addrs, "--log-frames", "off")
        wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="both backends healthy")
        yield port, addrs, procs_


def test_torch_frames_through_the_proxy(torch_pool, pb):
    port, addrs, _ = torch_pool
    seen = {}
    with Client(port) as c:
        replies = c.run(40, inflight=4, data=TONE)
        for r in replies:
            assert_frame(r)
            seen.setdefault(r.backend, []).append(r.payload)
        assert set(seen) == set(addrs), "round-robin over both Python backends"
        # the same input renders the same face on either backend (same seeded weights)
        ref = replies[0].payload
        assert all(close_images(r.payload, ref) for r in replies)
        # the image follows the input: a quiet chunk has a smaller mouth, the other avatar
        # another skin
        quiet = c.call(100, 100, data=QUIET)
        obama = c.call(101, 101, model="obama", data=TONE)
        assert_frame(quiet)
        assert_frame(obama)
        assert not close_images(quiet.payload, ref) and not close_images(obama.payload, ref)
        # the contract's request faults come back through the proxy with the backend's status
        assert_error(c.call(102, 102, model="nobody"), fgproxy.NOT_FOUND, 102, 102)
        assert_error(c.call(103, 103, data=b"\x01\x02\x03"), fgproxy.INVALID_ARGUMENT, 103, 103)
        assert_error(c.call(104, 104, data=bytes(64 * 1024 + 2)), 11, 104, 104)  # OUT_OF_RANGE
    _, health = fgproxy.get_health(port)
    assert all(b["healthy"] and b["error_count"] == 0 for b in health["backends"]), health


def test_render_batch_direct(torch_pool, pb):
    _, addrs, _ = torch_pool
    fr = pb.frames_pb2
    inputs = [fgtest.pcm_tone(800, 2500 * (i + 1)) for i in range(8)]
    with grpc.insecure_channel(addrs[0]) as ch:
        fs = pb.frames_pb2_grpc.FrameServiceStub(ch)
        reqs = [fr.RenderRequest(model="sanders", frame=50 + i, input=inputs[i]) for i in range(8)]
        batch = fs.RenderBatch(fr.RenderBatchRequest(requests=reqs), timeout=10)
        assert [r.frame for r in batch.replies] == list(range(50, 58))
        for req, rep in zip(reqs, batch.replies):
            assert (rep.format, rep.width, rep.height, len(rep.image)) == (fr.IMAGE_FORMAT_RGB24, 128, 64, 24576)
            assert rep.inference_us > 0
            single = fs.Render(req, timeout=10)
            assert close_images(single.image, rep.image), f"frame {req.frame}: batch and single differ"
        assert len({r.image for r in batch.replies}) == 8, "different inputs, different faces"
        models = fs.ListModels(fr.ListModelsRequest(), timeout=5).models
        assert [(m.name, m.ready, m.width, m.height, m.cacheable) for m in models] == [
            ("sanders", True, 128, 64, True), ("obama", True, 128, 64, True)]


def test_health_while_loading_then_frames_only_after_serving(procs, pb, tmp_path):
    gate = tmp_path / "loaded"
    kit, addr = start_kit(procs, "--model", SCRIPTED, env=kit_env(FGK_LOAD_GATE=gate))
    _, port = start_framegate(procs, [addr], "--log-frames", "off", "--health-interval-ms", "100")
    hl = pb.health_pb2
    with grpc.insecure_channel(addr) as ch:
        health = pb.health_pb2_grpc.HealthStub(ch)
        watch = health.Watch(hl.HealthCheckRequest(service=""), timeout=30)
        assert next(watch).status == hl.HealthCheckResponse.NOT_SERVING
        assert fgtest.health_status(addr, "framegate.v1.FrameService") == "NOT_SERVING"
        with Client(port) as c:
            for i in range(1, 6):  # spread over several health intervals
                assert_error(c.call(i, i), fgproxy.UNAVAILABLE, i, i, message="no backends available")
                time.sleep(0.1)
            _, h = fgproxy.get_health(port)
            assert not h["backends"][0]["healthy"] and h["backends"][0]["total_requests"] == 0, h
            gate.touch()
            assert next(watch).status == hl.HealthCheckResponse.SERVING
            waited, _ = wait_proxy_health(port, lambda h: h["healthy_count"] == 1, timeout=3, what="healthy")
            for r in c.run(10, inflight=2, first_id=100):
                assert_frame(r)
        watch.cancel()
    # the model saw exactly the frames sent after SERVING
    assert sorted(f for p in passes(kit) for f in p) == list(range(100, 110))
    assert kit.stop() == 0


def test_deadline_passed_is_not_run(procs, pb):
    kit, addr = serving_kit(procs, "--model", SCRIPTED, "--max-batch", "1", env=kit_env(FGK_INFER_MS=300))
    fr = pb.frames_pb2
    with grpc.insecure_channel(addr) as ch:
        fs = pb.frames_pb2_grpc.FrameServiceStub(ch)
        busy = fs.Render.future(fr.RenderRequest(model="sanders", frame=1), timeout=10)
        time.sleep(0.05)
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            fs.Render(fr.RenderRequest(model="sanders", frame=2), timeout=0.1)
        assert e.value.code() == SC.DEADLINE_EXCEEDED and time.monotonic() - t0 < 0.5
        assert busy.result().frame == 1
        assert fs.Render(fr.RenderRequest(model="sanders", frame=3), timeout=5).frame == 3
    # through the proxy: its per-attempt deadline (grpc-timeout) passes while frame 11 waits
    # (--balance round-robin: both frames go straight to the backend, where 11 waits behind 10)
    _, port = start_framegate(procs, [addr], "--log-frames", "off", "--timeout-ms", "150", "--retries", "0",
                              "--balance", "round-robin")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="healthy")
    with Client(port) as c:
        c.send(10, 10)
        time.sleep(0.05)
        c.send(11, 11)
        got = {r.request_id: r for r in (c.recv(), c.recv())}
    assert_error(got[10], fgproxy.DEADLINE_EXCEEDED)  # ran, but 300 ms > 150 ms
    assert_error(got[11], fgproxy.DEADLINE_EXCEEDED)
    time.sleep(0.5)  # frame 10's pass ends; frame 11 must not follow it
    ran = [f for p in passes(kit) for f in p]
    assert 2 not in ran and 11 not in ran, f"a frame past its deadline reached the model: {ran}"
    assert ran[:2] == [1, 3]
    assert kit.stop() == 0


def test_queue_full_is_retried_on_another_backend(procs, pb):
    slow, slow_addr = serving_kit(procs, "--model", SCRIPTED, "--max-batch", "1", "--queue-max", "1",
                                  env=kit_env(FGK_INFER_MS=2000), name="slow")
    fast, fast_addr = serving_kit(procs, "--model", SCRIPTED, name="fast")
    _, port = start_framegate(procs, [slow_addr, fast_addr], "--log-frames", "off", "--retries", "1",
                              "--timeout-ms", "5000")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="both healthy")
    fr = pb.frames_pb2
    with grpc.insecure_channel(slow_addr) as ch:
        # fill the slow backend behind the proxy's back: one frame in its 2 s pass, one queued
        fs = pb.frames_pb2_grpc.FrameServiceStub(ch)
        held = [fs.Render.future(fr.RenderRequest(model="sanders", frame=900), timeout=10)]
        time.sleep(0.2)
        held.append(fs.Render.future(fr.RenderRequest(model="sanders", frame=901), timeout=10))
        time.sleep(0.2)
        t0 = time.monotonic()
        with Client(port) as c:
            replies = c.run(8, inflight=8)
        assert time.monotonic() - t0 < 1.5, "the run must end while the slow queue is still full"
        for f in held:
            f.cancel()
    for r in replies:
        assert_frame(r)
    retried = [r for r in replies if r.attempts == 2]
    assert retried, "no frame was sent to the full backend first"
    assert all(r.backend == fast_addr for r in replies), [fgproxy.describe(r) for r in replies]
    assert all(f >= 900 for p in passes(slow) for f in p), "the full backend took a proxied frame"
    _, h = fgproxy.get_health(port)
    assert all(b["healthy"] and b["error_count"] == 0 for b in h["backends"]), "busy is not broken"
    assert fast.stop() == 0 and slow.stop() == 0


def test_sigterm_drains_with_nothing_lost(procs, pb):
    env = kit_env(FGK_INFER_MS=20)
    a, a_addr = serving_kit(procs, "--model", SCRIPTED, "--max-batch", "4", env=env, name="a")
    b, b_addr = serving_kit(procs, "--model", SCRIPTED, "--max-batch", "4", env=env, name="b")
    # direct: frames queued at SIGTERM are all rendered and answered, then exit 0
    fr = pb.frames_pb2
    with grpc.insecure_channel(a_addr) as ch:
        fs = pb.frames_pb2_grpc.FrameServiceStub(ch)
        futs = [fs.Render.future(fr.RenderRequest(model="sanders", frame=i), timeout=10) for i in range(12)]
        time.sleep(0.05)
        a.signal(signal.SIGTERM)
        assert sorted(f.result().frame for f in futs) == list(range(12))
    assert a.wait(10) == 0
    assert "framegate-backend stopped" in a.log()

    # through the proxy, under load: one of two backends drains, no request lost or failed
    a2, a2_addr = serving_kit(procs, "--model", SCRIPTED, "--max-batch", "4", env=env, name="a2")
    _, port = start_framegate(procs, [a2_addr, b_addr], "--log-frames", "off", "--retries", "2",
                              "--health-interval-ms", "100")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="both healthy")
    stopped = threading.Event()

    def on_reply(r, i):
        if i == 40:
            a2.signal(signal.SIGTERM)
            stopped.set()

    with Client(port) as c:
        replies = c.run(200, inflight=8, on_reply=on_reply)
    assert stopped.is_set()
    errors = [fgproxy.describe(r) for r in replies if r.type != fgproxy.FRAME]
    assert not errors, errors
    assert {r.backend for r in replies[:40]} == {a2_addr, b_addr}
    assert a2.wait(10) == 0, a2.log()[-2000:]
    assert "draining" in a2.log() and "framegate-backend stopped" in a2.log()
    # after the drain only b rendered
    assert {r.backend for r in replies[-20:]} == {b_addr}
    assert b.stop() == 0
