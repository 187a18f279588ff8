"""TLS on both sides (issue 14), with real OpenSSL handshakes and certificates made here with
the openssl CLI (tlsutil.Certs):

- wss:// and https (/, /health, /metrics) from Python clients, ALPN http/1.1;
- grpcs to frameserver and to a python3-grpcio server, mTLS accepted and refused, both sides;
- bad input: plaintext to the TLS port, a wrong, misnamed or expired certificate, a backend
  that does not speak TLS or does not select h2, a handshake that never finishes: each logged
  once with its reason, counted in /metrics, closed, while a healthy session goes on;
- SIGHUP reloads the certificate under load: new connections get the new one, open ones keep
  going, 0 frames lost;
- the --auth-token secret from a file or the environment, never in the log or /health.
Every process is stopped at the end and its exit status checked."""

import os
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path

import pytest
import websocket

import fgtest
from fgproxy import (
    HOST,
    FRAME_BYTES,
    UNAVAILABLE,
    assert_error,
    assert_frame,
    start_framegate,
    wait_proxy_health,
)
from tlsutil import (
    Certs,
    WssClient,
    client_context,
    der,
    grpcs_health,
    https_get,
    metric,
    metrics,
)

PY_SERVER = Path(__file__).resolve().parent.parent / "peers" / "py_frame_server.py"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def tls_flags(certs, name="server"):
    return ["--tls-cert", certs.pem(name), "--tls-key", certs.key(name)]


def tls_frameserver(procs, certs, *flags, name="server", wait=True):
    """frameserver over TLS on a free port; waits for SERVING over grpcs unless wait=False."""
    p, addr = fgtest.start_frameserver(
        procs, "--load-ms", "0", "--infer-ms", "0", *tls_flags(certs, name), *flags
    )
    if wait:
        deadline = time.monotonic() + 10
        while grpcs_health(addr, certs, "client" if "--tls-client-ca" in flags else None) != "SERVING":
            assert time.monotonic() < deadline, "TLS frameserver never SERVING"
            time.sleep(0.05)
    return p, addr


def tls_proxy(procs, backends, certs, *flags):
    """framegate serving TLS to clients (the test CA's "server" certificate)."""
    return start_framegate(procs, backends, *tls_flags(certs), "--log-frames", "off", *flags)


def backend_tls(certs, cert=None):
    flags = ["--backend-tls", "--backend-ca", certs.pem("ca")]
    if cert:
        flags += ["--backend-cert", certs.pem(cert), "--backend-key", certs.key(cert)]
    return flags


def wait_https_health(port, certs, pred, what, timeout=10.0):
    import json

    deadline = time.monotonic() + timeout
    while True:
        status, _, body, _ = https_get(port, "/health", certs)
        h = json.loads(body)
        if pred(h):
            return h
        assert time.monotonic() < deadline, f"timeout waiting for {what}: {h}"
        time.sleep(0.05)


def frames(port, certs, n=20, inflight=4, cert=None):
    with WssClient(port, certs, cert=cert) as c:
        for r in c.run(n, inflight=inflight):
            assert_frame(r)


def stop_ok(*procs_):
    for p in procs_:
        assert p.stop() == 0, f"{p.args[0]} exit status {p.popen.returncode}:\n{p.log()[-2000:]}"


def count_lines(proc, needle):
    return sum(1 for line in proc.log().splitlines() if needle in line)


# ----------------------------------------------------------------------------- client side


def test_wss_and_https_pages_over_tls(procs, certs):
    fs, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    fg, port = tls_proxy(procs, [addr], certs)
    wait_https_health(port, certs, lambda h: h["healthy_count"] == 1, "backend healthy")
    frames(port, certs, n=50, inflight=8)
    status, headers, body, alpn = https_get(port, "/", certs)
    assert status == 200 and headers["content-type"].startswith("text/html"), headers
    assert alpn == "http/1.1", alpn  # offered h2 and http/1.1: the proxy picks its one
    m = metrics(port, certs)
    assert metric(m, "tls_handshakes_total") >= 4
    assert metric(m, "tls_plaintext_total") == 0
    assert metric(m, "tls_failures_total") == 0
    # A client offering only h2 is refused with an alert, counted, logged once.
    with socket.create_connection((HOST, port)) as s:
        with pytest.raises(ssl.SSLError, match="no application protocol"):
            client_context(certs, alpn=("h2",)).wrap_socket(s, server_hostname="localhost")
    assert metric(metrics(port, certs), "tls_failures_total") == 1
    fg.wait_log("no_application_protocol|no application protocol", 5)
    stop_ok(fg, fs)


def test_plaintext_to_tls_port_gets_400_and_is_counted(procs, certs):
    fs, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    fg, port = tls_proxy(procs, [addr], certs)
    with WssClient(port, certs) as healthy:
        assert_frame(healthy.call(1, 1))
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.1 400 "), data
        assert b"speaks TLS" in data, data
        assert_frame(healthy.call(2, 2))  # nothing else affected
    assert metric(metrics(port, certs), "tls_plaintext_total") == 1
    assert count_lines(fg, "plaintext on a TLS port") == 1, fg.log()
    stop_ok(fg, fs)


def test_handshake_that_never_finishes_is_closed_at_the_header_timeout(procs, certs):
    fs, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    fg, port = tls_proxy(procs, [addr], certs, "--header-timeout-ms", "400")
    with WssClient(port, certs) as healthy:
        # Half a ClientHello record header, then silence.
        with socket.create_connection((HOST, port), timeout=5) as s:
            t0 = time.monotonic()
            s.sendall(b"\x16\x03\x01")
            assert s.recv(100) == b""
            took = time.monotonic() - t0
        assert 0.39 <= took <= 0.8, took
        assert_frame(healthy.call(1, 1))
    assert metric(metrics(port, certs), "tls_handshake_timeouts_total") == 1
    assert count_lines(fg, "handshake not finished in 400 ms") == 1, fg.log()
    stop_ok(fg, fs)


def test_client_certificates_required_accepted_and_refused(procs, certs):
    fs, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    fg, port = tls_proxy(procs, [addr], certs, "--tls-client-ca", certs.pem("ca"))
    frames(port, certs, n=10, cert="client")  # accepted
    for bad in (None, "rogue", "expired"):
        # TLS 1.3: the client's handshake ends before the server checks its certificate; the
        # refusal (an alert) arrives at the first read.
        with pytest.raises((ssl.SSLError, websocket.WebSocketException, ConnectionError, OSError)):
            frames(port, certs, n=1, cert=bad)
    with WssClient(port, certs, cert="client") as c:
        assert_frame(c.call(1, 1))
        status, _, body, _ = https_get(port, "/metrics", certs, cert="client")
    m = body.decode()
    assert metric(m, "tls_certificate_failures_total") == 3, m
    log = fg.log()
    assert count_lines(fg, "peer did not return a certificate") == 1, log
    assert count_lines(fg, "certificate verify failed: unable to get local issuer") == 1, log
    assert count_lines(fg, "certificate verify failed: certificate has expired") == 1, log
    stop_ok(fg, fs)


def test_sighup_reloads_the_certificate_under_load_without_losing_a_frame(procs, certs, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    cert.write_bytes(Path(certs.pem("server")).read_bytes())
    key.write_bytes(Path(certs.key("server")).read_bytes())
    fs, addr = fgtest.serving_frameserver(procs, "--infer-ms", "1")
    fg, port = start_framegate(
        procs, [addr], "--tls-cert", cert, "--tls-key", key, "--log-frames", "off"
    )
    wait_https_health(port, certs, lambda h: h["healthy_count"] == 1, "backend healthy")
    stop = threading.Event()
    results, errors = [], []

    def load(i):
        try:
            with WssClient(port, certs) as c:
                assert c.peer_cert() == der(certs.pem("server"))
                sent = 0
                while not stop.is_set():
                    got = c.run(20, inflight=4, first_id=sent + 1)
                    for r in got:
                        assert_frame(r)
                    sent += len(got)
                # Read on after the last reply: nothing more may come (exactly once).
                c.ws.settimeout(0.3)
                with pytest.raises(websocket.WebSocketTimeoutException):
                    c.recv()
                results.append(sent)
        except BaseException as e:  # reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    cert.write_bytes(Path(certs.pem("server2")).read_bytes())
    key.write_bytes(Path(certs.key("server2")).read_bytes())
    fg.signal(signal.SIGHUP)
    fg.wait_log("client TLS certificate reloaded", 5)
    with WssClient(port, certs) as fresh:
        assert fresh.peer_cert() == der(certs.pem("server2"))
        assert_frame(fresh.call(1, 1))
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == 4 and min(results) > 0, results
    # A bad file keeps the certificate in use.
    key.write_text("not a key\n")
    fg.signal(signal.SIGHUP)
    fg.wait_log("keeping the current certificate", 5)
    with WssClient(port, certs) as again:
        assert again.peer_cert() == der(certs.pem("server2"))
    stop_ok(fg, fs)


# ----------------------------------------------------------------------------- backend side


def test_grpcs_to_frameserver_whole_chain_encrypted(procs, certs):
    fs, addr = tls_frameserver(procs, certs)
    fg, port = tls_proxy(procs, [addr], certs, *backend_tls(certs))
    wait_https_health(port, certs, lambda h: h["healthy_count"] == 1, "TLS backend healthy")
    frames(port, certs, n=100, inflight=16)
    assert metric(metrics(port, certs), "backend_tls_failures_total") == 0
    stop_ok(fg, fs)


def test_grpcs_mtls_to_frameserver_accepted_and_refused(procs, certs):
    fs, addr = tls_frameserver(procs, certs, "--tls-client-ca", certs.pem("ca"))
    good, good_port = tls_proxy(procs, [addr], certs, *backend_tls(certs, cert="client"))
    wait_https_health(good_port, certs, lambda h: h["healthy_count"] == 1, "mTLS backend")
    frames(good_port, certs, n=20)
    bad, bad_port = tls_proxy(procs, [addr], certs, *backend_tls(certs))  # no client cert
    h = wait_https_health(
        bad_port, certs, lambda h: "certificate" in h["backends"][0]["last_error"], "refusal"
    )
    assert h["healthy_count"] == 0, h
    with WssClient(bad_port, certs) as c:
        assert_error(c.call(1, 1), UNAVAILABLE)
    assert metric(metrics(bad_port, certs), "backend_tls_failures_total") >= 1
    frames(good_port, certs, n=5)  # the accepted proxy is not affected
    fs.wait_log(r"TLS client \S+: peer did not return a certificate", 5)
    stop_ok(bad, good, fs)


@pytest.mark.parametrize("mtls", [False, True], ids=["tls", "mtls"])
def test_grpcs_to_python_grpcio_server(procs, certs, mtls):
    files = [certs.pem("server"), certs.key("server")] + ([certs.pem("ca")] if mtls else [])
    py = procs.start([sys.executable, str(PY_SERVER), "--port", "0", "--tls", ",".join(files)],
                     name="py_frame_server")
    m = py.wait_log(r"listening on (\S+):(\d+)", 20)
    addr = f"localhost:{m.group(2)}"  # by name: the certificate's DNS name is verified
    fg, port = tls_proxy(procs, [addr], certs, *backend_tls(certs, "client" if mtls else None))
    wait_https_health(port, certs, lambda h: h["healthy_count"] == 1, "grpcio backend", 20)
    frames(port, certs, n=30, inflight=4)
    stop_ok(fg, py)


@pytest.mark.parametrize(
    "case",
    ["rogue", "othername", "expired", "plaintext", "no_h2"],
)
def test_bad_backend_tls_is_logged_counted_and_isolated(procs, certs, case):
    """One good TLS backend and one bad one: the bad one is marked down with its reason, once
    in the log, counted; every frame goes to the good one."""
    _, good = tls_frameserver(procs, certs)
    reasons = {
        "rogue": "unable to get local issuer certificate",
        "othername": "address mismatch",  # addressed by IP: the IP SAN is checked
        "expired": "certificate has expired",
        "plaintext": "does not speak TLS",
        "no_h2": "did not select ALPN h2",
    }
    if case == "plaintext":
        _, bad = fgtest.serving_frameserver(procs)
    elif case == "no_h2":
        bad = f"{HOST}:{start_http11_tls_server(certs)}"
    else:
        _, bad = tls_frameserver(procs, certs, name=case, wait=False)
    fg, port = tls_proxy(procs, [good, bad], certs, *backend_tls(certs))
    h = wait_https_health(
        port,
        certs,
        lambda h: h["healthy_count"] == 1
        and any(reasons[case] in b["last_error"] for b in h["backends"]),
        f"the {case} backend refused and the good one healthy",
    )
    assert [b["healthy"] for b in h["backends"]] == [True, False], h
    with WssClient(port, certs) as c:
        for r in c.run(20, inflight=4):
            assert_frame(r)
            assert r.backend == good, r
    assert metric(metrics(port, certs), "backend_tls_failures_total") >= 1
    assert count_lines(fg, reasons[case]) == 1, fg.log()
    stop_ok(fg)


def start_http11_tls_server(certs):
    """A TLS server (Python ssl) that selects ALPN http/1.1 and never h2; returns its port. It
    serves on a daemon thread for the rest of the test process."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.pem("server"), certs.key("server"))
    ctx.set_alpn_protocols(["http/1.1"])
    ls = socket.socket()
    ls.bind((HOST, 0))
    ls.listen(16)

    def serve():
        while True:
            conn, _ = ls.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True) as s:
                    s.settimeout(2)
                    s.recv(1)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1]


# ----------------------------------------------------------------------------- secrets


def test_auth_token_from_file_or_environment_never_shown(procs, certs, tmp_path):
    secret = "s3cr3t-" + os.urandom(8).hex()
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    fs, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    env = dict(os.environ, FRAMEGATE_AUTH_TOKEN=secret)
    from_file, p1 = tls_proxy(procs, [addr], certs, "--auth-token-file", token_file)
    args = [fgtest.binary("src/proxy/framegate"), "--host", HOST, "--ws-port", "0",
            "--grpc-addrs", addr, "--log-frames", "off", *tls_flags(certs)]
    from_env = procs.start(args, name="framegate-env", env=env)
    p2 = int(from_env.wait_log(r"listening on \S+?:(\d+)", 15).group(1))
    for port in (p1, p2):
        wait_https_health(port, certs, lambda h: h["healthy_count"] == 1, "backend healthy")
        with pytest.raises(websocket.WebSocketBadStatusException, match="401"):
            WssClient(port, certs)
        with WssClient(port, certs, header=[f"Authorization: Bearer {secret}"]) as c:
            assert_frame(c.call(1, 1))
        for path in ("/health", "/metrics"):
            assert secret.encode() not in https_get(port, path, certs)[2]
    both = procs.start(args + ["--auth-token", "x", "--auth-token-file", token_file], name="both",
                        expect_exit=2)
    assert both.wait(5) == 2
    assert "give one" in both.log()
    stop_ok(from_env, from_file, fs)
    for p in (from_file, from_env, both):
        assert secret not in p.log()
