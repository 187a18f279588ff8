"""bench/go-original (the original design in Go that bench/vs-go.sh measures framegate against)
builds from Debian's Go packages offline and speaks the contract's v1 wire format: a FRAME with
the request's id, frame, backend and image; an ERROR 3 for a malformed request. The Go toolchain
and sources are installed by `scripts/deps.sh test` (and `bench`): their absence is a failure."""

import os
import shutil
import subprocess
from pathlib import Path


import fgproxy
import fgtest

GOCODE = Path("/usr/share/gocode/src")
NEEDED = ("google.golang.org/grpc", "github.com/gorilla/websocket", "google.golang.org/protobuf")


def go_missing():
    if not shutil.which("go"):
        return "go is not installed (scripts/deps.sh bench)"
    for pkg in NEEDED:
        if not (GOCODE / pkg).is_dir():
            return f"{GOCODE / pkg} is missing (scripts/deps.sh bench)"
    return None


def test_go_original_builds_and_answers_v1(procs, tmp_path):
    assert go_missing() is None, go_missing()
    out = tmp_path / "go-original"
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOPATH=f"{tmp_path}/gopath:/usr/share/gocode",
               GOCACHE=str(tmp_path / "gocache"))
    r = subprocess.run(["go", "build", "-o", str(out), "."], cwd=Path(__file__).parent / "go-original",
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    _, addr = fgtest.serving_frameserver(procs)
    port = fgtest.free_port()
    proxy = procs.start([str(out), "--host", fgtest.HOST, "--ws-port", str(port), "--grpc-addrs", addr,
                         "--log-frames", "off"], name="go-original", expect_exit=0)
    proxy.wait_log(fgtest.LISTEN_RE, 10)
    with fgproxy.Client(port) as c:
        rep = c.call(7, 42)
        fgproxy.assert_frame(rep, request_id=7, frame=42)
        assert rep.backend == addr
        c.send_raw(b"\x01\x00\x00\x00" + (9).to_bytes(4, "little") + (5).to_bytes(4, "little"))
        fgproxy.assert_error(c.recv(), 3, request_id=9, frame=5)
    assert proxy.stop() == 0
