"""Concurrency and throughput: 100 concurrent streams, every call answers correctly, and
at --infer-ms 17 the simulated GPU delivers 1000/17 frames/s within 3 %."""

import asyncio
import time

import grpc

import fgtest

CONCURRENCY = 100
WARMUP_S = 0.5
MEASURE_S = 3.0


async def closed_loop(pb, addr, concurrency, warmup, measure):
    """`concurrency` workers each keep one Render in flight; returns (completion times, bad replies)."""
    fp = pb.frames_pb2
    done, bad = [], []
    stop_at = time.monotonic() + warmup + measure

    async def worker(stub, wid):
        n = 0
        while time.monotonic() < stop_at:
            frame = wid * 100000 + n
            n += 1
            try:
                r = await stub.Render(fp.RenderRequest(model="sanders", frame=frame), timeout=10)
            except grpc.aio.AioRpcError as e:
                bad.append(e.code())
                continue
            if r.frame != frame or len(r.image) != 24576:
                bad.append((frame, r.frame, len(r.image)))
            done.append(time.monotonic())

    async with grpc.aio.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        await stub.ListModels(fp.ListModelsRequest(), timeout=5)
        t0 = time.monotonic()
        await asyncio.gather(*(worker(stub, w) for w in range(concurrency)))
    return t0, done, bad


def test_throughput_at_infer_ms_17(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "17", "--batch-item-ms", "2")
    t0, done, bad = asyncio.run(closed_loop(pb, addr, CONCURRENCY, WARMUP_S, MEASURE_S))
    assert not bad, bad[:5]
    window = [t for t in done if t0 + WARMUP_S <= t < t0 + WARMUP_S + MEASURE_S]
    rate = len(window) / MEASURE_S
    expected = 1000 / 17
    print(f"--infer-ms 17, {CONCURRENCY} concurrent: {rate:.2f} frames/s (ideal {expected:.2f})")
    assert abs(rate - expected) <= 0.03 * expected, f"{rate:.2f} frames/s, want {expected:.2f} +- 3%"
    assert p.alive()


def test_100_concurrent_all_correct(procs, pb):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    t0, done, bad = asyncio.run(closed_loop(pb, addr, CONCURRENCY, 0.0, 1.5))
    assert not bad, bad[:5]
    assert len(done) >= 500, f"only {len(done)} calls in 1.5 s"
    print(f"grpcio aio, {CONCURRENCY} concurrent, --infer-ms 0: {len(done) / 1.5:.0f} calls/s")
    assert p.alive()
