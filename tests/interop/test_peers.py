"""Smoke tests of the gRPC test peers (tests/peers/): the python3-grpcio and @grpc/grpc-js
backends that the proxy's integration tests put behind framegate next to frameserver."""

from pathlib import Path

import grpc
import pytest

import fgtest

PEERS = Path(__file__).resolve().parent.parent / "peers"


def start_peer(kind, procs, env, *flags):
    if kind == "python":
        args = ["/usr/bin/python3", PEERS / "py_frame_server.py"]
    else:
        args = ["node", PEERS / "node_frame_server.js"]
    p = procs.start([*args, "--port", "0", *flags], name=f"{kind}-peer", env=env)
    m = p.wait_log(fgtest.LISTEN_RE, timeout=20)
    return p, f"{m.group(1)}:{m.group(2)}"


@pytest.mark.parametrize("kind", ["python", "node"])
def test_peer_serves_the_contract(kind, procs, pb, node_env):
    fp = pb.frames_pb2
    p, addr = start_peer(kind, procs, node_env, "--load-ms", "1000", "--models", "sanders,obama", "--infer-ms", "5")
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        assert fgtest.health_status(addr) == "NOT_SERVING"
        with pytest.raises(grpc.RpcError) as e:
            stub.Render(fp.RenderRequest(model="sanders", frame=1), timeout=5)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        fgtest.wait_health(addr, timeout=10)
        assert fgtest.health_status(addr, "framegate.v1.FrameService") == "SERVING"
        assert fgtest.health_status(addr, "no.such.Service") == "NOT_FOUND"

        r = stub.Render(fp.RenderRequest(model="obama", frame=77, input=fgtest.pcm_tone()), timeout=5)
        assert (r.frame, r.width, r.height, r.format) == (77, 128, 64, fp.IMAGE_FORMAT_RGB24)
        assert len(r.image) == 128 * 64 * 3
        quiet = stub.Render(fp.RenderRequest(model="obama", frame=77, input=fgtest.pcm_tone(amplitude=0)), timeout=5)
        assert quiet.image != r.image, "the input level must change the picture"

        b = stub.RenderBatch(
            fp.RenderBatchRequest(requests=[fp.RenderRequest(model="sanders", frame=f) for f in (5, 6, 7)]), timeout=5
        )
        assert [x.frame for x in b.replies] == [5, 6, 7]
        assert all(len(x.image) == 24576 for x in b.replies)

        models = stub.ListModels(fp.ListModelsRequest(), timeout=5).models
        assert sorted((m.name, m.ready, m.width, m.height) for m in models) == [
            ("obama", True, 128, 64),
            ("sanders", True, 128, 64),
        ]
        with pytest.raises(grpc.RpcError) as e:
            stub.Render(fp.RenderRequest(model="nobody", frame=1), timeout=5)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert p.stop() == 0
    assert "stopped" in p.log()


@pytest.mark.parametrize("kind", ["python", "node"])
def test_peer_fail_rate(kind, procs, pb, node_env):
    fp = pb.frames_pb2
    _, addr = start_peer(kind, procs, node_env, "--fail-rate", "1")
    fgtest.wait_health(addr, timeout=10)
    with grpc.insecure_channel(addr) as ch:
        stub = pb.frames_pb2_grpc.FrameServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            stub.Render(fp.RenderRequest(model="sanders", frame=1), timeout=5)
        assert e.value.code() == grpc.StatusCode.INTERNAL
