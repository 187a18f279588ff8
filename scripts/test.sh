#!/usr/bin/env bash
# Builds framegate and runs every test: unit (cmocka), interop (grpcio, grpc-js), python-kit
# (the Python backend kit), integration (black-box proxy tests), web (node:test, headless
# Chromium), deploy (systemd units, Kubernetes manifests), container (the image from Debian
# packages); then the same suites under ASan + UBSan (all but the browser, valgrind and
# container suites), each libFuzzer target for 60 s, and the clang-format check. scripts/test_summary.py then checks what ran against what was
# expected (every test of `meson test --list` in a fresh log, every fuzz target, the format
# check) and ends with "N passed, N failed"; the exit status is 0 only when nothing failed.
#   scripts/test.sh            everything
#   FG_SKIP_ASAN=1 FG_FUZZ_SECONDS=0 scripts/test.sh   opt out of the sanitizer build and
#                              fuzzing (printed as NOT RUN; CI sets neither)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

scripts/deps.sh test || { echo "deps: install failed"; exit 1; }

since=$(date +%s.%N)
sleep 0.01 # mtimes of this run's files are strictly after $since
summary_args=(--since "$since" --declared-skips tests/declared-skips.txt)
run_suites() { # build dir, meson setup args... (env TEST_ARGS: extra meson test arguments)
  local dir=$1; shift
  summary_args+=(--builddir "$dir")
  # Nothing from an earlier run may be counted: the summary wants these files from this run.
  rm -f "$dir/meson-logs/testlog.json" "$dir/meson-logs/expected-tests.txt"
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true -Dtests=true "$@" >"$dir.setup.log" 2>&1 \
      || { cat "$dir.setup.log"; summary_args+=(--step-failed "$dir: meson setup failed"); return; }
  else # the demo may have configured it without tests
    meson configure "$dir" -Dwerror=true -Dtests=true >/dev/null \
      || { summary_args+=(--step-failed "$dir: meson configure failed"); return; }
  fi
  ninja -C "$dir" || { summary_args+=(--step-failed "$dir: build failed"); return; }
  mkdir -p "$dir/meson-logs"
  # --list may rebuild first; only its "project:suite / name" lines are tests.
  # shellcheck disable=SC2086
  meson test -C "$dir" --list ${TEST_ARGS:-} 2>/dev/null | grep " / " >"$dir/meson-logs/expected-tests.txt" \
    || summary_args+=(--step-failed "$dir: meson test --list failed")
  # The exit status is not needed: the summary reads every result from testlog.json.
  # shellcheck disable=SC2086
  meson test -C "$dir" --print-errorlogs --num-processes 2 ${TEST_ARGS:-}
}

run_suites build
if [ -z "${FG_SKIP_ASAN:-}" ]; then
  # The browser suite tests the page, not C memory safety; valgrind cannot run ASan binaries;
  # the container suite packages the first build (once is enough).
  TEST_ARGS="--no-suite browser --no-suite valgrind --no-suite container" \
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
else
  summary_args+=(--not-requested "the ASan + UBSan build (FG_SKIP_ASAN)")
fi

# Fuzzing: each libFuzzer target for FG_FUZZ_SECONDS (default 60) from its seed corpus. The
# summary wants an "ok" line for every target and run.sh's exit status 0.
if [ "${FG_FUZZ_SECONDS:-60}" != 0 ]; then
  mkdir -p build
  rm -f build/fuzz.log
  FUZZ_BUILD_DIR="$root/build-fuzz" fuzz/run.sh "${FG_FUZZ_SECONDS:-60}" 2>&1 | tee build/fuzz.log
  summary_args+=(--fuzz-log build/fuzz.log --fuzz-status "${PIPESTATUS[0]}" --fuzz-sources fuzz)
else
  summary_args+=(--not-requested "fuzzing (FG_FUZZ_SECONDS=0)")
fi

if ! command -v clang-format >/dev/null; then
  summary_args+=(--format missing)
else
  files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench fuzz -name '*.[ch]')
  if [ -n "$files" ] && ! clang-format --dry-run --Werror $files >build/clang-format.log 2>&1; then
    summary_args+=(--format failed)
    echo "clang-format: these files need formatting:"
    grep -o '^[^:]*\.[ch]' build/clang-format.log | sort -u
  else
    summary_args+=(--format ok)
  fi
fi

exec /usr/bin/python3 scripts/test_summary.py "${summary_args[@]}"
