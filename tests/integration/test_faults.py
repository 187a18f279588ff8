"""Faults b, c, d (issue 3 §6): a frozen backend, all backends down, unknown models."""

import re
import signal
import time

import fgtest
from fgproxy import (
    NOT_FOUND,
    UNAVAILABLE,
    Client,
    HealthMonitor,
    assert_error,
    assert_frame,
    backend_entry,
    frameserver_on,
    get_health,
    healthy_set,
    start_framegate,
    wait_proxy_health,
)


def test_b_sigstop_times_out_retries_elsewhere_and_recovers(procs):
    servers = [fgtest.serving_frameserver(procs, "--infer-ms", "1") for _ in range(3)]
    addrs = [a for _, a in servers]
    victim_proc, victim = servers[0]
    _, port = start_framegate(procs, addrs, "--balance", "round-robin", "--timeout-ms", "300", "--retries", "1",
                              "--health-interval-ms", "250", "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 3, what="3 healthy backends")
    try:
        with HealthMonitor(port) as mon, Client(port) as c:
            warm = c.run(30, inflight=1)
            victim_proc.signal(signal.SIGSTOP)
            t_stop = time.monotonic()
            frozen = c.run(60, inflight=1, first_id=100)
            while mon.first(t_stop, lambda s: victim not in s) is None and time.monotonic() < t_stop + 3:
                time.sleep(0.05)
            t_down = mon.first(t_stop, lambda s: victim not in s)
            # Stay frozen over several health intervals: the checks must not revive it.
            time.sleep(max(0.0, t_stop + 1.5 - time.monotonic()))
            t_cont = time.monotonic()
            victim_proc.signal(signal.SIGCONT)
            up_s, _ = wait_proxy_health(port, lambda h: victim in healthy_set(h), timeout=8,
                                        what="the resumed backend healthy")
            after = c.run(30, inflight=1, first_id=200)
    finally:
        victim_proc.signal(signal.SIGCONT)

    for r in warm + frozen + after:
        assert_frame(r)
    assert sum(r.backend == victim for r in warm) == 10
    assert not [r for r in frozen if r.backend == victim], "a stopped backend answered"
    timed_out = [r for r in frozen if r.attempts == 2]
    assert timed_out, "no frame was retried after the stopped backend timed out"
    slow = max(r.total_us for r in frozen) / 1000
    assert timed_out[0].total_us >= 250_000, f"retried frame took only {timed_out[0].total_us} us"
    # Once marked unhealthy the stopped backend gets no more attempts.
    assert len(timed_out) <= 2, f"{len(timed_out)} frames went to the stopped backend"
    assert t_down is not None, "the stopped backend was never shown unhealthy"
    revived = [t - t_stop for t, s in mon.samples if t_down < t < t_cont and s is not None and victim in s]
    assert not revived, f"the stopped backend was shown healthy again while frozen, at {revived[:3]} s"
    down_s = t_down - t_stop
    got_back = sum(r.backend == victim for r in after)
    print(
        f"FAULT-B: SIGSTOP -> {len(timed_out)} frame(s) timed out (300 ms) and retried elsewhere, "
        f"slowest {slow:.0f} ms, 0 errors of 60; unhealthy in /health {down_s * 1000:.0f} ms after SIGSTOP; "
        f"SIGCONT -> healthy after {up_s * 1000:.0f} ms; then {got_back}/30 frames"
    )
    assert down_s < 2.0
    assert got_back == 10, f"resumed backend got {got_back} of 30 frames over 3 backends"


def test_c_all_backends_down_then_one_back(procs):
    servers = [fgtest.serving_frameserver(procs, "--infer-ms", "0") for _ in range(2)]
    addrs = [a for _, a in servers]
    proxy, port = start_framegate(procs, addrs, "--balance", "round-robin", "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy backends")
    with Client(port) as c:
        for r in c.run(10):
            assert_frame(r)
        for p, _ in servers:
            p.signal(signal.SIGKILL)
        down_s, _ = wait_proxy_health(port, lambda h: h["healthy_count"] == 0, timeout=5, what="0 healthy")
        status, _ = get_health(port)
        assert status == 503

        t0 = time.monotonic()
        replies = c.run(50, inflight=50, first_id=100)
        burst_s = time.monotonic() - t0
        for r in replies:
            assert_error(r, UNAVAILABLE, message="no backends available")
            assert r.attempts == 0 and r.backend_len == 0, r
        worst_us = max(r.total_us for r in replies)
        assert burst_s < 1.0, f"50 refusals took {burst_s:.2f}s"
        assert worst_us < 100_000, f"a refusal took {worst_us} us in the proxy"
        assert proxy.alive()

        port_no = int(addrs[1].rsplit(":", 1)[1])
        t_restart = time.monotonic()
        frameserver_on(procs, port_no, "--infer-ms", "0", name="back")
        fgtest.wait_health(addrs[1])
        t_back = time.monotonic()
        serving_s = t_back - t_restart
        rid, first = 1000, None
        while time.monotonic() - t_back < 10:
            rid += 1
            r = c.call(rid, rid)
            if r.type == 2:
                first = time.monotonic() - t_back
                break
            assert_error(r, UNAVAILABLE)
            time.sleep(0.05)
        assert first is not None, "frames did not flow again within 10 s of a backend coming back"
        again = c.run(10, first_id=5000)
    for r in again:
        assert_frame(r)
        assert r.backend == addrs[1]
    print(
        f"FAULT-C: all down -> /health 503 after {down_s * 1000:.0f} ms; 50 requests refused in "
        f"{burst_s * 1000:.0f} ms (worst {worst_us} us in proxy), proxy up; one back (SERVING after "
        f"{serving_s * 1000:.0f} ms) -> first frame "
        f"{first * 1000:.0f} ms later"
    )


def test_d_unknown_model_never_marks_backends_unhealthy(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "0")[1] for _ in range(2)]
    proxy, port = start_framegate(procs, addrs, "--balance", "round-robin", "--unhealthy-after", "1",
                                 "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy backends")
    with HealthMonitor(port) as mon, Client(port) as c:
        bad = c.run(200, inflight=16, model="nobody")
        good = c.run(20, inflight=1, first_id=1000)
    for r in bad:
        assert_error(r, NOT_FOUND)
        assert r.attempts == 1, f"a request fault was retried: {r}"
    for r in good:
        assert_frame(r)
    assert {a: sum(r.backend == a for r in good) for a in addrs} == {a: 10 for a in addrs}
    dips = [s for _, s in mon.samples if s is not None and s != set(addrs)]
    assert not dips, f"/health showed a backend unhealthy during unknown-model requests: {dips[:3]}"
    assert mon.samples, "no /health samples"
    _, h = get_health(port)
    for a in addrs:
        e = backend_entry(h, a)
        assert e["healthy"] and e["error_count"] == 0, e
    assert sum(backend_entry(h, a)["total_requests"] for a in addrs) == 220
    assert not re.search(r"\S+:\d+ unhealthy", proxy.log()), proxy.log()[-2000:]
    print(f"FAULT-D: 200 unknown-model requests -> 200 NOT_FOUND, 0 retries, 0 backend errors, "
          f"{len(mon.samples)} /health samples all healthy")
