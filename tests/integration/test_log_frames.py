"""Issue 10: the per-frame log line must never stall the event loop. framegate's stdout is a
pipe nobody reads: frames keep flowing at full speed, the lines that do not fit are dropped and
counted (framegate_log_lines_dropped_total), and SIGTERM still exits 0 at once."""

import re
import signal
import subprocess
import time

import fgtest
from fgproxy import FRAMEGATE, HOST, Client, http_get, parse_prometheus, wait_proxy_health

MODEL = "m" * 200  # long lines (~300 bytes): the pipe and the ring fill after ~1,000 frames
FRAMES = 3000


def test_unread_stdout_pipe_does_not_stall_frames(procs, tmp_path):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0", "--width", "8", "--height", "8",
                                         "--models", MODEL)
    err = open(tmp_path / "framegate.stderr", "wb")
    # stdout: a pipe this test never reads from.
    gate = subprocess.Popen([fgtest.binary(FRAMEGATE), "--host", HOST, "--ws-port", "0",
                             "--grpc-addrs", addr, "--log-frames", "on"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    try:
        log = lambda: (tmp_path / "framegate.stderr").read_text(errors="replace")  # noqa: E731
        deadline = time.monotonic() + 15
        while not (m := re.search(r"listening on \S+?:(\d+)", log())):
            assert gate.poll() is None and time.monotonic() < deadline, log()
            time.sleep(0.02)
        port = int(m.group(1))
        wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
        with Client(port, timeout=10) as c:
            t0 = time.monotonic()
            replies = c.run(FRAMES, inflight=16, model=MODEL)
            took = time.monotonic() - t0
        assert all(r.type == 2 for r in replies)
        fams = parse_prometheus(http_get(port, "/metrics")[2].decode())
        dropped = sum(v for _, _, v in fams["framegate_log_lines_dropped_total"]["samples"])
        print(f"LOGW: {FRAMES} frames in {took:.2f}s with stdout never read; {dropped:.0f} lines dropped")
        assert dropped > 0, "a never-read pipe held every line?"
        assert dropped < FRAMES
        gate.send_signal(signal.SIGTERM)
        assert gate.wait(20) == 0, log()
        assert re.search(r"per-frame log: \d+ lines dropped", log()), log()
    finally:
        if gate.poll() is None:
            gate.kill()
            gate.wait()
        gate.stdout.close()
        err.close()
    text = (tmp_path / "framegate.stderr").read_text(errors="replace")
    assert not fgtest.SANITIZER_RE.search(text), text[-4000:]
