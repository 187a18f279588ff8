"""framegate's command line (issue 3 §1): the three flag spellings, --help, bad values exit 2."""

import subprocess

import pytest

import fgtest
from fgproxy import FRAMEGATE, PROXY_LISTEN_RE, Client, assert_frame, wait_proxy_health

FLAGS = ["ws-port", "start-port", "num-servers", "grpc-addrs", "host", "timeout-ms", "retries",
         "max-inflight", "max-message", "unhealthy-after", "healthy-after", "health-interval-ms",
         "log-frames"]


def test_help_documents_every_flag():
    r = subprocess.run([fgtest.binary(FRAMEGATE), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    out = r.stdout + r.stderr
    missing = [f for f in FLAGS if f"--{f}" not in out]
    assert not missing, f"--help does not mention {missing}"


@pytest.mark.parametrize(
    "args",
    [["--timeout-ms", "abc"], ["--ws-port", "70000"], ["--log-frames", "maybe"], ["--retries", "-1"],
     ["--no-such-flag", "1"], ["--num-servers"], ["--max-message", "12XB"],
     # Addresses the pool could not use are refused up front (one parser, fg_hostport).
     ["--grpc-addrs", "[]:80"], ["--grpc-addrs", "::1:80"], ["--grpc-addrs", "h:0"],
     ["--grpc-addrs", "a:1,[x:2"]],
)
def test_bad_value_is_a_clear_error_and_exit_2(args):
    r = subprocess.run([fgtest.binary(FRAMEGATE), "--host", fgtest.HOST, "--ws-port", "0", *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-500:])
    assert r.stderr.strip(), "no error message"


@pytest.mark.parametrize("style", ["--flag value", "--flag=value", "-flag value"])
def test_flag_spellings(procs, style):
    _, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    pairs = [("host", fgtest.HOST), ("ws-port", "0"), ("grpc-addrs", addr), ("log-frames", "off"),
             ("health-interval-ms", "200")]
    args = []
    for k, v in pairs:
        if style == "--flag=value":
            args.append(f"--{k}={v}")
        else:
            args += [("-" if style == "-flag value" else "--") + k, v]
    p = procs.start([fgtest.binary(FRAMEGATE), *args], name="framegate")
    port = int(p.wait_log(PROXY_LISTEN_RE, 15).group(2))
    _, h = wait_proxy_health(port, lambda h: h["healthy_count"] == 1, what="the backend healthy")
    assert [b["address"] for b in h["backends"]] == [addr]
    with Client(port) as c:
        assert_frame(c.call(1, 1), request_id=1)
