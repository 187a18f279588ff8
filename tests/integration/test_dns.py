"""Issue 13, DNS service discovery: `--grpc-addrs dns:///NAME:PORT` (every A record one backend,
listed by IP:PORT with its dns_name), `dns+srv:///NAME` (a port per SRV record) and mixed lists,
resolved by c-ares against a real dnsmasq on a free loopback port, re-resolved every
--dns-refresh-ms and soon after a backend connection fails. A record set changed under load:
the new address joins once SERVING, the removed one drains, no frame is lost. A resolver that
times out, answers garbage or NXDOMAIN leaves the backend set as it was; each error is logged
once per change and counted in framegate_dns_errors_total."""

import re
import subprocess
import time

import pytest

import fgtest
from fgdns import Dnsmasq, TinyDNS, frameserver_at
from fgload import LoadThread, finish_all
from fgproxy import (
    Client,
    assert_frame,
    get_health,
    http_get,
    parse_prometheus,
    start_framegate,
    wait_proxy_health,
)

CONNECTIONS, WINDOW = 4, 8


def addresses(health):
    return [b["address"] for b in health["backends"]]


def metric(port, name):
    status, _, body = http_get(port, "/metrics")
    assert status == 200
    return parse_prometheus(body.decode())[name]["samples"][0][2]


def hosts(*ips, name="frames.test"):
    return "".join(f"{ip} {name}\n" for ip in ips)


def stop_proxy(proxy):
    rc = proxy.stop()
    assert rc == 0, f"framegate exited {rc}"


def test_dns_records_change_under_load(procs, tmp_path):
    port = fgtest.free_port()
    a, b, c = (frameserver_at(procs, f"127.0.0.{i}", port, "--infer-ms", "3")[1] for i in (2, 3, 4))
    dns = Dnsmasq(procs, tmp_path, hosts("127.0.0.2", "127.0.0.3"))
    proxy, pport = start_framegate(
        procs, [f"dns:///frames.test:{port}"], "--dns-servers", dns.server, "--dns-refresh-ms", "200",
        "--health-interval-ms", "100", "--log-frames", "off",
    )
    _, h = wait_proxy_health(pport, lambda h: h["healthy_count"] == 2, what="2 resolved backends healthy")
    assert addresses(h) == [a, b], h
    assert all(e["dns_name"] == "frames.test" for e in h["backends"]), h

    loads = [LoadThread(pport, WINDOW, first_id=1 + i * 1_000_000) for i in range(CONNECTIONS)]
    for t in loads:
        t.start()
    time.sleep(0.4)

    # A third record: it joins once its Check said SERVING and takes its share.
    t_add = time.monotonic()
    dns.set_hosts(hosts("127.0.0.2", "127.0.0.3", "127.0.0.4"))
    waited, h = wait_proxy_health(pport, lambda h: h["healthy_count"] == 3, what="the new record healthy")
    assert addresses(h) == [a, b, c], h
    joined = time.monotonic() - t_add
    t_c = time.monotonic()
    time.sleep(0.6)
    to_c = sum(t.count_since(t_c, c) for t in loads)
    all_since = sum(t.count_since(t_c) for t in loads)
    assert to_c > 0.2 * all_since, f"added backend got {to_c} of {all_since} frames"

    # The first record goes: that backend drains, then leaves /health.
    t_rm = time.monotonic()
    dns.set_hosts(hosts("127.0.0.3", "127.0.0.4"))
    wait_proxy_health(pport, lambda h: addresses(h) == [b, c], what="127.0.0.2 drained and gone")
    proxy.wait_log(rf"{re.escape(a)} removed \(drained\)", 5)
    gone = time.monotonic() - t_rm
    time.sleep(0.4)
    replies = finish_all(loads, a, t_rm, "the removed record after it was drained")
    assert metric(pport, "framegate_dns_changes_total") >= 2
    assert metric(pport, "framegate_dns_errors_total") == 0
    stop_proxy(proxy)
    dns.stop()
    print(
        f"DNS-CHANGE: {len(replies)} frames over {CONNECTIONS} connections, 0 lost; added record "
        f"healthy {joined * 1000:.0f} ms after the change (refresh 200 ms), removed one gone "
        f"{gone * 1000:.0f} ms after"
    )


def test_dns_reresolves_soon_after_a_connection_failure(procs, tmp_path):
    port = fgtest.free_port()
    fs_a, a = frameserver_at(procs, "127.0.0.2", port)
    _, b = frameserver_at(procs, "127.0.0.3", port)
    dns = Dnsmasq(procs, tmp_path, hosts("127.0.0.2"))
    proxy, pport = start_framegate(
        procs, [f"dns:///frames.test:{port}"], "--dns-servers", dns.server,
        "--dns-refresh-ms", "60000", "--health-interval-ms", "100", "--log-frames", "off",
    )
    wait_proxy_health(pport, lambda h: addresses(h) == [a] and h["healthy_count"] == 1)
    # The record moves; the periodic refresh is a minute away. The old backend dies: the
    # failed connection makes the proxy ask DNS again within about a second.
    dns.set_hosts(hosts("127.0.0.3"))
    t0 = time.monotonic()
    assert fs_a.stop() == 0
    waited, _ = wait_proxy_health(
        pport, lambda h: addresses(h) == [b] and h["healthy_count"] == 1, timeout=3.0,
        what="the moved record found after the connection failure",
    )
    with Client(pport) as cl:
        r = cl.call(1, 1)
    assert_frame(r)
    assert r.backend == b
    stop_proxy(proxy)
    dns.stop()
    print(f"DNS-SOON: new record in use {(time.monotonic() - t0) * 1000:.0f} ms after the backend died")


def test_dns_srv_and_mixed_list(procs, tmp_path):
    """SRV records (a port each) and a plain address in one list, with --workers 2: every
    worker's pool gets the resolved list."""
    p1 = fgtest.free_port_range(2)
    p2 = p1 + 1
    _, a = frameserver_at(procs, "127.0.0.1", p1)
    _, b = frameserver_at(procs, "127.0.0.1", p2)
    _, static = fgtest.serving_frameserver(procs)
    dns = Dnsmasq(
        procs, tmp_path, hosts("127.0.0.1", name="fs.test"),
        srv=[f"_grpc._tcp.frames.test,fs.test,{p1},0,0", f"_grpc._tcp.frames.test,fs.test,{p2},0,0"],
    )
    proxy, pport = start_framegate(
        procs, [static, "dns+srv:///_grpc._tcp.frames.test"], "--dns-servers", dns.server,
        "--health-interval-ms", "100", "--log-frames", "off", "--workers", "2",
        "--balance", "round-robin",  # 10 frames each below: the original rotation
    )
    _, h = wait_proxy_health(pport, lambda h: h["healthy_count"] == 3, what="static + 2 SRV backends")
    assert addresses(h) == [static] + sorted([a, b]), h
    names = {e["address"]: e.get("dns_name") for e in h["backends"]}
    assert names == {static: None, a: "_grpc._tcp.frames.test", b: "_grpc._tcp.frames.test"}, names
    with Client(pport) as cl:
        seq = cl.run(30)
    for r in seq:
        assert_frame(r)
    per = {x: sum(r.backend == x for r in seq) for x in (static, a, b)}
    assert per == {static: 10, a: 10, b: 10}, per
    stop_proxy(proxy)
    dns.stop()


def test_dns_aaaa_records_are_backends_too(procs, tmp_path):
    """A and AAAA records of one name: an IPv4 and an IPv6 ([::1]:PORT) backend."""
    port = fgtest.free_port()
    _, v4 = frameserver_at(procs, "127.0.0.2", port)
    args = [fgtest.binary(fgtest.FRAMESERVER), "--host", "::1", "--port", port, "--load-ms", "0"]
    procs.start(args, name="frameserver-v6").wait_log(fgtest.LISTEN_RE, 10)
    v6 = f"[::1]:{port}"
    fgtest.wait_health(v6)
    dns = Dnsmasq(procs, tmp_path, "127.0.0.2 frames.test\n::1 frames.test\n")
    proxy, pport = start_framegate(
        procs, [f"dns:///frames.test:{port}"], "--dns-servers", dns.server, "--log-frames", "off",
        "--health-interval-ms", "100", "--balance", "round-robin",  # 5 frames each below
    )
    _, h = wait_proxy_health(pport, lambda h: h["healthy_count"] == 2, what="the A and the AAAA backend")
    assert addresses(h) == [v4, v6], h
    with Client(pport) as cl:
        seq = cl.run(10)
    assert sorted(r.backend for r in seq) == sorted([v4, v6] * 5)
    stop_proxy(proxy)
    dns.stop()


def error_lines(proxy):
    return re.findall(r"error dns: frames\.test: .*", proxy.log())


def wait_errors(pport, at_least, timeout=5.0):
    deadline = time.monotonic() + timeout
    while metric(pport, "framegate_dns_errors_total") < at_least:
        assert time.monotonic() < deadline, f"framegate_dns_errors_total stayed below {at_least}"
        time.sleep(0.05)


def test_dns_resolver_timeout_garbage_nxdomain_keep_backends(procs):
    port = fgtest.free_port()
    _, a = frameserver_at(procs, "127.0.0.2", port)
    _, b = frameserver_at(procs, "127.0.0.3", port)
    dns = TinyDNS()
    dns.addresses = ["127.0.0.2"]
    dns.start()
    try:
        proxy, pport = start_framegate(
            procs, [f"dns:///frames.test:{port}"], "--dns-servers", dns.server,
            "--dns-refresh-ms", "200", "--dns-timeout-ms", "100", "--health-interval-ms", "100",
            "--log-frames", "off",
        )
        wait_proxy_health(pport, lambda h: addresses(h) == [a] and h["healthy_count"] == 1)
        assert metric(pport, "framegate_dns_errors_total") == 0
        seen = []
        for mode, text in (
            ("silent", "Timeout"),
            ("garbage", "Misformatted DNS reply"),
            ("nxdomain", "Domain name not found"),
        ):
            dns.mode = mode
            errors = metric(pport, "framegate_dns_errors_total")
            wait_errors(pport, errors + 3)  # three rounds failed in a row
            _, h = get_health(pport)
            assert addresses(h) == [a] and h["healthy_count"] == 1, (mode, h)
            with Client(pport) as cl:
                assert_frame(cl.call(1, 1))
            lines = error_lines(proxy)
            seen.append(text)
            # Logged once per change: one line per mode so far, the latest about this mode.
            assert len(lines) == len(seen), (mode, lines)
            assert text in lines[-1], (mode, lines)
        # It answers again, with another address: the set follows.
        dns.addresses = ["127.0.0.3"]
        dns.mode = "ok"
        wait_proxy_health(pport, lambda h: addresses(h) == [b] and h["healthy_count"] == 1,
                          what="the set follows the resolver again")
        proxy.wait_log(r"dns: frames\.test resolves again", 2)
        stop_proxy(proxy)
    finally:
        dns.stop()
    assert dns.queries > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grpc-addrs", "dns:///frames.test"], "needs a port"),
        (["--grpc-addrs", "dns://10.0.0.2/frames.test:1"], "authority"),
        (["--grpc-addrs", "dns:///frames.test:1", "--dns-servers", "not a server!"], "--dns-servers"),
        (["--grpc-addrs", "dns:///frames.test:1", "--dns-refresh-ms", "5"], "dns-refresh-ms"),
    ],
)
def test_bad_dns_flags_exit_2_with_a_message(args, message):
    r = subprocess.run([fgtest.binary("src/proxy/framegate"), "--host", fgtest.HOST, "--ws-port", "0", *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "listening" not in r.stdout
