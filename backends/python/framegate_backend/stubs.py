"""Python modules for framegate's .proto files, generated when first asked for.

The one place the project turns proto/framegate/v1/frames.proto and proto/grpc/health/v1/
health.proto into Python: the backend kit imports them from here, and so do the tests
(tests/fgtest.py protos()). protoc (protobuf-compiler) writes the messages and
grpc_python_plugin (protobuf-compiler-grpc, the same gRPC release as python3-grpcio) the
service stubs, into a temporary folder removed at exit: nothing generated is committed, and the
modules always match the .proto files they come from.
"""

import atexit
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

# The repository root: backends/python/framegate_backend/stubs.py -> ../../..
SOURCE_ROOT = Path(__file__).resolve().parents[3]

# Each proto is compiled from its own folder so the modules are flat (frames_pb2, health_pb2):
# a package folder named "grpc" would shadow grpcio itself.
PROTOS = (("proto/framegate/v1", "frames.proto"), ("proto/grpc/health/v1", "health.proto"))

_cached = None


class StubError(RuntimeError):
    """protoc or its gRPC plugin is missing or failed; the message says what to install."""


def load(source_root=None):
    """A namespace with frames_pb2, frames_pb2_grpc, health_pb2, health_pb2_grpc and dir (the
    folder they were written to). Generated once per process; later calls return the same."""
    global _cached
    if _cached is not None:
        return _cached
    root = Path(source_root) if source_root else SOURCE_ROOT
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    if not protoc or not Path(plugin).exists():
        raise StubError(
            "protoc and grpc_python_plugin are needed to generate the gRPC stubs: "
            "apt-get install protobuf-compiler protobuf-compiler-grpc (or scripts/deps.sh python)"
        )
    out = Path(tempfile.mkdtemp(prefix="framegate-pb-"))
    atexit.register(shutil.rmtree, out, True)
    for folder, name in PROTOS:
        cmd = [
            protoc,
            f"-I{root / folder}",
            f"--python_out={out}",
            f"--plugin=protoc-gen-grpc={plugin}",
            f"--grpc_out={out}",
            name,
        ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise StubError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    sys.path.insert(0, str(out))
    import frames_pb2
    import frames_pb2_grpc
    import health_pb2
    import health_pb2_grpc

    _cached = types.SimpleNamespace(
        frames_pb2=frames_pb2,
        frames_pb2_grpc=frames_pb2_grpc,
        health_pb2=health_pb2,
        health_pb2_grpc=health_pb2_grpc,
        dir=out,
    )
    return _cached
