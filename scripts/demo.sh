#!/usr/bin/env bash
# Builds framegate and runs the demo: 4 frameservers on 50051..50054 behind framegate on 8086.
# Open http://localhost:8086/ . Ctrl-C stops everything this script started.
#   NUM_SERVERS=8 START_PORT=50060 WS_PORT=8086 scripts/demo.sh   (defaults: 4, 50051, 8086)
#   scripts/demo.sh --tls   the whole chain encrypted: a local CA made with openssl (in
#                           .run/tls), https/wss to the page, grpcs with mTLS to the backends
#   FG_BUILD_DIR=DIR: use that build as it is (no deps, no build); FRAMEGATE_ARGS: extra flags
set -euo pipefail
cd "$(dirname "$0")/.."

tls=0
case "${1:-}" in
  --tls) tls=1 ;;
  '') ;;
  *) echo "usage: $0 [--tls]" >&2; exit 2 ;;
esac

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

# A CA and two certificates (the servers' for localhost/127.0.0.1, and a client one the proxy
# shows the backends), valid 30 days, made fresh for each run.
make_certs() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 \
    -subj "/CN=framegate demo CA" 2>/dev/null
  local name
  for name in server client; do
    openssl req -newkey rsa:2048 -nodes -keyout "$d/$name.key" -out "$d/$name.csr" \
      -subj "/CN=framegate demo $name" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/$name.ext"
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -out "$d/$name.pem" -days 30 -extfile "$d/$name.ext" 2>/dev/null
  done
}

proxy_tls=()
scheme=http
if [ "$tls" = 1 ]; then
  d=.run/tls
  make_certs "$d"
  export FRAMESERVER_ARGS="${FRAMESERVER_ARGS:-} --tls-cert $d/server.pem --tls-key $d/server.key --tls-client-ca $d/ca.pem"
  export FG_HEALTH_TLS="$d/ca.pem,$d/client.pem,$d/client.key"
  proxy_tls=(--tls-cert "$d/server.pem" --tls-key "$d/server.key"
    --backend-tls --backend-ca "$d/ca.pem" --backend-cert "$d/client.pem" --backend-key "$d/client.key")
  scheme=https
fi

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
  "${proxy_tls[@]}" ${FRAMEGATE_ARGS:-} &
proxy_pid=$!
echo "framegate demo: open $scheme://localhost:$ws_port/  (Ctrl-C to stop)"
[ "$tls" = 1 ] && echo "  the page's certificate is signed by $d/ca.pem: trust it, or accept the warning"
wait "$proxy_pid"
