#!/usr/bin/env python3
"""Sums meson's test logs (testlog.json) over build dirs; prints failures and "N passed, N failed".

Exit status 0 only when nothing failed. Extra results (fuzz targets, a failed build, the format check) count too.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddirs", nargs="+")
    ap.add_argument("--extra-passed", type=int, default=0)
    ap.add_argument("--extra-failures", type=int, default=0)
    args = ap.parse_args()
    passed = failed = skipped = 0
    for d in args.builddirs:
        log = os.path.join(d, "meson-logs", "testlog.json")
        if not os.path.exists(log):
            print(f"{d}: no test log (build failed?)")
            failed += 1
            continue
        with open(log) as f:
            for line in f:
                t = json.loads(line)
                result = t.get("result")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed += 1
                    print(f"FAILED {d}: {t.get('name')} ({result})")
    passed += args.extra_passed
    failed += args.extra_failures
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
