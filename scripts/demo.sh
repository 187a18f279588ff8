#!/usr/bin/env bash
# Builds framegate and runs the demo: 4 frameservers on 50051..50054 behind framegate on 8086.
# Open http://localhost:8086/ . Ctrl-C stops everything this script started.
#   NUM_SERVERS=8 START_PORT=50060 WS_PORT=8086 scripts/demo.sh   (defaults: 4, 50051, 8086)
#   FG_BUILD_DIR=DIR: use that build as it is (no deps, no build); FRAMEGATE_ARGS: extra flags
set -euo pipefail
cd "$(dirname "$0")/.."

build=${FG_BUILD_DIR:-build}
if [ -z "${FG_BUILD_DIR:-}" ]; then
  scripts/deps.sh build
  if [ ! -f build/build.ninja ]; then
    meson setup build -Dtests=false >build.setup.log 2>&1 || { cat build.setup.log; exit 1; }
  fi
  ninja -C build >build.log 2>&1 || { cat build.log; exit 1; }
fi
export FRAMESERVER=${FRAMESERVER:-$build/src/server/frameserver}

n=${NUM_SERVERS:-4}
port=${START_PORT:-50051}
ws_port=${WS_PORT:-8086}

cleanup() {
  trap - INT TERM EXIT
  set +e # stop everything, whatever the proxy's exit status
  if [ -n "${proxy_pid:-}" ]; then
    kill "$proxy_pid" 2>/dev/null
    wait "$proxy_pid" 2>/dev/null
  fi
  scripts/stop-backends.sh
}
trap cleanup INT TERM EXIT

scripts/start-backends.sh "$n" "$port"
# In its own session: Ctrl-C reaches only this script, whose cleanup then sends framegate one
# SIGTERM, the graceful drain (a second signal, the terminal's SIGINT plus ours, means "exit now").
# shellcheck disable=SC2086  # FRAMEGATE_ARGS is a list of flags on purpose
setsid "$build/src/proxy/framegate" --start-port "$port" --num-servers "$n" --ws-port "$ws_port" \
  ${FRAMEGATE_ARGS:-} &
proxy_pid=$!
echo "framegate demo: open http://localhost:$ws_port/  (Ctrl-C to stop)"
wait "$proxy_pid"
