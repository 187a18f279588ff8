#!/bin/sh
# Issue 6 §4: a representative subset of the integration tests with framegate under valgrind
# memcheck (every other process runs natively). Fails if a test fails, if any framegate run
# reports a memory error or a definite leak, or if valgrind did not finish a run (killed).
#   scripts/valgrind-integration.sh [BUILD_DIR]   (default: $FG_BUILD_DIR, else build)
# A non-ASan build is needed: valgrind cannot run ASan binaries (exit 77: skipped).
# Registered as the meson test 'valgrind-integration' (suite valgrind).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${FG_BUILD_DIR:-$src/build}}" && pwd) || exit 1
bin="$build/src/proxy/framegate"
# Not test_balance: it times a backend's loading window, which valgrind's slowdown can miss.
tests="http ws_errors front_http front_ws front_drain faults fault_kill load_1000"

[ -x "$bin" ] || { echo "valgrind-integration: $bin is not built"; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind-integration: valgrind missing (scripts/deps.sh)"; exit 1; }
if readelf -d "$bin" | grep -q 'libasan'; then
    echo "valgrind-integration: $bin is an ASan build; valgrind cannot run it: skipped"
    exit 77
fi

logs=$(mktemp -d /tmp/fg-valgrind.XXXXXX)
trap 'rm -rf "$logs"' EXIT
# --error-exitcode as well: a run that reports errors also exits 99 (its own log says so).
export FRAMEGATE_WRAPPER="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30 \
--log-file=$logs/framegate.%p.log"
export FG_BUILD_DIR="$build" FG_SOURCE_DIR="$src" PYTHONDONTWRITEBYTECODE=1

files=""
for t in $tests; do files="$files test_$t.py"; done
cd "$src/tests/integration" || exit 1
/usr/bin/python3 -m pytest -q -p no:cacheprovider $files
pytest_status=$?

runs=0
bad=0
for log in "$logs"/framegate.*.log; do
    [ -e "$log" ] || continue
    runs=$((runs + 1))
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
        bad=$((bad + 1))
        if grep -q 'ERROR SUMMARY' "$log"; then
            echo "----- valgrind errors: $log"
        else
            echo "----- valgrind did not finish (framegate killed?): $log"
        fi
        cat "$log"
    fi
done
echo "valgrind-integration: $runs framegate runs under memcheck, $bad with errors; pytest exit $pytest_status"
[ "$runs" -gt 0 ] || { echo "valgrind-integration: no framegate ran under valgrind"; exit 1; }
[ "$bad" -eq 0 ] && [ "$pytest_status" -eq 0 ]
