"""Issue 6 section 5, SIGHUP: framegate re-reads --grpc-addrs-file and applies it without
dropping connections or frames in flight. Under load on several connections: an added backend
starts receiving frames once healthy, a removed one is drained (its frames in flight finish,
then it is gone from /health and gets nothing more), a bad file is logged and changes nothing.
Zero replies are lost: every request gets exactly one reply, a FRAME."""

import signal
import time

import fgtest
from fgload import LoadThread, finish_all
from fgproxy import Client, assert_frame, get_health, start_framegate, wait_proxy_health

CONNECTIONS, WINDOW = 4, 8


def addresses(health):
    return [b["address"] for b in health["backends"]]


def write_file(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.rename(path)  # atomic, as an operator's tool should do it


def reload(proxy, path, text, expect_log):
    """Rewrite the file, SIGHUP, wait for the proxy's log line about it."""
    before = proxy.log().count(expect_log)
    write_file(path, text)
    proxy.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while proxy.log().count(expect_log) <= before:
        assert time.monotonic() < deadline, f"no {expect_log!r} after SIGHUP; log:\n{proxy.log()[-2000:]}"
        time.sleep(0.02)


def test_reload_under_load(procs, tmp_path):
    a, b, c = (fgtest.serving_frameserver(procs, "--infer-ms", "3")[1] for _ in range(3))
    path = tmp_path / "backends.txt"
    write_file(path, f"# two to start\n{a}\n{b}\n")
    proxy, port = start_framegate(
        procs, [], "--grpc-addrs-file", path, "--log-frames", "off", "--health-interval-ms", "100",
        "--balance", "round-robin",
    )
    assert f"backends (2): {a}, {b}" in proxy.log()
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="2 healthy backends")

    loads = [LoadThread(port, WINDOW, first_id=1 + i * 1_000_000) for i in range(CONNECTIONS)]
    for t in loads:
        t.start()
    time.sleep(0.5)

    # A bad file: logged, nothing changes, traffic goes on.
    reload(proxy, path, f"{a}\nnot-an-address\n", "keeping the current backends")
    assert "not-an-address" in proxy.log()
    _, h = get_health(port)
    assert addresses(h) == [a, b] and h["healthy_count"] == 2, h

    # Add c: it takes frames once a Check said SERVING.
    reload(proxy, path, f"{a}, {b}\n{c}  # new\n", "backends reloaded: 3 configured (1 added, 0 removed)")
    waited, _ = wait_proxy_health(port, lambda h: h["healthy_count"] == 3, what="c healthy")
    t_c = time.monotonic()
    time.sleep(0.7)
    to_c = sum(t.count_since(t_c, c) for t in loads)
    all_since = sum(t.count_since(t_c) for t in loads)
    assert to_c > 0.2 * all_since, f"added backend got {to_c} of {all_since} frames"

    # Remove b while frames are in flight on it: it drains, then disappears.
    t_rm = time.monotonic()
    reload(proxy, path, f"{a}\n{c}\n", "backends reloaded: 2 configured (0 added, 1 removed)")
    wait_proxy_health(port, lambda h: addresses(h) == [a, c], what="b drained and gone")
    proxy.wait_log(rf"{b} removed \(drained\)", 5)
    time.sleep(0.5)

    replies = finish_all(loads, b, t_rm, "the removed backend after it was drained")

    # The connections were never dropped, and the new list rotates exactly.
    with Client(port) as cl:
        seq = cl.run(40, first_id=50_000_000)
    for r in seq:
        assert_frame(r)
    per = {x: sum(r.backend == x for r in seq) for x in (a, b, c)}
    assert per == {a: 20, b: 0, c: 20}, per
    print(
        f"RELOAD: {len(replies)} frames over {CONNECTIONS} connections, 0 lost, 0 errors; "
        f"c healthy {waited * 1000:.0f} ms after SIGHUP and got {to_c}/{all_since} frames in the "
        f"next 0.7 s; b drained; after: {per}"
    )


def test_sighup_without_file_changes_nothing(procs):
    _, a = fgtest.serving_frameserver(procs)
    proxy, port = start_framegate(procs, [a], "--log-frames", "off")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 1)
    proxy.signal(signal.SIGHUP)
    proxy.wait_log("no --grpc-addrs-file", 5)
    with Client(port) as cl:
        assert_frame(cl.call(1, 1))
    assert proxy.alive()
