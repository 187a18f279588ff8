#!/usr/bin/python3
"""Frames/s of the Python kit's torch-face model at batch 1, 4 and 8.

    bench/python-model.py [BUILD_DIR]        (default: ./build; needs build/bench/framebench)

1. The model alone: TorchFace.infer() on batches of B different 1600-byte PCM chunks, in this
   process, for BENCH_SECONDS (default 5) each: frames/s and milliseconds per pass.
2. Served: backends/python/serve.py --model torch-face --max-batch B on a free 127.0.0.1 port,
   loaded by `framebench grpc --concurrency 2B` (so a full batch waits while one runs) with
   1600-byte inputs for BENCH_SECONDS: frames/s and latency p50/p99 from framebench's JSON.
   Each server is stopped with SIGTERM and must exit 0.
Environment: BENCH_SECONDS, BENCH_DEVICE (cpu or cuda, default cpu), TORCH_THREADS (torch's
intra-op threads in step 1, default torch's own choice).
"""

import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "backends" / "python"
sys.path[:0] = [str(KIT), str(KIT / "examples")]
BATCHES = (1, 4, 8)
INPUT_BYTES = 1600


def tone(i):
    amp = 2000 + 3000 * (i % 10)
    return struct.pack("<800h", *[amp if (k // (10 + i % 7)) % 2 == 0 else -amp for k in range(800)])


class Req:
    def __init__(self, i):
        self.model, self.frame, self.input, self.session = "sanders", i, tone(i), ""


def model_alone(seconds, device):
    import torch
    from torch_face import TorchFace

    if os.environ.get("TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["TORCH_THREADS"]))
    m = TorchFace(device)
    m.load()
    rows = []
    for b in BATCHES:
        batch = [Req(i) for i in range(b)]
        for _ in range(5):
            m.infer(batch)  # warm-up for this shape
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            m.infer(batch)
            n += 1
        dt = time.perf_counter() - t0
        rows.append((b, n * b / dt, dt / n * 1e3))
    return rows, torch.get_num_threads()


def served(build, seconds, device):
    framebench = Path(build) / "bench" / "framebench"
    if not os.access(framebench, os.X_OK):
        sys.exit(f"bench: {framebench} is not built")
    rows = []
    for b in BATCHES:
        with tempfile.TemporaryFile() as log:
            p = subprocess.Popen(
                ["/usr/bin/python3", str(KIT / "serve.py"), "--host", "127.0.0.1", "--port", "0",
                 "--model", "torch-face", "--device", device, "--max-batch", str(b), "--queue-max", "64"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                addr = None
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and p.poll() is None:
                    log.seek(0)
                    text = log.read().decode(errors="replace")
                    m = re.search(r"listening on (\S+)", text)
                    if m and "SERVING" in text:
                        addr = m.group(1)
                        break
                    time.sleep(0.1)
                if addr is None:
                    log.seek(0)
                    sys.exit(f"bench: serve.py did not start:\n{log.read().decode(errors='replace')}")
                r = subprocess.run(
                    [str(framebench), "grpc", "--targets", addr, "--concurrency", str(2 * b),
                     "--duration", str(seconds), "--baseline", "0", "--input-bytes", str(INPUT_BYTES), "--json"],
                    capture_output=True, text=True, timeout=seconds + 60)
                if r.returncode != 0:
                    sys.exit(f"bench: framebench failed:\n{r.stderr}")
                tot = json.loads(r.stdout)["total"]
                not_ok = sum(v for k, v in tot["replies_by_status"].items() if k != "OK")
                rows.append((b, tot["frames_per_s"], tot["latency"]["p50_us"] / 1e3,
                             tot["latency"]["p99_us"] / 1e3, not_ok))
            finally:
                p.send_signal(signal.SIGTERM)
                rc = p.wait(30)
            if rc != 0:
                sys.exit(f"bench: serve.py exited {rc} after SIGTERM")
    return rows


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build")
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    device = os.environ.get("BENCH_DEVICE", "cpu")
    print(f"torch-face on {device}, {INPUT_BYTES}-byte PCM inputs, {seconds:g} s per run, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    rows, threads = model_alone(seconds, device)
    print(f"\nmodel alone (TorchFace.infer in process, torch threads {threads})")
    print(f"{'batch':>5} {'frames/s':>10} {'ms/pass':>9}")
    for b, fps, ms in rows:
        print(f"{b:>5} {fps:>10.1f} {ms:>9.2f}")
    print("\nserved (serve.py --max-batch B, framebench grpc --concurrency 2B)")
    print(f"{'batch':>5} {'frames/s':>10} {'p50_ms':>8} {'p99_ms':>8} {'not_ok':>7}")
    for b, fps, p50, p99, bad in served(build, seconds, device):
        print(f"{b:>5} {fps:>10.1f} {p50:>8.1f} {p99:>8.1f} {bad:>7}")


if __name__ == "__main__":
    main()
