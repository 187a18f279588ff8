#!/bin/sh
# Starts framegate in front of N backends on consecutive ports (the original's run_multi):
#   scripts/run-multi.sh N [START_PORT]      -> framegate --start-port START_PORT --num-servers N
# The backends themselves are started separately (scripts/start-backends.sh N START_PORT).
# START_PORT defaults to 50051. The binary is ./build/src/proxy/framegate unless FRAMEGATE names
# another; FRAMEGATE_ARGS adds flags (e.g. FRAMEGATE_ARGS="--ws-port 8087 --retries 2").
# The proxy replaces this shell (exec), so Ctrl-C and kill reach it directly.
set -eu

usage() {
	echo "usage: $0 N [START_PORT]   (N backends on START_PORT.., default 50051)" >&2
	exit 2
}

is_uint() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
	return 0
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
n=$1
start=${2:-50051}
if ! is_uint "$n" || [ "$n" -lt 1 ] || [ "$n" -gt 1000 ]; then
	echo "$0: N must be a number from 1 to 1000, not '$n'" >&2
	usage
fi
if ! is_uint "$start" || [ "$start" -lt 1 ] || [ $((start + n - 1)) -gt 65535 ]; then
	echo "$0: START_PORT must be a port so that START_PORT+N-1 <= 65535, not '$start'" >&2
	usage
fi

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FRAMEGATE:-$root/build/src/proxy/framegate}
if [ ! -x "$bin" ]; then
	echo "$0: $bin is not built; run: meson setup build && ninja -C build (or set FRAMEGATE)" >&2
	exit 1
fi

echo "run-multi: framegate for $n backends on localhost:$start..$((start + n - 1))" >&2
# FRAMEGATE_ARGS is split on spaces on purpose: it holds several flags.
# shellcheck disable=SC2086
exec "$bin" --start-port "$start" --num-servers "$n" ${FRAMEGATE_ARGS:-}
