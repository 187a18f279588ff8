"""frameserver's command line and process behaviour: --help, bad values (exit 2), the
listen and exit logs, a port already in use."""

import socket
import subprocess

import pytest

import fgtest

FLAGS = [
    "--host", "--port", "--models", "--load-ms", "--infer-ms", "--batch-item-ms", "--width", "--height",
    "--format", "--queue-max", "--fail-rate", "--fail-load", "--max-recv-bytes",
]


def run(*args, timeout=10):
    r = subprocess.run([fgtest.binary(fgtest.FRAMESERVER), *args], capture_output=True, text=True, timeout=timeout)
    assert not fgtest.SANITIZER_RE.search(r.stderr), r.stderr
    return r


def test_help_documents_every_flag():
    r = run("--help")
    assert r.returncode == 0
    text = r.stdout + r.stderr
    missing = [f for f in FLAGS if f not in text]
    assert not missing, f"--help does not mention {missing}:\n{text}"


@pytest.mark.parametrize(
    "args",
    [
        ("--infer-ms", "abc"),
        ("--infer-ms", "-5"),
        ("--port", "70000"),
        ("--format", "bmp"),
        ("--fail-rate", "1.5"),
        ("--width", "0"),
        ("--queue-max", "x"),
        ("--models", ""),
        ("--no-such-flag",),
        ("--port",),
    ],
)
def test_bad_value_exits_2(args):
    r = run("--port", "0", *args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    flag = args[0].lstrip("-")
    assert flag in r.stderr, f"the error should name {args[0]}: {r.stderr!r}"


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind((fgtest.HOST, 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("--port", str(port), "--load-ms", "0")
    assert r.returncode != 0
    assert str(port) in r.stderr or "in use" in r.stderr.lower(), r.stderr


def test_listen_log_and_exit_summary(procs):
    p, addr = fgtest.serving_frameserver(procs, "--infer-ms", "0")
    assert addr.startswith("127.0.0.1:")
    before = p.log()
    assert p.stop() == 0
    after = p.log()
    assert len(after.splitlines()) > len(before.splitlines()), "a summary is logged on exit"
