"""Fault a (issue 3 §6): kill -9 one of 4 backends during 2000 frames at 32 in flight."""

import re
import signal
import time

import fgtest
from fgproxy import (
    Client,
    HealthMonitor,
    assert_frame,
    frameserver_on,
    frames_served,
    start_framegate,
    wait_proxy_health,
)

FRAMES, INFLIGHT, KILL_AFTER = 2000, 32, 500


def test_kill_one_of_four_during_load(procs):
    servers = [fgtest.serving_frameserver(procs, "--infer-ms", "2") for _ in range(4)]
    addrs = [a for _, a in servers]
    victim_proc, victim = servers[1]
    proxy, port = start_framegate(procs, addrs, "--balance", "round-robin", "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 4, what="4 healthy backends")

    killed = {}

    def on_reply(r, i):
        if i == KILL_AFTER:
            victim_proc.signal(signal.SIGKILL)
            killed["t"] = time.monotonic()
            killed["i"] = i

    with HealthMonitor(port) as mon, Client(port, timeout=15) as c:
        t0 = time.monotonic()
        replies = c.run(FRAMES, inflight=INFLIGHT, on_reply=on_reply)
        run_s = time.monotonic() - t0
        victim_proc.wait(5)
        # /health must show the victim unhealthy within 1 s of the kill.
        while time.monotonic() < killed["t"] + 1.5 and mon.first(killed["t"], lambda s: victim not in s) is None:
            time.sleep(0.05)
        t_down = mon.first(killed["t"], lambda s: victim not in s)

    errors = [r for r in replies if r.type != 2]
    assert not errors, f"{len(errors)} ERROR replies, first: {errors[0]}"
    for r in replies:
        assert_frame(r)
    per_backend = {a: sum(r.backend == a for r in replies) for a in addrs}
    retried = sum(r.attempts > 1 for r in replies)
    after_kill = sum(r.backend == victim for r in replies[KILL_AFTER + INFLIGHT + 1 :])
    assert t_down is not None, "/health never showed the killed backend unhealthy"
    down_s = t_down - killed["t"]

    # Restart on the same port: healthy within 2 s, then it gets its share of frames.
    port_no = int(victim.rsplit(":", 1)[1])
    t_restart = time.monotonic()
    restarted, _ = frameserver_on(procs, port_no, "--infer-ms", "2", name="restarted")
    # Measured from the backend's own SERVING: how fast frameserver loads is not the proxy's part.
    fgtest.wait_health(victim)
    serving_s = time.monotonic() - t_restart
    up_s, _ = wait_proxy_health(port, lambda h: victim in {b["address"] for b in h["backends"] if b["healthy"]},
                                timeout=8, what="the restarted backend healthy")
    with Client(port) as c:
        again = c.run(40, first_id=FRAMES + 1)
    for r in again:
        assert_frame(r)
    got_back = sum(r.backend == victim for r in again)

    print(
        f"FAULT-A: {FRAMES} frames at {INFLIGHT} in flight in {run_s:.2f}s, errors 0, lost 0; "
        f"killed after reply {KILL_AFTER}; {retried} frames retried; per backend {per_backend}; "
        f"victim frames after the kill window {after_kill}; /health unhealthy {down_s * 1000:.0f} ms after kill; "
        f"restarted backend SERVING after {serving_s * 1000:.0f} ms, healthy in /health {up_s * 1000:.0f} ms later; "
        f"victim got {got_back}/40 frames afterwards"
    )
    assert down_s <= 1.0, f"/health showed the killed backend unhealthy only after {down_s:.2f}s"
    assert up_s <= 2.0, f"restarted backend healthy in /health only {up_s:.2f}s after it was SERVING"
    assert got_back == 10, f"restarted backend got {got_back} of 40 sequential frames over 4 backends"
    # Health transitions are logged with the reason (issue 3 §1).
    log = proxy.log()
    assert re.search(rf"{re.escape(victim)} unhealthy: UNAVAILABLE \S", log), log[-2000:]
    assert f"{victim} healthy again" in log, log[-2000:]
    assert after_kill == 0, f"{after_kill} frames answered by the dead backend"
    # The calls in flight on the victim when it died were retried elsewhere (up to INFLIGHT
    # of them were outstanding, about a quarter on the victim), each once: every retried
    # reply took exactly 2 attempts and came from a survivor.
    retried_replies = [r for r in replies if r.attempts > 1]
    assert 1 <= retried <= INFLIGHT, f"{retried} frames retried after killing a backend with ~{INFLIGHT // 4} in flight"
    assert all(r.attempts == 2 and r.backend != victim for r in retried_replies), retried_replies[:3]
    # Exactly once on the backend side: each survivor rendered exactly the frames it answered
    # (a retry executed twice would render one frame more than it delivered).
    assert proxy.stop() == 0, proxy.log()[-2000:]
    survivors = [(p, a) for p, a in servers if a != victim] + [(restarted, victim)]
    for p, a in survivors:
        delivered = sum(r.backend == a for r in replies + again if p is not restarted or r in again)
        assert frames_served(p) == delivered, f"{a} rendered a different number of frames than it delivered"
