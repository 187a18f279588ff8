"""frameserver's ORCA load report (contract §1): the trailer `endpoint-load-metrics-bin`, read with
a raw HTTP/2 client (python3-h2; python3-grpcio consumes that trailer itself and never shows it
to the application) and decoded here by hand from the xds.data.orca.v3.OrcaLoadReport field
numbers, independently of fg_orca:
application_utilization (9) = GPU jobs queued + running at the reply, rps_fractional (6) = frames
rendered over the last second."""

import base64
import struct
import time

import grpc

import fgtest
import h2grpc

ORCA_KEY = "endpoint-load-metrics-bin"


def varint(b, i):
    n = shift = 0
    while True:
        n |= (b[i] & 0x7F) << shift
        i += 1
        if b[i - 1] < 0x80:
            return n, i
        shift += 7


def decode_orca(raw):
    """OrcaLoadReport bytes -> {field number: double} (other wire types are skipped)."""
    out, i = {}, 0
    while i < len(raw):
        key, i = varint(raw, i)
        num, wire = key >> 3, key & 7
        if wire == 1:
            out[num] = struct.unpack_from("<d", raw, i)[0]
            i += 8
        elif wire == 0:
            _, i = varint(raw, i)
        elif wire == 2:
            n, i = varint(raw, i)
            i += n
        else:
            raise AssertionError(f"wire type {wire} in an ORCA report")
    return out


def report_of(stream):
    """The decoded report of a finished h2grpc Stream (trailers, or trailers-only headers)."""
    value = stream.trailers.get(ORCA_KEY, stream.headers.get(ORCA_KEY))
    if value is None:
        return None
    return decode_orca(base64.b64decode(value + "=" * (-len(value) % 4), validate=True))


def render_body(pb, frame):
    msg = pb.frames_pb2.RenderRequest(model="sanders", frame=frame).SerializeToString()
    return struct.pack(">BI", 0, len(msg)) + msg


def test_idle_render_reports_no_queue_and_its_rate(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    with h2grpc.H2Grpc(addr) as c:
        t0 = time.monotonic()
        streams = [c.call(render_body(pb, i)) for i in range(1, 21)]
        elapsed = time.monotonic() - t0
    for k, st in enumerate(streams, 1):
        assert st.grpc_status == 0
        r = report_of(st)
        assert r is not None, "every Render reply carries a report"
        assert r.get(9, 0.0) == 0.0, r  # nothing queued or running once the frame is answered
        assert r.get(1, 0.0) == 0.0, r  # no CPU figure: the GPU is simulated
        if elapsed < 0.9:  # all inside the first one-second bucket: the count itself
            assert r[6] == k, (k, r)
        else:
            assert 0 < r[6] <= k, (k, r)


def test_queue_depth_is_application_utilization(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "60")
    with h2grpc.H2Grpc(addr) as c:
        streams = c.wait([c.start_call(render_body(pb, i)) for i in range(4)], timeout=10)
    assert all(st.grpc_status == 0 for st in streams)
    # One GPU slot, four frames: each reply leaves the ones behind it (3, 2, 1, 0).
    depths = sorted(report_of(st).get(9, 0.0) for st in streams)
    assert depths == [0.0, 1.0, 2.0, 3.0], depths


def test_busy_error_carries_the_load(procs, pb):
    """RESOURCE_EXHAUSTED (queue full, trailers-only) comes with the depth that made it full."""
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "300", "--queue-max", "1")
    with h2grpc.H2Grpc(addr) as c:
        first, second = c.start_call(render_body(pb, 1)), c.start_call(render_body(pb, 2))
        third = c.call(render_body(pb, 3))
        assert third.grpc_status == 8  # RESOURCE_EXHAUSTED: one running, one waiting
        r = report_of(third)
        assert r is not None and r[9] == 2.0, r
        assert [st.grpc_status for st in c.wait([first, second])] == [0, 0]


def test_other_methods_send_no_report(procs, pb):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    with h2grpc.H2Grpc(addr) as c:
        st = c.call(struct.pack(">BI", 0, 0), path="/framegate.v1.FrameService/ListModels")
    assert st.grpc_status == 0
    assert report_of(st) is None


def test_grpcio_client_unaffected(procs, pb):
    """grpcio (1.51) takes endpoint-load-metrics-bin for its own ORCA support and does not show it
    to the application; the calls themselves must still succeed, OK and errors alike."""
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        req = pb.frames_pb2.RenderRequest
        assert stub.Render(req(model="sanders", frame=5), timeout=5).frame == 5
        try:
            stub.Render(req(model="nosuch", frame=6), timeout=5)
            raise AssertionError("unknown model answered")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND
