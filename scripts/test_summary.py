#!/usr/bin/env python3
"""The verdict of scripts/test.sh: checks what ran against what was expected and prints every
failure once, then the line "N passed, N failed". Exit status 0 only when nothing failed.

A failure is any of:
- a build dir whose list of expected tests (meson test --list, written by test.sh to
  meson-logs/expected-tests.txt) or whose testlog.json is missing or older than --since
  (a stale or absent log never counts as a pass);
- a test of that list with no result in the log, or a result line that started before --since;
- a result other than OK / EXPECTEDFAIL; a SKIP counts as a failure unless the test is listed
  in the declared-skips file (one "test id | reason" a line, see tests/declared-skips.txt);
- a fuzz target (every fuzz/*.c that defines LLVMFuzzerTestOneInput) without an "ok" line in a
  fresh --fuzz-log, or fuzz/run.sh exiting non-zero (a build or setup failure prints no line);
- the format check not "ok" (a missing clang-format is a failure, not a pass);
- each --step-failed message (a build that failed before its tests could run).

Usage (as test.sh calls it):
  test_summary.py --since EPOCH --builddir build --builddir build-asan \
      --fuzz-log build/fuzz.log --fuzz-status 0 --fuzz-sources fuzz --format ok \
      --declared-skips tests/declared-skips.txt
"""
import argparse
import json
import os
import re
import sys

FUZZ_LINE_RE = re.compile(r"^(fuzz_\w+)\s.*?\s(ok|FAILED.*)$")


def read_declared_skips(path):
    """{test id: reason} from lines "id | reason" ('#' starts a comment). A line without a
    reason is an error: a skip must say why."""
    declared = {}
    if not path or not os.path.exists(path):
        return declared
    with open(path) as f:
        for no, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            tid, sep, reason = (s.strip() for s in line.partition("|"))
            if not sep or not tid or not reason:
                raise SystemExit(f"{path}:{no}: expected 'test id | reason', got {line!r}")
            declared[tid] = reason
    return declared


def fresh(path, since):
    return os.path.exists(path) and os.path.getmtime(path) >= since


class Verdict:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def fail(self, what):
        self.failures.append(what)


def check_builddir(v, d, since, declared):
    logs = os.path.join(d, "meson-logs")
    expected_path = os.path.join(logs, "expected-tests.txt")
    log_path = os.path.join(logs, "testlog.json")
    if not fresh(expected_path, since):
        v.fail(f"{d}: no fresh list of expected tests ({expected_path}; setup or build failed?)")
        return
    with open(expected_path) as f:
        expected = [line.strip() for line in f if line.strip()]
    if not expected:
        v.fail(f"{d}: the list of expected tests is empty")
    if not fresh(log_path, since):
        v.fail(f"{d}: no fresh test log ({log_path} is {'stale' if os.path.exists(log_path) else 'missing'})")
        return
    results = {}
    with open(log_path) as f:
        for no, line in enumerate(f, 1):
            try:
                t = json.loads(line)
            except ValueError:
                v.fail(f"{d}: testlog.json line {no} is not JSON (a partial log?)")
                continue
            name = t.get("name")
            if t.get("starttime", 0) < since:
                v.fail(f"{d}: {name}: result from an earlier run (starttime before this run)")
                continue
            results[name] = t.get("result")
    for name in expected:
        result = results.get(name)
        if result is None:
            v.fail(f"{d}: {name}: expected but did not run")
        elif result in ("OK", "EXPECTEDFAIL"):
            v.passed += 1
        elif result == "SKIP":
            reason = declared.get(name)
            if reason is None:
                v.fail(f"{d}: {name}: SKIP without a declared reason (tests/declared-skips.txt)")
            else:
                print(f"skipped {d}: {name} (declared: {reason})")
        else:
            v.fail(f"{d}: {name} ({result})")
    for name in sorted(set(results) - set(expected)):
        v.fail(f"{d}: {name}: ran but is not in the expected list")


def fuzz_targets(sources):
    names = []
    for fn in sorted(os.listdir(sources)):
        if fn.startswith("fuzz_") and fn.endswith(".c"):
            with open(os.path.join(sources, fn), errors="replace") as f:
                if "LLVMFuzzerTestOneInput" in f.read():
                    names.append(fn[:-2])
    return names


def check_fuzz(v, log_path, status, sources, since):
    expected = fuzz_targets(sources)
    if not expected:
        v.fail(f"fuzz: no targets found in {sources}")
    if status != 0:
        v.fail(f"fuzz: fuzz/run.sh exited {status}")
    if not fresh(log_path, since):
        v.fail(f"fuzz: no fresh log {log_path}")
        return
    seen = {}
    with open(log_path, errors="replace") as f:
        for line in f:
            m = FUZZ_LINE_RE.match(line.rstrip("\n"))
            if m:
                seen[m.group(1)] = m.group(2)
    for t in expected:
        r = seen.get(t)
        if r is None:
            v.fail(f"fuzz: {t}: not built or not run")
        elif r == "ok":
            v.passed += 1
        else:
            v.fail(f"fuzz: {t}: {r}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--since", type=float, required=True, help="epoch seconds when this run began")
    ap.add_argument("--builddir", action="append", default=[])
    ap.add_argument("--declared-skips")
    ap.add_argument("--fuzz-log", help="fuzz/run.sh output; omit only when fuzzing was not requested")
    ap.add_argument("--fuzz-status", type=int, default=0)
    ap.add_argument("--fuzz-sources", default="fuzz")
    ap.add_argument("--format", choices=["ok", "failed", "missing"], required=True)
    ap.add_argument("--step-failed", action="append", default=[])
    ap.add_argument("--not-requested", action="append", default=[], help="printed: parts the caller opted out of")
    args = ap.parse_args(argv)

    v = Verdict()
    declared = read_declared_skips(args.declared_skips)
    for msg in args.step_failed:
        v.fail(msg)
    if not args.builddir:
        v.fail("no build dir to check")
    for d in args.builddir:
        check_builddir(v, d, args.since, declared)
    if args.fuzz_log:
        check_fuzz(v, args.fuzz_log, args.fuzz_status, args.fuzz_sources, args.since)
    if args.format == "ok":
        v.passed += 1
    elif args.format == "missing":
        v.fail("clang-format: not installed (scripts/deps.sh test installs it)")
    else:
        v.fail("clang-format: files need formatting")
    for what in args.not_requested:
        print(f"NOT RUN (opted out): {what}")
    for what in v.failures:
        print(f"FAILED {what}")
    print(f"{v.passed} passed, {len(v.failures)} failed")
    return 0 if not v.failures and v.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
