"""Hostile backends (issue 6 section 3): whatever a backend sends, the client gets the right
answer, the proxy keeps serving, and it exits cleanly (no sanitizer report) on SIGTERM.

Each test runs the real framegate binary in front of HostileBackend (hostile_backend.py) whose
Render behaviour is chosen per call through RenderRequest.input = b"hostile:NAME".
"""

import time

import pytest

from fgproxy import (
    DEADLINE_EXCEEDED,
    ERROR,
    FRAME,
    INTERNAL,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    Client,
    assert_error,
    describe,
    start_framegate,
    wait_proxy_health,
)
from hostile_backend import HostileBackend

UNIMPLEMENTED, UNAUTHENTICATED = 12, 16
# One attempt, and a backend never marked unhealthy, so each answer is the backend's doing.
ONE_ATTEMPT = ("--retries", "0", "--unhealthy-after", "1000", "--health-interval-ms", "200",
               "--timeout-ms", "3000", "--log-frames", "off")
RETRY_ONCE = ("--retries", "1", "--health-interval-ms", "200", "--timeout-ms", "3000",
              "--log-frames", "off")


def hostile(what):
    return b"hostile:" + what.encode()


def proxy_for(procs, backends, flags, healthy=None):
    # Every frame straight to the backend, as the original design did: these tests are about
    # what a backend answers, not about the scheduler holding frames back.
    p, port = start_framegate(procs, [b.addr for b in backends], "--balance", "round-robin", *flags)
    want = len(backends) if healthy is None else healthy
    wait_proxy_health(port, lambda h: h["healthy_count"] >= want, timeout=10,
                      what=f"{want} healthy backends")
    return p, port


def assert_good_frame(r, backend=None):
    assert r.type == FRAME and r.status == 0, f"expected a FRAME: {describe(r)}"
    assert (r.width, r.height, r.format, len(r.payload)) == (4, 4, 1, 48), describe(r)
    if backend is not None:
        assert r.backend == backend.addr, describe(r)


def stop_clean(proc):
    """SIGTERM: exit code 0 and no AddressSanitizer/LeakSanitizer/UBSan report."""
    rc = proc.stop()
    log = proc.log()
    for marker in ("Sanitizer", "runtime error:"):
        assert marker not in log, f"sanitizer report from framegate:\n{log[-6000:]}"
    assert rc == 0, f"framegate exited {rc} on SIGTERM:\n{log[-3000:]}"


def first_frame_within(c, seconds, first_id):
    """Sends plain requests until one gets a FRAME; the replies before it must be UNAVAILABLE."""
    deadline = time.monotonic() + seconds
    rid = first_id
    while True:
        r = c.call(rid, rid)
        if r.type == FRAME:
            return r
        assert r.status == UNAVAILABLE, describe(r)
        assert time.monotonic() < deadline, f"no FRAME within {seconds}s: {describe(r)}"
        rid += 1
        time.sleep(0.05)


@pytest.mark.parametrize("what,status", [
    ("big", RESOURCE_EXHAUSTED),
    ("no_status", INTERNAL),
    ("http_503", UNAVAILABLE),
    ("http_404", UNIMPLEMENTED),
    ("http_401", UNAUTHENTICATED),
    ("bad_reply", INTERNAL),
])
def test_bad_reply_gets_its_status_and_the_proxy_keeps_serving(procs, what, status):
    with HostileBackend() as h:
        p, port = proxy_for(procs, [h], ONE_ATTEMPT)
        with Client(port) as c:
            r = c.call(1, 11, data=hostile(what))
            assert_error(r, status, request_id=1, frame=11)
            assert r.backend == h.addr and r.attempts == 1, describe(r)
            assert_good_frame(c.call(2, 12), h)
            assert_good_frame(c.call(3, 13), h)
        if what == "big":
            # The 4 MiB limit stops the stream: the backend sees it reset.
            deadline = time.monotonic() + 3
            while not h.resets and time.monotonic() < deadline:
                time.sleep(0.02)
            assert h.resets, "the over-limit reply's stream was not reset"
        stop_clean(p)


def test_mixed_bad_replies_on_one_connection_each_get_one_answer(procs):
    cases = [("ok", 0), ("big", RESOURCE_EXHAUSTED), ("no_status", INTERNAL),
             ("http_503", UNAVAILABLE), ("bad_reply", INTERNAL), ("ok", 0), ("refused", UNAVAILABLE)]
    with HostileBackend() as h:
        p, port = proxy_for(procs, [h], ONE_ATTEMPT)
        with Client(port) as c:
            want = {}
            for i in range(35):
                what, status = cases[i % len(cases)]
                c.send(100 + i, i, data=hostile(what))
                want[100 + i] = status
            for _ in range(len(want)):
                r = c.recv()
                assert r.request_id in want, f"unexpected or duplicate reply: {describe(r)}"
                status = want.pop(r.request_id)
                assert r.status == status, f"expected {status}: {describe(r)}"
                if status == 0:
                    assert_good_frame(r, h)
            assert_good_frame(c.call(1, 1), h)
        stop_clean(p)


def test_refused_stream_is_retried_on_another_backend(procs):
    with HostileBackend(default="refused", obey_input=False) as bad, \
            HostileBackend(obey_input=False) as good:
        p, port = proxy_for(procs, [bad, good], RETRY_ONCE)
        with Client(port) as c:
            replies = [c.call(i, i) for i in range(1, 9)]
        for r in replies:
            assert_good_frame(r, good)
        retried = [r for r in replies if r.attempts == 2]
        assert retried, "no call went to the refusing backend first"
        assert bad.renders_of("refused") >= len(retried)
        stop_clean(p)


def test_goaway_rejecting_a_call_sends_it_elsewhere(procs):
    with HostileBackend() as bad, HostileBackend(obey_input=False) as good:
        p, port = proxy_for(procs, [bad, good], RETRY_ONCE)
        with Client(port) as c:
            replies = [c.call(i, i, data=hostile("goaway_reject")) for i in range(1, 7)]
            for r in replies:
                assert_good_frame(r, good)
            assert any(r.attempts == 2 for r in replies), "no call met the GOAWAY"
            assert bad.renders_of("goaway_reject") >= 1
            # The backend that went away is reconnected and serves again.
            deadline = time.monotonic() + 5
            rid = 100
            while True:
                r = c.call(rid, rid)
                assert_good_frame(r)
                if r.backend == bad.addr:
                    break
                assert time.monotonic() < deadline, "the backend was never used again after GOAWAY"
                rid += 1
        stop_clean(p)


def test_goaway_accepting_a_call_lets_it_finish(procs):
    with HostileBackend() as h:
        p, port = proxy_for(procs, [h], ONE_ATTEMPT)
        with Client(port) as c:
            r = c.call(1, 1, data=hostile("goaway_finish"))
            assert_good_frame(r, h)
            assert r.attempts == 1, describe(r)
            assert_good_frame(first_frame_within(c, 5, 2), h)
        assert h.connections >= 2, "no new connection after GOAWAY"
        stop_clean(p)


def test_silent_backend_does_not_stall_the_others(procs):
    with HostileBackend(silent=True) as silent, HostileBackend(obey_input=False) as good:
        p, port = start_framegate(procs, [silent.addr, good.addr], *RETRY_ONCE)
        wait_proxy_health(port, lambda h: h["healthy_count"] >= 1, what="the good backend healthy")
        t0 = time.monotonic()
        with Client(port) as c:
            replies = c.run(20, inflight=4)
        took = time.monotonic() - t0
        for r in replies:
            assert_good_frame(r, good)
        # A connect that never completes costs at most the connect timeout (2 s), once.
        assert took < 8, f"20 frames took {took:.1f}s next to a silent backend"
        assert silent.connections >= 1
        stop_clean(p)


def test_only_a_silent_backend_answers_unavailable_quickly(procs):
    with HostileBackend(silent=True) as silent:
        p, port = start_framegate(procs, [silent.addr], "--timeout-ms", "1000",
                                  "--log-frames", "off")
        with Client(port) as c:
            t0 = time.monotonic()
            r = c.call(1, 1)
            took = time.monotonic() - t0
        assert r.type == ERROR and r.status in (UNAVAILABLE, DEADLINE_EXCEEDED), describe(r)
        assert took < 5, f"the answer took {took:.1f}s"
        stop_clean(p)


def test_hung_call_gets_deadline_exceeded_and_the_connection_serves_on(procs):
    with HostileBackend() as h:
        flags = tuple(f if f != "3000" else "500" for f in ONE_ATTEMPT)
        p, port = proxy_for(procs, [h], flags)
        with Client(port) as c:
            t0 = time.monotonic()
            r = c.call(1, 1, data=hostile("hang"))
            took = time.monotonic() - t0
            assert_error(r, DEADLINE_EXCEEDED, request_id=1, frame=1)
            # --timeout-ms 500, one attempt: DEADLINE_EXCEEDED at 500 ms, not much later.
            assert 0.49 < took < 0.65, f"deadline of 500 ms answered after {took:.2f}s"
            assert_good_frame(c.call(2, 2), h)
        assert h.connections == 1, "a deadline should cancel the stream, not the connection"
        stop_clean(p)


def test_ping_settings_and_empty_data_floods_are_bounded(procs):
    with HostileBackend() as h:
        p, port = proxy_for(procs, [h], ONE_ATTEMPT)
        with Client(port) as c:
            r = c.call(1, 1, data=hostile("flood"))
            # Either nghttp2 absorbed the flood and the reply came, or the connection was
            # dropped as flooding and the call failed over to UNAVAILABLE; never a hang.
            if r.type == FRAME:
                assert_good_frame(r, h)
            else:
                assert_error(r, UNAVAILABLE, request_id=1, frame=1)
            assert_good_frame(first_frame_within(c, 5, 2), h)
        assert p.alive()
        stop_clean(p)
