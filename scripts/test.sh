#!/usr/bin/env bash
# Builds framegate and runs every test: unit (cmocka), interop (grpcio, grpc-js), python-kit
# (the Python backend kit), integration (black-box proxy tests), web (node:test, headless
# Chromium), deploy (systemd units, Kubernetes manifests), container (the image from Debian
# packages); then the same suites (but container) under ASan + UBSan, each libFuzzer target for
# 60 s, and the clang-format check.
# Ends with "N passed, N failed".
#   scripts/test.sh            everything
#   FG_SKIP_ASAN=1 FG_FUZZ_SECONDS=0 scripts/test.sh   skip the sanitizer build and fuzzing
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh test || { echo "deps: install failed"; exit 1; }

failed_steps=0
run_suites() { # build dir, meson setup args... (env TEST_ARGS: extra meson test arguments)
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true -Dtests=true "$@" >"$dir.setup.log" 2>&1 \
      || { cat "$dir.setup.log"; return 1; }
  else # the demo may have configured it without tests
    meson configure "$dir" -Dwerror=true -Dtests=true >/dev/null || return 1
  fi
  ninja -C "$dir" || return 1
  meson test -C "$dir" --print-errorlogs --num-processes 2 ${TEST_ARGS:-} || true
}

run_suites build || failed_steps=$((failed_steps + 1))
if [ -z "${FG_SKIP_ASAN:-}" ]; then
  # The browser suite tests the page, not C memory safety; valgrind cannot run ASan binaries;
  # the container suite packages the first build (once is enough).
  TEST_ARGS="--no-suite browser --no-suite valgrind --no-suite container" \
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
    || failed_steps=$((failed_steps + 1))
fi

# Fuzzing: each libFuzzer target for FG_FUZZ_SECONDS (default 60) from its seed corpus.
fuzz_passed=0
fuzz_failed=0
if [ "${FG_FUZZ_SECONDS:-60}" != 0 ]; then
  FUZZ_BUILD_DIR="$root/build-fuzz" fuzz/run.sh "${FG_FUZZ_SECONDS:-60}" | tee build/fuzz.log
  fuzz_passed=$(grep -c '^fuzz_[a-z_]* .* ok$' build/fuzz.log)
  fuzz_failed=$(grep -c '^fuzz_[a-z_]* .*FAILED' build/fuzz.log)
  [ -s build/fuzz.log ] || fuzz_failed=1
fi

format_ok=1
if command -v clang-format >/dev/null; then
  files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench fuzz -name '*.[ch]')
  if [ -n "$files" ] && ! clang-format --dry-run --Werror $files >build/clang-format.log 2>&1; then
    format_ok=0
    echo "clang-format: these files need formatting:"
    grep -o '^[^:]*\.[ch]' build/clang-format.log | sort -u
  fi
fi

/usr/bin/python3 scripts/test_summary.py build $( [ -z "${FG_SKIP_ASAN:-}" ] && echo build-asan ) \
  --extra-passed "$fuzz_passed" --extra-failures $((failed_steps + fuzz_failed + 1 - format_ok))
