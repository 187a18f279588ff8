"""The harness's own verdict (scripts/test_summary.py and the pytest skip rule of
tests/fgtest.py) fails on each kind of failure issue 10 lists, shown once per kind: a stale
log, a partial log, a missing suite, an undeclared skip (meson 77 and pytest), a fuzz build
failure, a fuzz target that did not run, a missing clang-format. A complete good run passes."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(os.environ.get("FG_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SUMMARY = SRC / "scripts" / "test_summary.py"
TESTS = ["framegate:unit / fg_buf", "framegate:integration / integration-http"]
FUZZ_TARGETS = ["fuzz_a", "fuzz_b"]


def write_build(d, since, results=None, expected=TESTS, starttime=None):
    logs = d / "meson-logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "expected-tests.txt").write_text("\n".join(expected) + "\n")
    results = results if results is not None else {t: "OK" for t in expected}
    with open(logs / "testlog.json", "w") as f:
        for name, result in results.items():
            f.write(json.dumps({"name": name, "result": result, "starttime": starttime or since + 1}) + "\n")


def write_fuzz(tmp, targets=FUZZ_TARGETS, lines=None):
    src = tmp / "fuzz-src"
    src.mkdir(exist_ok=True)
    for t in targets:
        (src / f"{t}.c").write_text("int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n")
    (src / "fuzz_helper.c").write_text("/* not a target */\n")
    log = tmp / "fuzz.log"
    if lines is None:
        lines = [f"{t:<12} {100:>10} {50:>8} {10:>6}  ok" for t in targets]
    log.write_text("target execs exec/s cov result\n" + "\n".join(lines) + "\n")
    return src, log


def run(tmp, since, builds, fmt="ok", fuzz=None, fuzz_status=0, skips=None, extra=()):
    args = [sys.executable, str(SUMMARY), "--since", str(since), "--format", fmt]
    for b in builds:
        args += ["--builddir", str(b)]
    if fuzz:
        src, log = fuzz
        args += ["--fuzz-log", str(log), "--fuzz-sources", str(src), "--fuzz-status", str(fuzz_status)]
    if skips is not None:
        path = tmp / "declared-skips.txt"
        path.write_text(skips)
        args += ["--declared-skips", str(path)]
    r = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=30)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    m = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert m, f"last line is not 'N passed, N failed': {r.stdout!r} {r.stderr!r}"
    return r.returncode, int(m.group(1)), int(m.group(2)), r.stdout


@pytest.fixture
def env(tmp_path):
    since = time.time() - 5
    plain, asan = tmp_path / "build", tmp_path / "build-asan"
    write_build(plain, since)
    write_build(asan, since)
    return tmp_path, since, [plain, asan], write_fuzz(tmp_path)


def test_complete_good_run_passes(env):
    tmp, since, builds, fuzz = env
    rc, passed, failed, out = run(tmp, since, builds, fuzz=fuzz, skips="")
    assert (rc, passed, failed) == (0, 2 * len(TESTS) + len(FUZZ_TARGETS) + 1, 0), out


def test_stale_log_fails(env):
    tmp, since, builds, fuzz = env
    old = since - 3600
    os.utime(builds[1] / "meson-logs" / "testlog.json", (old, old))
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz)
    assert rc == 1 and failed == 1 and "no fresh test log" in out, out


def test_missing_log_fails(env):
    tmp, since, builds, fuzz = env
    (builds[0] / "meson-logs" / "testlog.json").unlink()
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz)
    assert rc == 1 and failed == 1 and "missing" in out, out


def test_result_from_an_earlier_run_fails(env):
    tmp, since, builds, fuzz = env
    write_build(builds[0], since, starttime=since - 100)  # the file is new, its lines are old
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz)
    assert rc == 1 and failed == len(TESTS) + len(TESTS) and "earlier run" in out, out


def test_missing_suite_fails(env):
    tmp, since, builds, fuzz = env
    write_build(builds[1], since, results={TESTS[0]: "OK"})  # the integration suite never ran
    rc, passed, failed, out = run(tmp, since, builds, fuzz=fuzz)
    assert rc == 1 and failed == 1 and "integration-http: expected but did not run" in out, out


def test_failed_test_fails(env):
    tmp, since, builds, fuzz = env
    write_build(builds[0], since, results={TESTS[0]: "OK", TESTS[1]: "TIMEOUT"})
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz)
    assert rc == 1 and failed == 1 and "TIMEOUT" in out, out


def test_undeclared_meson_skip_fails_declared_one_does_not(env):
    tmp, since, builds, fuzz = env
    write_build(builds[0], since, results={TESTS[0]: "OK", TESTS[1]: "SKIP"})
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz, skips="")
    assert rc == 1 and failed == 1 and "SKIP without a declared reason" in out, out
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz, skips=f"{TESTS[1]} | no GPU\n")
    assert rc == 0 and failed == 0 and "declared: no GPU" in out, out


def test_fuzz_build_failure_fails(env):
    tmp, since, builds, _ = env
    # fuzz/run.sh exits 1 before printing any target line (setup or build failed).
    fuzz = write_fuzz(tmp, lines=["ninja: build stopped: subcommand failed."])
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz, fuzz_status=1)
    assert rc == 1 and failed == 1 + len(FUZZ_TARGETS), out
    assert "fuzz/run.sh exited 1" in out and "fuzz_a: not built or not run" in out, out


def test_fuzz_target_not_run_fails(env):
    tmp, since, builds, _ = env
    fuzz = write_fuzz(tmp, lines=["fuzz_a              100       50     10  ok"])
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz)
    assert rc == 1 and failed == 1 and "fuzz_b: not built or not run" in out, out


def test_fuzz_target_failed_fails(env):
    tmp, since, builds, _ = env
    fuzz = write_fuzz(tmp, lines=["fuzz_a 1 1 1  ok", "fuzz_b 1 1 1  FAILED: sanitizer report in x.log"])
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz, fuzz_status=1)
    assert rc == 1 and failed == 2 and "fuzz_b: FAILED: sanitizer report" in out, out


def test_missing_clang_format_fails(env):
    tmp, since, builds, fuzz = env
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz, fmt="missing")
    assert rc == 1 and failed == 1 and "clang-format: not installed" in out, out


def test_build_step_failure_fails(env):
    tmp, since, builds, fuzz = env
    (builds[1] / "meson-logs" / "expected-tests.txt").unlink()
    rc, _, failed, out = run(tmp, since, builds, fuzz=fuzz, extra=["--step-failed", "build-asan: build failed"])
    assert rc == 1 and failed == 2 and "no fresh list of expected tests" in out, out


CONFTEST = '''
import sys
sys.path.insert(0, {tests!r})
from fgtest import pytest_runtest_makereport  # noqa: F401  (as every test folder's conftest)
'''
PYTEST_CASE = '''
import pytest

def test_skips():
    pytest.skip("no GPU")
'''


@pytest.mark.parametrize("declared", [False, True])
def test_pytest_skip_fails_unless_declared(tmp_path, declared):
    case = tmp_path / "test_case.py"
    (tmp_path / "conftest.py").write_text(CONFTEST.format(tests=str(SRC / "tests")))
    case.write_text(PYTEST_CASE)
    skips = tmp_path / "skips.txt"
    skips.write_text("test_case.py::test_skips | no GPU\n" if declared else "")
    env = dict(os.environ, FG_DECLARED_SKIPS=str(skips), FG_SOURCE_DIR=str(tmp_path))
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(case)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )
    if declared:
        assert r.returncode == 0 and "1 skipped" in r.stdout, r.stdout
    else:
        assert r.returncode == 1 and "skipped without a declared reason" in r.stdout, r.stdout
