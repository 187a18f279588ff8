#!/usr/bin/env bash
# Builds framegate and runs every test: unit (cmocka), interop (grpcio, grpc-js), integration
# (black-box proxy tests), web (node:test, headless Chromium); then the same suites under
# ASan + UBSan, and the clang-format check. Ends with "N passed, N failed".
#   scripts/test.sh            everything
#   FG_SKIP_ASAN=1 scripts/test.sh   skip the sanitizer build (quicker, local use)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh test || { echo "deps: install failed"; exit 1; }

failed_steps=0
run_suites() { # build dir, meson setup args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
  ninja -C "$dir" || return 1
  meson test -C "$dir" --print-errorlogs --num-processes 2 || true
}

run_suites build || failed_steps=$((failed_steps + 1))
if [ -z "${FG_SKIP_ASAN:-}" ]; then
  # The browser suite is left to the plain build: it tests the page, not C memory safety.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
    || failed_steps=$((failed_steps + 1))
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
  --extra-failures $((failed_steps + 1 - format_ok))
