"""Issue 13, scale simulation: `frameserver --ports N` is N backends in one process (each port
its own model queue and health), and one framegate spreads frames over all of them: every
backend becomes healthy, a round of N frames visits each exactly once, and both processes stop
cleanly. bench/scale.sh measures the same set-up at 1,000 backends."""

import fgtest
from fgproxy import Client, assert_frame, start_framegate, wait_proxy_health

N = 64


def test_one_framegate_over_many_backends_of_one_frameserver(procs):
    base = fgtest.free_port_range(N)
    fs = procs.start(
        [fgtest.binary(fgtest.FRAMESERVER), "--host", fgtest.HOST, "--port", base, "--ports", N,
         # Small images: each port's model draws its whole image cache while it "loads", on the
         # one loop of the process (slow under ASan at the default size).
         "--load-ms", "0", "--infer-ms", "1", "--width", "16", "--height", "8"],
        name="frameserver-many",
    )
    for i in (0, N // 2, N - 1):
        fs.wait_log(rf"listening on 127\.0\.0\.1:{base + i} ", 10)
    addrs = [f"{fgtest.HOST}:{base + i}" for i in range(N)]
    proxy, port = start_framegate(procs, addrs, "--log-frames", "off", "--health-interval-ms", "200",
                                  "--balance", "round-robin")  # N frames, N backends: a rotation
    wait_proxy_health(port, lambda h: h["healthy_count"] == N, timeout=20, what=f"{N} healthy backends")
    with Client(port) as cl:
        seq = cl.run(N)
    for r in seq:
        assert_frame(r, size=None)
        assert (r.width, r.height, len(r.payload)) == (16, 8, 16 * 8 * 3)
    assert sorted(r.backend for r in seq) == sorted(addrs)
    assert proxy.stop() == 0
    assert fs.stop() == 0
    assert fs.log().count("frameserver stopped") == N
