#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage for all of framegate's code)
# into build-fuzz and runs each for SECONDS (default 60) from its seed corpus in fuzz/corpus.
# Fails on any crash, leak, timeout or sanitizer report; prints executions per target.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]     (env: FUZZ_JOBS, FUZZ_BUILD_DIR, FUZZ_ARGS)
set -eu
seconds=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$src" -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link \
        >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
fi
targets=${*:-$(cd "$build" && meson introspect --targets | /usr/bin/python3 -c '
import json, sys
print(" ".join(sorted(t["name"] for t in json.load(sys.stdin) if t["name"].startswith("fuzz_"))))')}
[ -n "$targets" ] || { echo "fuzz: no targets found in $build"; exit 1; }
# A target that does not build gets a FAILED line (scripts/test_summary.py wants one line per
# target) and the others still run.
built=
unbuilt=
status=0
for t in $targets; do
    if ninja -C "$build" "fuzz/$t" >"$build/$t.build.log" 2>&1; then
        built="$built $t"
    else
        cat "$build/$t.build.log"
        unbuilt="$unbuilt $t"
        status=1
    fi
done

# Work copies of the corpus: new inputs the fuzzer finds stay out of the committed seeds.
work="$build/fuzz-work"
mkdir -p "$work"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
printf '%-12s %10s %8s %6s  %s\n' target execs exec/s cov result
for t in ${unbuilt:-}; do
    printf '%-12s %10s %8s %6s  %s\n' "$t" - - - "FAILED (build, log $build/$t.build.log)"
done
for t in $built; do
    corpus="$work/$t"
    mkdir -p "$corpus" "$work/$t-crashes"
    cp -n "$src/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
    log="$work/$t.log"
    failed=0
    # -timeout: one input running for 10 s is a stall; -rss_limit_mb bounds memory per input run.
    if "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t-crashes/" ${FUZZ_ARGS:-} \
        "$corpus" >"$log" 2>&1; then
        result=ok
    else
        failed=1
        result="FAILED (log $log, reproducer in $work/$t-crashes/)"
        status=1
    fi
    if [ $failed -eq 0 ] && grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer\|libFuzzer\)\|runtime error:" "$log"; then
        result="FAILED: sanitizer report in $log"
        status=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-12s %10s %8s %6s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
done
exit $status
