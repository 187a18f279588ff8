"""Round-robin over the healthy backends, and a late backend joining only once SERVING (issue 3 §3, §6)."""

import threading
import time

import fgtest
from fgproxy import Client, assert_frame, start_framegate, wait_proxy_health


def test_round_robin_400_sequential_frames(procs):
    addrs = [fgtest.serving_frameserver(procs, "--infer-ms", "0")[1] for _ in range(4)]
    _, port = start_framegate(procs, addrs, "--balance", "round-robin", "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 4, what="4 healthy backends")

    with Client(port) as c:
        replies = c.run(400, inflight=1)
    for r in replies:
        assert_frame(r)
    seq = [r.backend for r in replies]
    counts = {a: seq.count(a) for a in addrs}
    assert counts == {a: 100 for a in addrs}, f"frames per backend: {counts} (others: {set(seq) - set(addrs)})"
    # One shared cursor, backends in configuration order: frame i goes to addrs[(k + i) % 4].
    k = addrs.index(seq[0])
    wrong = [i for i, b in enumerate(seq) if b != addrs[(k + i) % 4]]
    assert not wrong, f"rotation broken at frames {wrong[:10]}: {seq[max(0, wrong[0] - 4):wrong[0] + 4]}"
    assert all(r.attempts == 1 for r in replies)

    _, health = wait_proxy_health(port, lambda h: True)
    got = {b["address"]: (b["total_requests"], b["error_count"]) for b in health["backends"]}
    assert got == {a: (100, 0) for a in addrs}, f"/health per backend: {got}"


def test_late_backend_gets_frames_only_once_serving(procs):
    early = [fgtest.serving_frameserver(procs, "--infer-ms", "0")[1] for _ in range(3)]
    late_proc, late = fgtest.start_frameserver(procs, "--load-ms", "3000", "--infer-ms", "0", name="late")
    t_started = time.monotonic()
    addrs = early[:2] + [late] + early[2:]
    _, port = start_framegate(procs, addrs, "--balance", "round-robin", "--health-interval-ms", "250",
                              "--log-frames", "off")
    wait_proxy_health(
        port,
        lambda h: h["healthy_count"] == 3 and not h["backends"][2]["healthy"],
        what="3 healthy backends and the loading one unhealthy",
    )

    serving_at = []

    def watch():
        try:
            fgtest.wait_health(late, timeout=15)
            serving_at.append(time.monotonic())
        except AssertionError:
            pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    log = []  # (time, reply)
    with Client(port) as c:
        rid = 0
        deadline = t_started + 12.0
        while time.monotonic() < deadline:
            rid += 1
            r = c.call(rid, rid)
            log.append((time.monotonic(), r))
            late_replies = [x for x in log if x[1].backend == late]
            if late_replies and len(log) - log.index(late_replies[0]) >= 41:
                break
            time.sleep(0.01)
    watcher.join(1)
    assert serving_at, "the late backend never became SERVING"
    t_serving = serving_at[0]

    for _, r in log:
        assert_frame(r)
    # A frame sent to the loading backend would have been answered UNAVAILABLE and retried.
    retried = [r.request_id for _, r in log if r.attempts != 1]
    assert not retried, f"frames that needed more than one attempt (sent to a loading backend?): {retried[:10]}"
    late_times = [t for t, r in log if r.backend == late]
    assert late_times, f"the late backend got no frame in 12 s (SERVING after {t_serving - t_started:.2f}s)"
    join_s = late_times[0] - t_serving
    print(f"late backend: SERVING after {t_serving - t_started:.2f}s, first frame {join_s:.3f}s later")
    assert join_s < 2.0, f"the late backend got its first frame {join_s:.2f}s after SERVING"
    first = next(i for i, (_, r) in enumerate(log) if r.backend == late)
    tail = [r.backend for _, r in log[first : first + 40]]
    counts = {a: tail.count(a) for a in addrs}
    assert counts == {a: 10 for a in addrs}, f"40 frames after the late backend joined: {counts}"
    assert late_proc.alive()
