"""Issue 5 section 3, --workers N: N threads, each with its own loop, SO_REUSEPORT listener and
backend connections, sharing one health state per backend and one round-robin cursor.

With --workers 2 and 4 backends: every backend has one connection per worker; frames sent on
many client connections (spread over both workers by the kernel) rotate over the backends
exactly as with one worker (the shared cursor moves by compare-and-swap, so concurrent picks
still go 0,1,2,3,0,...: each backend's share is exact; the tolerance of 1 frame covers a pick
that a worker's connection could not take at that moment and passed on); /health and /metrics,
answered by either worker, count the whole process; kill -9 of a backend under load loses no
reply; SIGTERM drains both workers and exits 0."""

import json
import re
import signal
import threading
import time

import fgtest
from fgload import LoadThread, finish_all
from fgproxy import Client, assert_frame, frames_served, http_get, parse_prometheus, start_framegate, wait_proxy_health

WORKERS, BACKENDS, CONNECTIONS, PER_CONN = 2, 4, 8, 60


def proxy_connections_to(port):
    """Established TCP connections whose remote end is 127.0.0.1:port (from /proc/net/tcp)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            rem, state = fields[2], fields[3]
            if state == "01" and int(rem.split(":")[1], 16) == port:
                n += 1
    return n


def health_from_many_connections(port, times=8):
    """/health fetched on separate connections (the kernel spreads them over the workers)."""
    return [json.loads(http_get(port, "/health")[2]) for _ in range(times)]


def test_two_workers(procs):
    servers = [fgtest.serving_frameserver(procs, "--infer-ms", "2") for _ in range(BACKENDS)]
    addrs = [a for _, a in servers]
    proxy, port = start_framegate(
        procs, addrs, "--workers", WORKERS, "--log-frames", "off", "--health-interval-ms", "100",
        "--balance", "round-robin",
    )
    assert f"workers: {WORKERS}" in proxy.log()
    wait_proxy_health(port, lambda h: h["healthy_count"] == BACKENDS, what="4 healthy backends")
    # One health checker (worker 0): the Checks of one loop, not two.
    threads = len(list((__import__("pathlib").Path(f"/proc/{proxy.pid}/task")).iterdir()))
    assert threads >= 1 + WORKERS, f"{threads} threads"

    # Concurrent clients on many connections: exact rotation over the 4 backends.
    clients = [Client(port) for _ in range(CONNECTIONS)]
    results = [None] * CONNECTIONS

    def run(i):
        results[i] = clients[i].run(PER_CONN, inflight=1, first_id=1 + i * 1000)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(CONNECTIONS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    total = CONNECTIONS * PER_CONN
    replies = [r for rs in results for r in rs]
    assert len(replies) == total
    for r in replies:
        assert_frame(r)
    per = {a: sum(r.backend == a for r in replies) for a in addrs}
    assert all(abs(n - total / BACKENDS) <= 1 for n in per.values()), per

    # Each worker has its own connection to every backend.
    conns = {a: proxy_connections_to(int(a.rsplit(":", 1)[1])) for a in addrs}
    assert all(n == WORKERS for n in conns.values()), conns

    # /health from either worker: process-wide totals (every frame counted once).
    healths = health_from_many_connections(port)
    for h in healths:
        got = {b["address"]: b["total_requests"] for b in h["backends"]}
        assert got == per, (got, per)
        assert h["healthy_count"] == BACKENDS
    _, _, body = http_get(port, "/metrics")
    fams = parse_prometheus(body.decode())
    frame_requests = sum(v for _, _, v in fams["framegate_frame_requests_total"]["samples"])
    assert frame_requests == total, frame_requests
    for c in clients:
        c.close()

    # kill -9 one backend under load: every request still gets one FRAME (retried elsewhere).
    loads = [LoadThread(port, 4, first_id=10_000_000 * (i + 1)) for i in range(CONNECTIONS)]
    for t in loads:
        t.start()
    time.sleep(0.6)
    victim_proc, victim = servers[2]
    t_kill = time.monotonic()
    victim_proc.signal(signal.SIGKILL)
    victim_proc.wait(5)
    wait_proxy_health(port, lambda h: h["healthy_count"] == BACKENDS - 1, what="victim unhealthy")
    time.sleep(0.6)
    after = finish_all(loads, victim, t_kill, "the killed backend")
    retried = sum(r.attempts > 1 for r in after)
    # 8 connections x 4 in flight over 4 backends: the victim died with calls in flight, and
    # those were retried on a survivor (2 attempts each, never the victim).
    assert retried >= 1, "no frame retried although the killed backend had calls in flight"
    assert all(r.attempts <= 2 and (r.attempts == 1 or r.backend != victim) for r in after)

    # SIGTERM drains every worker; exit 0.
    proxy.signal(signal.SIGTERM)
    assert proxy.wait(10) == 0
    assert re.search(r"\bstopped\b", proxy.log())
    # Exactly once on the backend side: each survivor rendered exactly what it delivered.
    for p, a in servers:
        if a != victim:
            delivered = sum(r.backend == a for r in replies + after)
            assert frames_served(p) == delivered, f"{a} rendered a different number of frames than it delivered"
    print(
        f"WORKERS: {WORKERS} workers, {total} frames on {CONNECTIONS} connections: per backend {per}; "
        f"backend connections {conns}; kill -9 under load: {len(after)} frames, 0 lost, {retried} retried"
    )
