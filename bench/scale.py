#!/usr/bin/env python3
"""Scale figures by simulation (issue 13): one framegate in front of N backends, all of them
served by ONE frameserver process listening on N consecutive ports (frameserver --ports N).
Run through bench/scale.sh. Prints, on loopback:

  RSS per backend      framegate's RSS with N healthy backends minus its RSS with 1, over N-1
  idle health checks   framegate's CPU while idle with N backends (one Check per backend per
                       --health-interval-ms), as % of a core and microseconds per check
  choosing a backend   framegate CPU microseconds per frame and proxy-side time (total - gRPC)
                       at the same open-loop rate, with 4 backends and with N; and the worst
                       case, N listed of which only N/100 healthy, against those N/100 alone
  DNS change           a SRV record set going from 1 to N records (dnsmasq restarted with N
                       --srv-host lines): seconds until /health lists N, until N are healthy;
                       then from N back to 1: seconds until the N-1 removed ones drained away

Everything binds 127.0.0.1; every process started is stopped at the end.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROCS = []


def log(msg):
    print(f"scale: {msg}", file=sys.stderr, flush=True)


def start(args, logfile):
    p = subprocess.Popen([str(a) for a in args], stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=30):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def free_range(n, low=20000, high=32000):
    import random

    rng = random.Random(os.getpid())
    for _ in range(200):
        base = rng.randrange(low, high - n)
        ok = True
        for port in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise SystemExit("scale: no free port range")


def rss_kib(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_KIB


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 503: none healthy yet
        return json.load(e)


def wait_health(port, pred, timeout, what):
    t0 = time.monotonic()
    while True:
        try:
            h = health(port)
            if pred(h):
                return time.monotonic() - t0
        except OSError:
            pass
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"scale: no {what} after {timeout} s")
        time.sleep(0.05)


def start_framegate(b, work, name, *flags):
    out = open(os.path.join(work, f"{name}.log"), "w+")
    p = start([b["framegate"], "--host", "127.0.0.1", "--ws-port", 0, "--log-frames", "off", *flags], out)
    t0 = time.monotonic()
    while True:
        out.seek(0)
        for line in out:
            if line.startswith("framegate listening on "):
                return p, int(line.rsplit(":", 1)[1])
        if p.poll() is not None or time.monotonic() - t0 > 20:
            out.seek(0)
            raise SystemExit(f"scale: framegate did not start:\n{out.read()[-2000:]}")
        time.sleep(0.02)


def addr_file(work, name, ports):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write("\n".join(f"127.0.0.1:{p}" for p in ports) + "\n")
    return path


def framebench(b, port, rate, seconds):
    r = subprocess.run([b["framebench"], "ws", "--url", f"ws://127.0.0.1:{port}/ws", "--connections", "8",
                        "--inflight", "16", "--rate", str(rate), "--duration", str(seconds), "--json"],
                       capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise SystemExit(f"scale: framebench failed: {r.stderr[-1000:]}")
    return json.loads(r.stdout)


def choose_cost(b, port, pid, rate, seconds):
    """framegate CPU per frame at a fixed rate, and the proxy-side time per frame."""
    c0 = cpu_s(pid)
    res = framebench(b, port, rate, seconds)
    c1 = cpu_s(pid)
    frames = res["frames"]
    lat = res["latency"]
    overhead = lat["proxy_total"]["p50_us"] - lat["proxy_grpc"]["p50_us"] if "p50_us" in lat["proxy_total"] else None
    return {"frames": frames, "lost": res["lost"], "cpu_us_per_frame": (c1 - c0) * 1e6 / max(frames, 1),
            "proxy_total_p50_us": lat["proxy_total"].get("p50_us"), "proxy_grpc_p50_us": lat["proxy_grpc"].get("p50_us"),
            "proxy_overhead_p50_us": overhead}


def dnsmasq(work, port, base, n, gen):
    conf = os.path.join(work, f"dnsmasq-{gen}.conf")
    with open(conf, "w") as f:
        f.write("host-record=fs.test,127.0.0.1\n")
        for i in range(n):
            f.write(f"srv-host=_grpc._tcp.frames.test,fs.test,{base + i},0,0\n")
    out = open(os.path.join(work, f"dnsmasq-{gen}.log"), "w")
    p = start(["/usr/sbin/dnsmasq", "--keep-in-foreground", f"--port={port}", "--listen-address=127.0.0.1",
               "--bind-interfaces", "--no-resolv", "--no-hosts", "--user=root", "--pid-file=",
               "--log-facility=-", f"--conf-file={conf}"], out)
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return p
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("scale: dnsmasq did not start")
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--backends", type=int, default=1000)
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--load-s", type=int, default=5)
    a = ap.parse_args()
    n = a.backends
    b = {k: os.path.join(a.build, v) for k, v in (("framegate", "src/proxy/framegate"),
                                                   ("frameserver", "src/server/frameserver"),
                                                   ("framebench", "bench/framebench"))}
    work = tempfile.mkdtemp(prefix="fg-scale-")
    report = {"backends": n, "work": work}
    try:
        base = free_range(n + 1)
        fs_log = open(os.path.join(work, "frameserver.log"), "w")
        fs = start([b["frameserver"], "--host", "127.0.0.1", "--port", base, "--ports", n, "--load-ms", 0,
                    "--infer-ms", 0, "--width", 16, "--height", 8, "--log-level", "warn"], fs_log)
        time.sleep(1.0)
        if fs.poll() is not None:
            raise SystemExit("scale: frameserver --ports failed (see its log in " + work + ")")

        # RSS: 1 backend, then N.
        one = addr_file(work, "one.txt", [base])
        g1, p1 = start_framegate(b, work, "framegate-1", "--grpc-addrs-file", one)
        wait_health(p1, lambda h: h["healthy_count"] == 1, 10, "1 healthy backend")
        time.sleep(1.0)
        r1 = rss_kib(g1.pid)
        stop(g1)
        many = addr_file(work, "many.txt", range(base, base + n))
        gn, pn = start_framegate(b, work, "framegate-n", "--grpc-addrs-file", many)
        t_up = wait_health(pn, lambda h: h["healthy_count"] == n, 60, f"{n} healthy backends")
        time.sleep(1.0)
        rn = rss_kib(gn.pid)
        report["rss_kib_1"] = r1
        report["rss_kib_n"] = rn
        report["rss_kib_per_backend"] = (rn - r1) / (n - 1)
        report["all_healthy_after_start_s"] = t_up
        log(f"RSS {r1} KiB with 1 backend, {rn} KiB with {n}: {(rn - r1) / (n - 1):.1f} KiB per backend")

        # Idle: health checks only (default --health-interval-ms 1000).
        c0, f0, t0 = cpu_s(gn.pid), cpu_s(fs.pid), time.monotonic()
        time.sleep(a.idle_s)
        c1, f1, t1 = cpu_s(gn.pid), cpu_s(fs.pid), time.monotonic()
        checks = n * (t1 - t0)
        report["idle_cpu_pct"] = 100 * (c1 - c0) / (t1 - t0)
        report["idle_cpu_us_per_check"] = (c1 - c0) * 1e6 / checks
        report["idle_frameserver_cpu_pct"] = 100 * (f1 - f0) / (t1 - t0)
        log(f"idle with {n} backends: framegate {report['idle_cpu_pct']:.1f}% of a core "
            f"({report['idle_cpu_us_per_check']:.1f} us per check); frameserver answering them "
            f"{report['idle_frameserver_cpu_pct']:.1f}%")

        # Choosing a backend: the same rate over N backends, then over 4.
        report["choose_n"] = choose_cost(b, pn, gn.pid, a.rate, a.load_s)
        stop(gn)
        four = addr_file(work, "four.txt", range(base, base + 4))
        g4, p4 = start_framegate(b, work, "framegate-4", "--grpc-addrs-file", four)
        wait_health(p4, lambda h: h["healthy_count"] == 4, 10, "4 healthy backends")
        report["choose_4"] = choose_cost(b, p4, g4.pid, a.rate, a.load_s)
        stop(g4)
        # Worst case of the pick: 1 healthy backend in every 100 (the others NOT_SERVING, from a
        # second frameserver with --fail-load), so each pick steps over ~99 ineligible entries;
        # against the same healthy ones alone.
        good = max(n // 100, 1)
        bad_base = free_range(n - good)
        bad_log = open(os.path.join(work, "frameserver-bad.log"), "w")
        fs_bad = start([b["frameserver"], "--host", "127.0.0.1", "--port", bad_base, "--ports", n - good,
                        "--load-ms", 0, "--fail-load", "--width", 16, "--height", 8, "--log-level", "error"],
                       bad_log)
        time.sleep(1.0)
        mixed, bad_iter = [], iter(range(bad_base, bad_base + n - good))
        for i in range(good):
            mixed.append(base + i)
            mixed += [next(bad_iter) for _ in range((n - good) // good)]
        mixed += list(bad_iter)
        gm, pm = start_framegate(b, work, "framegate-sparse", "--grpc-addrs-file", addr_file(work, "sparse.txt", mixed))
        wait_health(pm, lambda h: h["healthy_count"] == good and h["total_backends"] == n, 30,
                    f"{good} healthy of {n}")
        report["choose_sparse"] = choose_cost(b, pm, gm.pid, a.rate, a.load_s)
        stop(gm)
        stop(fs_bad)
        gg, pg = start_framegate(b, work, "framegate-good", "--grpc-addrs-file",
                                 addr_file(work, "good.txt", range(base, base + good)))
        wait_health(pg, lambda h: h["healthy_count"] == good, 10, f"{good} healthy backends")
        report["choose_good_only"] = choose_cost(b, pg, gg.pid, a.rate, a.load_s)
        stop(gg)
        report["sparse_healthy"] = good
        for k in ("choose_4", "choose_n", "choose_good_only", "choose_sparse"):
            c = report[k]
            log(f"{k}: {c['frames']} frames at {a.rate}/s, {c['lost']} lost, {c['cpu_us_per_frame']:.1f} us "
                f"framegate CPU per frame, proxy overhead p50 {c['proxy_overhead_p50_us']} us")

        # DNS: 1 SRV record -> N -> 1.
        dport = free_range(1)
        dns = dnsmasq(work, dport, base, 1, "a")
        gd, pd = start_framegate(b, work, "framegate-dns", "--grpc-addrs", "dns+srv:///_grpc._tcp.frames.test",
                                 "--dns-servers", f"127.0.0.1:{dport}", "--dns-refresh-ms", "1000")
        wait_health(pd, lambda h: h["healthy_count"] == 1, 10, "the 1 SRV backend")
        stop(dns)
        dns = dnsmasq(work, dport, base, n, "b")
        t_listed = wait_health(pd, lambda h: h["total_backends"] == n, 30, f"{n} SRV backends listed")
        t_healthy = wait_health(pd, lambda h: h["healthy_count"] == n, 60, f"{n} SRV backends healthy") + t_listed
        stop(dns)
        dns = dnsmasq(work, dport, base, 1, "c")
        t_gone = wait_health(pd, lambda h: h["total_backends"] == 1, 30, f"{n - 1} SRV backends drained")
        stop(dns)
        report["dns_1_to_n_listed_s"] = t_listed
        report["dns_1_to_n_healthy_s"] = t_healthy
        report["dns_n_to_1_drained_s"] = t_gone
        log(f"DNS 1 -> {n} SRV records: listed after {t_listed:.2f} s, all healthy after {t_healthy:.2f} s "
            f"(refresh 1 s); {n} -> 1: drained after {t_gone:.2f} s")
        rc = stop(gd)
        if rc != 0:
            raise SystemExit(f"scale: framegate exited {rc}")
        rc = stop(fs)
        if rc != 0:
            raise SystemExit(f"scale: frameserver exited {rc}")
        print(json.dumps(report, indent=2))
    finally:
        for p in PROCS:
            stop(p, timeout=5)


if __name__ == "__main__":
    main()
