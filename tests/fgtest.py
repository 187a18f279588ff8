"""Shared helpers for framegate's black-box tests (interop, integration, web).

Import it from a test folder's conftest.py (which puts tests/ on sys.path):

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import fgtest
    from fgtest import procs, pb, pytest_runtest_makereport   # fixtures + the hook `procs` uses

Run the tests with /usr/bin/python3 -m pytest (Debian's grpcio), env FG_BUILD_DIR and
FG_SOURCE_DIR set (meson does it; see tests/interop/meson.build).

What it provides:

- Paths: ``build_dir()``, ``source_dir()`` (env FG_BUILD_DIR / FG_SOURCE_DIR, set by meson),
  ``binary("src/server/frameserver")`` (fails the test clearly when it was not built).
- Ports: ``free_port()`` and ``free_port_range(n)`` on 127.0.0.1.
- Processes: ``ProcessGroup`` (a context manager; also the ``procs`` fixture) starts
  processes with stdout+stderr captured to a log file, and stops every one of them
  (SIGTERM, then SIGKILL after STOP_GRACE_S) when the block or test ends, even on failure.
  framegate and frameserver must then exit 0 (``start(..., expect_exit=)`` for others): a
  crash, another status, or a SIGKILL after the grace fails the test, as does a sanitizer
  report (ASan/LSan/UBSan) in any log (``procs`` fixture, ``with ProcessGroup()``).
  ``Proc.wait_log(regex)`` waits for a log line; ``Proc.stop()`` returns the exit code.
- Waiting: ``wait_tcp(host, port)``, ``wait_health(addr, want="SERVING")`` via grpcio.
- Protobuf/gRPC stubs: ``protos()`` (also the ``pb`` fixture) generates Python modules for
  proto/framegate/v1/frames.proto and proto/grpc/health/v1/health.proto with protoc and
  grpc_python_plugin into a per-process temporary folder (never committed), through the Python
  backend kit's generator (backends/python/framegate_backend/stubs.py), and returns a
  namespace with ``frames_pb2``, ``frames_pb2_grpc``, ``health_pb2``, ``health_pb2_grpc``.
- frameserver: ``start_frameserver(group, *flags)`` starts one on a free port (``--port 0``),
  parses "frameserver listening on HOST:PORT" from its log and returns ``(proc, "host:port")``.
- gRPC framing for raw HTTP/2 tests: ``grpc_frame(payload, compressed=False, length=None)``.
- ``ClosedOnExit``: a base class whose objects, used in ``with``, call their ``close()`` on exit.

Everything binds 127.0.0.1 only.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HOST = "127.0.0.1"
FRAMESERVER = "src/server/frameserver"
# The line frameserver logs once it is bound (issue 2 section 2).
LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")

# SIGTERM -> exit: framegate and frameserver drain for up to 5 s (--drain-ms, frameserver's
# queue), then an ASan build runs LeakSanitizer, which takes seconds on a big heap. A process
# still alive after this is a hang (and SIGKILL would lose LeakSanitizer's report): a failure.
STOP_GRACE_S = 20.0
# The programs whose exit status on SIGTERM is checked by default (0 expected).
CHECKED_PROGRAMS = ("framegate", "frameserver")
# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print in a process's log.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: \w+Sanitizer")


# ----------------------------------------------------------------------------- paths


def source_dir():
    """The source tree root (FG_SOURCE_DIR, else the parent of tests/)."""
    env = os.environ.get("FG_SOURCE_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def build_dir():
    """The meson build root (FG_BUILD_DIR, else <source>/build)."""
    env = os.environ.get("FG_BUILD_DIR")
    return Path(env) if env else source_dir() / "build"


def binary(relpath):
    """Absolute path of a built binary below the build root; fails the test if absent."""
    path = build_dir() / relpath
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built (FG_BUILD_DIR={build_dir()})", pytrace=False)
    return path


# ----------------------------------------------------------------------------- ports


# Ports handed out for servers a test starts itself: below Linux's ephemeral range (32768-60999
# by default), so no outgoing connection of any process can take one between the check and the bind.
PORT_LOW, PORT_HIGH = 20000, 32000


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range."""
    return free_port_range(1)


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port_range(n, low=PORT_LOW, high=PORT_HIGH):
    """First port of n consecutive free ports, searched from a random point in [low, high)."""
    import random

    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        base = rng.randrange(low, high - n)
        if all(_port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError(f"no {n} consecutive free ports in [{low}, {high})")


# ----------------------------------------------------------------------------- processes


class Proc:
    """A started process whose stdout and stderr go to one log file.

    `expect_exit`: the exit status the process must end with when the group stops it
    (SIGTERM), or None to leave it to the test. A process that dies on its own with another
    status, or has to be SIGKILLed after the grace period, is reported by exit_problem()."""

    def __init__(self, args, log_path, env=None, cwd=None, expect_exit=None):
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self.expect_exit = expect_exit
        self.killed_after = None  # grace seconds, if stop() had to SIGKILL it
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
        self.pid = self.popen.pid

    def log(self):
        """Everything the process wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.popen.poll() is None

    def wait_log(self, pattern, timeout=10.0):
        """Wait until a log line matches `pattern` (regex); return the match.

        Fails early, with the log, if the process exits first."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m
            if not self.alive():
                raise AssertionError(
                    f"{self.args[0]} exited ({self.popen.returncode}) before logging "
                    f"{rx.pattern!r}; log:\n{self.log()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timeout waiting for {rx.pattern!r} from {self.args[0]}; log:\n{self.log()[-3000:]}"
                )
            time.sleep(0.02)

    def signal(self, sig):
        """Send `sig`. A SIGKILL is the test's own doing: its exit status is not checked."""
        if sig == signal.SIGKILL:
            self.expect_exit = None
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout):
        """Exit code, or raise subprocess.TimeoutExpired."""
        return self.popen.wait(timeout)

    def stop(self, grace=STOP_GRACE_S):
        """SIGTERM, then SIGKILL after `grace` seconds (recorded: exit_problem() reports it);
        returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.killed_after = grace
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def exit_problem(self):
        """None when the process ended as expected, else what went wrong (after stop())."""
        name = Path(self.args[0]).name
        if self.killed_after is not None:
            return (
                f"{name} (pid {self.pid}) still running {self.killed_after:.0f}s after SIGTERM: "
                f"SIGKILLed (a hang at drain; a sanitizer report would be lost); log {self.log_path}"
            )
        rc = self.popen.returncode
        if self.expect_exit is not None and rc != self.expect_exit:
            how = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit status {rc}"
            return f"{name} (pid {self.pid}) ended with {how}, expected {self.expect_exit}; log {self.log_path}"
        return None


class ProcessGroup:
    """Starts processes and stops all of them on exit, in reverse order.

    with ProcessGroup() as g:
        p = g.start(["prog", "--flag"], name="prog")
    """

    def __init__(self, log_dir=None):
        self._own_dir = log_dir is None
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="fgtest-"))
        self.procs = []

    def start(self, args, name=None, env=None, cwd=None, expect_exit="default"):
        """Start a process. `expect_exit`: its exit status when stopped; by default 0 for
        framegate and frameserver (also under a wrapper such as valgrind), None (unchecked)
        for anything else."""
        name = name or Path(str(args[0])).name
        if expect_exit == "default":
            programs = {Path(str(a)).name for a in args}
            expect_exit = 0 if programs & set(CHECKED_PROGRAMS) else None
        log = self.log_dir / f"{name}-{len(self.procs)}.log"
        p = Proc(args, log, env=env, cwd=cwd, expect_exit=expect_exit)
        self.procs.append(p)
        return p

    def stop_all(self):
        """Stop every process (newest first); returns exit_problems()."""
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                print(f"fgtest: stopping {p.args[0]}: {e}", file=sys.stderr)
        return self.exit_problems()

    def exit_problems(self):
        """What went wrong at exit: a crash, a non-zero status, a SIGKILL after the grace."""
        return [m for m in (p.exit_problem() for p in self.procs) if m]

    def sanitizer_reports(self):
        """Log excerpts of every sanitizer report (ASan, LSan, UBSan) in the started processes."""
        found = []
        for p in self.procs:
            text = p.log()
            m = SANITIZER_RE.search(text)
            if m:
                found.append(f"{p.log_path}:\n{text[max(0, m.start() - 200) : m.start() + 3000]}")
        return found

    def dump_logs(self, out=sys.stdout, tail=4000):
        for p in self.procs:
            print(f"----- {p.log_path} ({' '.join(p.args)})", file=out)
            print(p.log()[-tail:], file=out)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        problems = self.stop_all()
        if exc_type is not None or problems:
            self.dump_logs()
        elif self._own_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        if exc_type is None and problems:
            raise AssertionError("process exit:\n" + "\n".join(problems))
        return False


@pytest.fixture
def procs(tmp_path, request):
    """A ProcessGroup logging into the test's tmp_path; everything stopped at teardown.

    Logs are printed when the test failed (pytest shows captured output). A sanitizer
    report in any process's log fails the test, so the ASan+UBSan build catches leaks and
    undefined behaviour in the servers the black-box tests drive."""
    group = ProcessGroup(tmp_path)
    yield group
    problems = group.stop_all()
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed or problems:
        group.dump_logs()
    reports = group.sanitizer_reports()
    if reports:
        problems.append("sanitizer report(s):\n" + "\n".join(reports))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


class ClosedOnExit:
    """A base class for test clients: ``with obj:`` calls ``obj.close()`` at the end of the
    block (exceptions still propagate)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ----------------------------------------------------------------------------- waiting


def wait_tcp(host, port, timeout=10.0):
    """Wait until a TCP connect to host:port succeeds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listening on {host}:{port} after {timeout}s")
            time.sleep(0.02)


def health_status(addr, service="", timeout=1.0):
    """Health/Check status name ("SERVING", "NOT_SERVING", ...) or the gRPC error code name."""
    import grpc

    p = protos()
    with grpc.insecure_channel(addr) as ch:
        stub = p.health_pb2_grpc.HealthStub(ch)
        try:
            r = stub.Check(p.health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name
    return p.health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)


def wait_health(addr, want="SERVING", service="", timeout=15.0):
    """Poll Health/Check until it answers `want`; return the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        last = health_status(addr, service)
        if last == want:
            return time.monotonic() - t0
        time.sleep(0.03)
    raise AssertionError(f"{addr} health is {last}, not {want}, after {timeout}s")


# ----------------------------------------------------------------------------- protobuf stubs

_protos = None


def protos():
    """Generated protobuf + gRPC Python modules (made once per process, see module doc).

    The same generator as the Python backend kit's (backends/python/framegate_backend/stubs.py),
    so tests and kit always agree on the modules."""
    global _protos
    if _protos is None:
        kit = str(source_dir() / "backends" / "python")
        if kit not in sys.path:
            sys.path.insert(0, kit)
        from framegate_backend import stubs

        _protos = stubs.load(source_dir())
    return _protos


@pytest.fixture(scope="session")
def pb():
    """The generated modules, as protos()."""
    return protos()


# ----------------------------------------------------------------------------- frameserver


def start_frameserver(group, *flags, name="frameserver", timeout=10.0):
    """Start frameserver on a free port; return (proc, "127.0.0.1:PORT").

    `flags` are extra command-line flags (strings, or values str() is applied to).
    It does not wait for the models to load: use wait_health() for that."""
    args = [binary(FRAMESERVER), "--host", HOST, "--port", "0", *[str(f) for f in flags]]
    p = group.start(args, name=name)
    m = p.wait_log(LISTEN_RE, timeout)
    return p, f"{m.group(1)}:{m.group(2)}"


def serving_frameserver(group, *flags, **kw):
    """start_frameserver() with --load-ms 0 (unless given), waiting for Health SERVING."""
    if "--load-ms" not in flags:
        flags = ("--load-ms", "0") + flags
    p, addr = start_frameserver(group, *flags, **kw)
    wait_health(addr)
    return p, addr


# ----------------------------------------------------------------------------- gRPC framing


def grpc_frame(payload, compressed=False, length=None):
    """A gRPC length-prefixed message: flag byte, u32 big-endian length, payload.

    `length` overrides the declared length (to send a lying prefix)."""
    declared = len(payload) if length is None else length
    return struct.pack(">BI", 1 if compressed else 0, declared) + payload


def pcm_tone(samples=800, amplitude=20000, period=40):
    """16-bit little-endian PCM: a square wave of the given amplitude (0 gives silence)."""
    half = period // 2
    vals = [amplitude if (i // half) % 2 == 0 else -amplitude for i in range(samples)]
    return struct.pack(f"<{samples}h", *vals)


def declared_skips(path=None):
    """{test id: reason} of tests/declared-skips.txt (env FG_DECLARED_SKIPS overrides the path):
    the only tests allowed to skip, each with its reason given in advance."""
    path = Path(path or os.environ.get("FG_DECLARED_SKIPS") or source_dir() / "tests" / "declared-skips.txt")
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            tid, sep, reason = (x.strip() for x in line.partition("|"))
            if sep and tid and reason:
                out[tid] = reason
    return out


def test_id(item):
    """A pytest item's id relative to the source root: tests/DIR/test_x.py::test_name[param]."""
    try:
        rel = Path(item.path).resolve().relative_to(source_dir().resolve())
    except ValueError:
        rel = Path(item.path).name
    return f"{rel}::{item.name}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so `procs` knows whether the test failed,
    and turns a skip into a failure unless the test is in tests/declared-skips.txt (a skip
    would otherwise pass the meson test that runs this file).

    A conftest.py enables it with `from fgtest import pytest_runtest_makereport`."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        tid = test_id(item)
        if tid not in declared_skips():
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            rep.outcome = "failed"
            rep.longrepr = f"{tid}: skipped without a declared reason ({reason}); tests/declared-skips.txt lists the allowed skips"
    setattr(item, "rep_" + rep.when, rep)
