"""The frame cache (issue 11): a real redis-server (Debian) on a free loopback port, real
frameservers with --cacheable, the built framegate with --cache-redis / --cache-mem.

Every frame a backend rendered is counted twice, independently: by the client (replies whose
backend is not "cache") and by the frameserver (its stop line "N frames served"); the two must
agree, so "one render" claims are checked on the backend side.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import fgproxy
import fgtest
from fgproxy import (
    FRAME,
    FRAME_BYTES,
    HOST,
    RGB24,
    Client,
    assert_frame,
    describe,
    get_health,
    http_get,
    parse_prometheus,
    start_framegate,
    wait_proxy_health,
)

MODEL = "sanders"
BUDGET_US = 2000  # the default --cache-budget-us


def asan_build():
    """framegate built with AddressSanitizer (scripts/test.sh's second pass): its loop runs
    several times slower, so time windows beside the budget widen."""
    out = subprocess.run(["readelf", "-d", str(fgtest.binary("src/proxy/framegate"))],
                         capture_output=True, text=True).stdout
    return "libasan" in out


SERVED_RE = re.compile(r"frameserver stopped: (\d+) frames served")


# ----------------------------------------------------------------------------- helpers


def start_redis(procs, port=None, *flags):
    """A redis-server on 127.0.0.1 (a free port unless given), nothing persisted."""
    port = port or fgtest.free_port()
    args = ["redis-server", "--bind", HOST, "--port", str(port), "--save", "", "--appendonly",
            "no", "--protected-mode", "no", *flags]
    p = procs.start(args, name="redis")
    p.wait_log(r"Ready to accept connections", 10.0)
    return p, port


def resp(port, *args):
    """One Redis command over a fresh socket; the RESP reply, parsed minimally."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")
        line = f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2]
        raise AssertionError(f"unexpected RESP {line!r}")


def cache_key(model, data):
    """The key the contract of fg_cache_codec.h names: fg:v1: + SHA-256(len | model | input)."""
    m = model.encode()
    return "fg:v1:" + hashlib.sha256(bytes([len(m)]) + m + data).hexdigest()


def tone(level):
    """A distinct 1600-byte PCM input per level."""
    return fgtest.pcm_tone(800, amplitude=level, period=40)


def stopped_cleanly(*procs):
    """Stops each process (SIGTERM) and checks it exited 0."""
    for p in procs:
        rc = p.stop()
        assert rc == 0, f"{p.args[0]} exited {rc}: {p.log()[-2000:]}"


def served_by(proc):
    """Stops a frameserver; returns its "N frames served"."""
    assert proc.stop() == 0, proc.log()[-2000:]
    m = SERVED_RE.search(proc.log())
    assert m, proc.log()[-2000:]
    return int(m.group(1))


def metrics(port):
    status, _, body = http_get(port, "/metrics")
    assert status == 200
    fams = parse_prometheus(body.decode())
    return {name: f for name, f in fams.items()}


def metric(port, name):
    fams = metrics(port)
    fam = fams["framegate_" + name]
    return sum(v for _, _, v in fam["samples"]) if isinstance(fam, dict) else fam


def counter(port, name):
    status, _, body = http_get(port, "/metrics")
    assert status == 200
    m = re.search(rb"^framegate_" + name.encode() + rb" (\d+)$", body, re.M)
    assert m, f"{name} not in /metrics"
    return int(m.group(1))


class Tally:
    """Replies seen by the client: renders (backend named) and cache answers."""

    def __init__(self):
        self.rendered = 0
        self.cached = 0

    def add(self, r):
        assert r.type == FRAME and r.status == 0, describe(r)
        assert len(r.payload) == FRAME_BYTES and (r.width, r.height, r.format) == (128, 64, RGB24)
        if r.backend == "cache":
            assert r.attempts == 0 and r.grpc_us == 0, describe(r)
            self.cached += 1
        else:
            assert r.attempts >= 1, describe(r)
            self.rendered += 1
        return r


def wait_cacheable(c, tally, port, timeout=10.0):
    """Until the proxy caches MODEL (its ListModels answered): one input sent until a reply
    comes from the cache. Its renders are tallied."""
    data = b"warm-up" * 10
    end = time.monotonic() + timeout
    rid = 900000
    while time.monotonic() < end:
        rid += 1
        r = tally.add(c.call(rid, rid, MODEL, data))
        if r.backend == "cache":
            return
        time.sleep(0.05)
    raise AssertionError(f"no cache hit within {timeout}s: {get_health(port)}")


@pytest.fixture
def cached_setup(procs):
    """frameserver --cacheable, redis-server, framegate --cache-redis; yields a namespace."""

    def make(*proxy_flags, redis=True, fs_flags=()):
        ns = type("Setup", (), {})()
        ns.fs, ns.fs_addr = fgtest.serving_frameserver(procs, "--cacheable", *fs_flags)
        flags = list(proxy_flags)
        if redis:
            ns.redis, ns.redis_port = start_redis(procs)
            flags = ["--cache-redis", f"redis://{HOST}:{ns.redis_port}"] + flags
        if "--cache-budget-us" not in flags:
            # Hits must not turn into misses because a shared machine was slow for 2 ms: the
            # budget itself is tested with the fake Redis below.
            flags += ["--cache-budget-us", "100000"]
        ns.proxy, ns.port = start_framegate(procs, [ns.fs_addr], "--log-frames", "off", *flags)
        wait_proxy_health(ns.port, lambda h: h["healthy"], what="a healthy backend")
        if redis:
            wait_proxy_health(ns.port, lambda h: h["cache"]["redis"] == "connected",
                              what="redis connected")
        return ns

    return make


# ----------------------------------------------------------------------------- tests


def test_redis_hit_is_the_backend_image_from_cache(procs, cached_setup):
    s = cached_setup()
    tally = Tally()
    with Client(s.port) as c:
        wait_cacheable(c, tally, s.port)
        data = tone(12000)
        first = tally.add(c.call(1, 1, MODEL, data))
        assert first.backend == s.fs_addr, describe(first)
        assert_frame(first, 1, 1)
        # Stored in Redis under the documented key, as header + the very image bytes (the SET
        # goes out as the reply does: it may land a moment later).
        end = time.monotonic() + 2
        while (value := resp(s.redis_port, "GET", cache_key(MODEL, data))) is None:
            assert time.monotonic() < end, "never stored in Redis"
            time.sleep(0.01)
        assert value is not None and value[:4] == b"FGC1" and value[16:] == first.payload
        hit = tally.add(c.call(2, 2, MODEL, data))
        assert hit.backend == "cache" and hit.attempts == 0 and hit.grpc_us == 0, describe(hit)
        assert hit.request_id == 2 and hit.frame == 2
        assert hit.payload == first.payload
        other = tally.add(c.call(3, 3, MODEL, tone(3000)))  # another input: a miss
        assert other.backend == s.fs_addr and other.payload != first.payload
        assert c.quiet_for(0.3) == []
    _, h = get_health(s.port)
    assert h["cache"]["tiers"] == ["redis"] and h["cache"]["redis"] == "connected", h["cache"]
    assert h["cache"]["redis_hits"] >= 2 and h["cache"]["misses"] >= 2, h["cache"]
    assert counter(s.port, "cache_redis_hits_total") == h["cache"]["redis_hits"]
    stopped_cleanly(s.proxy, s.redis)
    assert served_by(s.fs) == tally.rendered


def test_ttl_expires_in_redis(procs, cached_setup):
    s = cached_setup("--cache-ttl-s", "1")
    tally = Tally()
    with Client(s.port) as c:
        wait_cacheable(c, tally, s.port)
        data = tone(7000)
        assert tally.add(c.call(1, 1, MODEL, data)).backend == s.fs_addr
        end = time.monotonic() + 2
        while (ttl := resp(s.redis_port, "TTL", cache_key(MODEL, data))) == -2:  # not there yet
            assert time.monotonic() < end, "never stored in Redis"
            time.sleep(0.01)
        assert ttl == 1, ttl
        assert tally.add(c.call(2, 2, MODEL, data)).backend == "cache"
        time.sleep(1.6)  # Redis expires it
        assert resp(s.redis_port, "EXISTS", cache_key(MODEL, data)) == 0
        assert tally.add(c.call(3, 3, MODEL, data)).backend == s.fs_addr
        assert tally.add(c.call(4, 4, MODEL, data)).backend == "cache"
    stopped_cleanly(s.proxy, s.redis)
    assert served_by(s.fs) == tally.rendered


@pytest.mark.parametrize("tier", ["redis", "memory"])
def test_concurrent_identical_frames_render_once(procs, cached_setup, tier):
    flags = ("--cache-mem", "4MiB") if tier == "memory" else ()
    s = cached_setup(*flags, redis=tier == "redis", fs_flags=("--infer-ms", "150"))
    tally = Tally()
    n = 8
    clients = [Client(s.port) for _ in range(n)]
    try:
        wait_cacheable(clients[0], tally, s.port)
        data = tone(15000)
        for i, c in enumerate(clients):
            c.send(100 + i, 100 + i, MODEL, data)
        replies = [tally.add(c.recv()) for c in clients]
        for i, r in enumerate(replies):
            assert r.request_id == 100 + i and r.frame == 100 + i, describe(r)
        rendered = [r for r in replies if r.backend != "cache"]
        assert len(rendered) == 1, [describe(r) for r in replies]
        assert all(r.payload == rendered[0].payload for r in replies)
        for c in clients:  # exactly one reply each
            assert c.quiet_for(0.2) == []
    finally:
        for c in clients:
            c.close()
    assert counter(s.port, "cache_coalesced_total") >= n - 1
    stopped_cleanly(s.proxy, *([s.redis] if tier == "redis" else []))
    assert served_by(s.fs) == tally.rendered


def test_memory_tier_alone_hits_and_evicts(procs, cached_setup):
    # Room for two images (24576 bytes each plus bookkeeping), not three.
    s = cached_setup("--cache-mem", "60KiB", redis=False)
    tally = Tally()
    with Client(s.port) as c:
        wait_cacheable(c, tally, s.port)
        a, b, d = tone(1000), tone(2000), tone(4000)
        ra = tally.add(c.call(1, 1, MODEL, a))
        assert ra.backend == s.fs_addr
        hit = tally.add(c.call(2, 2, MODEL, a))
        assert hit.backend == "cache" and hit.payload == ra.payload
        assert tally.add(c.call(3, 3, MODEL, b)).backend == s.fs_addr
        assert tally.add(c.call(4, 4, MODEL, d)).backend == s.fs_addr  # evicts a (least recent)
        assert tally.add(c.call(5, 5, MODEL, d)).backend == "cache"
        assert tally.add(c.call(6, 6, MODEL, a)).backend == s.fs_addr
    _, h = get_health(s.port)
    assert h["cache"]["tiers"] == ["memory"] and h["cache"]["redis"] == "off", h["cache"]
    assert h["cache"]["memory_items"] == 2 and h["cache"]["memory_bytes"] <= 60 * 1024
    assert h["cache"]["memory_hits"] >= 2
    stopped_cleanly(s.proxy)
    assert served_by(s.fs) == tally.rendered


def test_models_not_cacheable_are_never_cached(procs):
    redis, rport = start_redis(procs)
    plain, plain_addr = fgtest.serving_frameserver(procs)  # not --cacheable
    proxy, port = start_framegate(procs, [plain_addr], "--log-frames", "off", "--cache-mem",
                                  "4MiB", "--cache-redis", f"redis://{HOST}:{rport}")
    wait_proxy_health(port, lambda h: h["healthy"] and h["cache"]["redis"] == "connected",
                      what="healthy, redis")
    time.sleep(0.3)  # ListModels answered long since
    data = tone(9000)
    with Client(port) as c:
        for i in range(1, 21):
            r = c.call(i, i, MODEL, data)
            assert_frame(r, i, i)
            assert r.backend == plain_addr, describe(r)
    assert resp(rport, "DBSIZE") == 0
    _, h = get_health(port)
    assert h["cache"]["hits"] == 0 and h["cache"]["misses"] == 0 and h["cache"]["stores"] == 0
    assert h["cache"]["bypassed"] >= 20 and h["cache"]["memory_items"] == 0
    stopped_cleanly(proxy, redis)
    assert served_by(plain) == 20


def test_a_pool_caches_only_what_every_backend_declares(procs):
    """One backend --cacheable, one not: the model is not cacheable."""
    a, a_addr = fgtest.serving_frameserver(procs, "--cacheable")
    b, b_addr = fgtest.serving_frameserver(procs)
    proxy, port = start_framegate(procs, [a_addr, b_addr], "--log-frames", "off", "--cache-mem",
                                  "4MiB")
    wait_proxy_health(port, lambda h: h["healthy_count"] == 2, what="two healthy")
    time.sleep(0.3)
    with Client(port) as c:
        for i in range(1, 11):
            r = c.call(i, i, MODEL, tone(5000))
            assert r.backend in (a_addr, b_addr), describe(r)
    _, h = get_health(port)
    assert h["cache"]["hits"] == 0 and h["cache"]["bypassed"] >= 10, h["cache"]
    stopped_cleanly(proxy)
    assert served_by(a) + served_by(b) == 10


def test_redis_killed_mid_load_loses_no_frame_and_recovers(procs, cached_setup):
    s = cached_setup(fs_flags=("--infer-ms", "5"))
    tally = Tally()
    inputs = [tone(1000 + 500 * i) for i in range(5)]
    with Client(s.port) as c:
        wait_cacheable(c, tally, s.port)
        rid = 0

        def burst(n):
            nonlocal rid
            got = []
            for _ in range(n):
                rid += 1
                r = tally.add(c.call(rid, rid, MODEL, inputs[rid % len(inputs)]))
                assert r.request_id == rid
                got.append(r)
            return got

        warm = burst(40)
        assert sum(r.backend == "cache" for r in warm[-20:]) == 20
        s.redis.signal(signal.SIGKILL)
        s.redis.wait(5)
        down = burst(60)  # every one answered: from backends while Redis is gone
        assert all(r.type == FRAME for r in down)
        wait_proxy_health(s.port, lambda h: h["cache"]["redis"] == "disconnected", 5.0,
                          "redis seen down")
        redis2, _ = start_redis(procs, s.redis_port)
        waited, _ = wait_proxy_health(s.port, lambda h: h["cache"]["redis"] == "connected",
                                      10.0, "redis reconnected")
        again = burst(40)
        # Redis came back empty: each input is rendered once more, then served from it.
        assert sum(r.backend == "cache" for r in again[-20:]) == 20, [r.backend for r in again]
        assert c.quiet_for(0.3) == []
    print(f"CACHE-KILL: redis reconnected {waited:.2f}s after restart; "
          f"{tally.rendered} rendered, {tally.cached} from cache, 0 lost")
    assert counter(s.port, "cache_redis_reconnects_total") >= 1
    stopped_cleanly(s.proxy, redis2)
    assert served_by(s.fs) == tally.rendered


class FakeRedis:
    """A TCP server on a free loopback port that speaks bad Redis: mode "garbage" answers
    anything with bytes that are not RESP; "silent" answers PING and then nothing; "wrong"
    answers PING, and GET with a string that is not a cache value; "huge" answers PING, and GET
    with a 100 MB string it starts sending (4 MiB of it)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if self.mode == "garbage":
                    conn.sendall(b"\x00\xffnot redis at all\r\n")
                    continue
                n = data.count(b"PING")
                if n:
                    conn.sendall(b"+PONG\r\n" * n)
                if self.mode == "huge" and b"GET" in data:
                    conn.sendall(b"$100000000\r\n" + b"x" * (4 << 20))
                if self.mode == "wrong":
                    for _ in range(data.count(b"GET")):
                        conn.sendall(b"$5\r\nhello\r\n")
                    for _ in range(data.count(b"\r\nSET\r\n")):
                        conn.sendall(b"+OK\r\n")
        except OSError:
            return

    def close(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.mark.parametrize("mode", ["garbage", "silent", "wrong", "huge"])
def test_a_bad_redis_never_costs_a_frame(procs, mode):
    fake = FakeRedis(mode)
    # "wrong" is about a wrong value counting as an error: a budget its (immediate) answers
    # always meet, however late a busy machine wakes the fake's thread.
    budget = 50000 if mode == "wrong" else BUDGET_US
    try:
        fs, fs_addr = fgtest.serving_frameserver(procs, "--cacheable")
        proxy, port = start_framegate(procs, [fs_addr], "--log-frames", "off", "--cache-redis",
                                      f"redis://{HOST}:{fake.port}", "--cache-budget-us",
                                      str(budget))
        wait_proxy_health(port, lambda h: h["healthy"], what="healthy")
        if mode != "garbage":
            wait_proxy_health(port, lambda h: h["cache"]["redis"] == "connected", 5.0,
                              "the fake's PING answered")
        time.sleep(0.3)
        tally = Tally()
        extra = []
        with Client(port) as c:
            for i in range(1, 61):
                r = tally.add(c.call(i, i, MODEL, tone(2000 + 100 * (i % 3))))
                assert r.backend == fs_addr, describe(r)
                extra.append(r.total_us - r.grpc_us)  # the proxy's time beside the backend call
            assert c.quiet_for(0.2) == []
        _, h = get_health(port)
        extra.sort()
        p50, p90, worst = extra[len(extra) // 2], extra[len(extra) * 9 // 10], extra[-1]
        print(f"CACHE-FAKE-{mode}: 60 frames from the backend; proxy time beside the backend "
              f"call p50 {p50} p90 {p90} max {worst} us; cache {h['cache']}")
        # At most the lookup budget (counted in whole milliseconds by the loop's timer) plus
        # scheduling; p90, as a shared 2-core machine stalls any process now and then (the max
        # only has to stay far inside the 1 s deadline).
        slack = 18000 if asan_build() else 6000
        assert p90 < budget + slack, extra
        assert worst < 200000, extra
        if mode == "silent":
            assert h["cache"]["timeouts"] >= 1
        if mode == "huge":  # dropped instead of buffering 100 MB
            assert h["cache"]["redis_reconnects"] >= 1 and h["cache"]["errors"] >= 1
            assert "reply larger than any cache value" in proxy.log(), proxy.log()[-2000:]
        if mode == "wrong":  # some "hello"s arrived in time and were judged not a value
            assert h["cache"]["errors"] > h["cache"]["timeouts"] and h["cache"]["redis_hits"] == 0
        assert h["cache"]["hits"] == 0
        assert proxy.alive()
        stopped_cleanly(proxy)
        assert served_by(fs) == 60
    finally:
        fake.close()


def test_redis_full_still_serves(procs):
    """A Redis out of memory refuses every SET (noeviction): frames come from the backend."""
    fs, fs_addr = fgtest.serving_frameserver(procs, "--cacheable")
    redis, rport = start_redis(procs, None, "--maxmemory", "1", "--maxmemory-policy",
                               "noeviction")
    proxy, port = start_framegate(procs, [fs_addr], "--log-frames", "off", "--cache-redis",
                                  f"redis://{HOST}:{rport}")
    wait_proxy_health(port, lambda h: h["healthy"] and h["cache"]["redis"] == "connected",
                      what="healthy, redis")
    time.sleep(0.3)
    with Client(port) as c:
        for i in range(1, 21):
            r = c.call(i, i, MODEL, tone(3000))
            assert_frame(r, i, i)
            assert r.backend == fs_addr
    _, h = get_health(port)
    assert h["cache"]["errors"] >= 1 and h["cache"]["redis_hits"] == 0, h["cache"]
    stopped_cleanly(proxy, redis)
    assert served_by(fs) == 20


def test_waiters_render_when_the_first_frame_goes_away(procs, cached_setup):
    """The client whose frame was being rendered for identical ones leaves: one of those renders
    instead, and each still gets exactly one FRAME."""
    s = cached_setup("--cache-mem", "4MiB", redis=False, fs_flags=("--infer-ms", "300"))
    tally = Tally()
    first = Client(s.port)
    others = [Client(s.port) for _ in range(3)]
    try:
        wait_cacheable(others[0], tally, s.port)
        data = tone(11000)
        first.send(1, 1, MODEL, data)
        time.sleep(0.05)  # its render is under way
        for i, c in enumerate(others):
            c.send(10 + i, 10 + i, MODEL, data)
        time.sleep(0.05)
        first.close()  # the leader's call is cancelled
        replies = [tally.add(c.recv()) for c in others]
        assert [r.request_id for r in replies] == [10, 11, 12]
        assert sum(r.backend == s.fs_addr for r in replies) == 1, [describe(r) for r in replies]
        assert all(r.payload == replies[0].payload for r in replies)
        for c in others:
            assert c.quiet_for(0.2) == []
    finally:
        for c in others:
            c.close()
    stopped_cleanly(s.proxy)
    # The cancelled render may or may not have finished at the backend before the reset.
    assert served_by(s.fs) in (tally.rendered, tally.rendered + 1)


def test_bad_cache_flags_refused(procs):
    for flags in (["--cache-redis", "http://127.0.0.1:6379"], ["--cache-redis", "redis://h:0"],
                  ["--cache-mem", "lots"], ["--cache-max-item", "0"]):
        p = procs.start([fgtest.binary("src/proxy/framegate"), "--host", HOST, "--ws-port", "0",
                         "--grpc-addrs", "127.0.0.1:1", *flags], name="framegate-bad",
                        expect_exit=2)
        assert p.wait(10) == 2, (flags, p.log())
        assert "cache" in p.log(), p.log()


def test_list_models_asked_again_after_a_backend_restart(procs):
    """A backend restarted on its port without --cacheable stops the caching of its model; with
    --cacheable again, caching resumes: ListModels is asked again on each reconnect."""
    port_b = fgtest.free_port()
    fs, addr = fgproxy.frameserver_on(procs, port_b, "--cacheable")
    proxy, port = start_framegate(procs, [addr], "--log-frames", "off", "--cache-mem", "4MiB",
                                  "--health-interval-ms", "100")
    wait_proxy_health(port, lambda h: h["healthy"], what="healthy")
    data = tone(6000)
    with Client(port) as c:
        rid = 0

        def until(backend, timeout=10.0):
            nonlocal rid
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                rid += 1
                r = c.call(rid, rid, MODEL, data)
                if r.type == FRAME and r.backend == backend:
                    return
                time.sleep(0.05)
            raise AssertionError(f"no frame from {backend} within {timeout}s")

        until("cache")
        assert fs.stop() == 0
        fs2, _ = fgproxy.frameserver_on(procs, port_b)  # not cacheable now
        wait_proxy_health(port, lambda h: h["healthy"], what="healthy again")
        until(addr)
        for _ in range(10):  # the image cached before is not served any more
            rid += 1
            r = c.call(rid, rid, MODEL, data)
            assert r.backend == addr, describe(r)
        assert fs2.stop() == 0
        fs3, _ = fgproxy.frameserver_on(procs, port_b, "--cacheable")
        wait_proxy_health(port, lambda h: h["healthy"], what="healthy again")
        until("cache")
    stopped_cleanly(proxy, fs3)


def test_oversized_images_are_not_stored(procs, cached_setup):
    """Images over --cache-max-item (24 KiB frames, 16 KiB limit) are passed on, never stored."""
    s = cached_setup("--cache-mem", "4MiB", "--cache-max-item", "16KiB")
    tally = Tally()
    data = tone(8000)
    with Client(s.port) as c:
        time.sleep(0.3)  # ListModels known (no hit can show it here)
        for i in range(1, 6):
            r = tally.add(c.call(i, i, MODEL, data))
            assert r.backend == s.fs_addr, describe(r)
    assert resp(s.redis_port, "DBSIZE") == 0
    _, h = get_health(s.port)
    assert h["cache"]["too_large"] == 5 and h["cache"]["stores"] == 0, h["cache"]
    assert h["cache"]["misses"] == 5 and h["cache"]["memory_items"] == 0, h["cache"]
    stopped_cleanly(s.proxy, s.redis)
    assert served_by(s.fs) == 5
